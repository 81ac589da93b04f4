"""`/`: the coaching app in the browser. A static page and JavaScript modules (static/chat/);
everything it shows comes from the JSON API, called with the session cookie.

Only the two steps that touch the cookie live here: sign-in sets it (the token goes into an
HttpOnly cookie, never to the page's scripts) and sign-out revokes the session exactly as
the API's logout does (sockets closed, extraction queued) and clears it. Both refuse
requests from other sites (service/browser_session.py).
"""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from service.api_docs import CROSS_SITE, Answer, documented, error, html, ok
from service.browser_session import check_origin, clear_session_cookie, cookie_token, set_session_cookie
from service.errors import parse_body
from service.login import open_session
from service.routes.auth import close_session
from service.routes.auth_schemas import Credentials, LoggedOut, SignedIn

STATIC = Path(__file__).parent / "static" / "chat"
# The page loads only its own files: no inline script, nothing from elsewhere.
CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'"


@documented(
    "GET", "the chat page (HTML; its scripts call this API with the session cookie)", {200: html("the page")}, access="public"
)
async def page(request: Request) -> Response:
    return FileResponse(STATIC / "index.html", headers={"Content-Security-Policy": CSP, "Cache-Control": "no-cache"})


@documented("GET", "the app's icon (SVG)", {200: Answer("the icon", media="image/svg+xml")}, access="public")
async def favicon(request: Request) -> Response:
    # Browsers ask for /favicon.ico whatever the page links; the page's own SVG answers it.
    return FileResponse(STATIC / "favicon.svg", media_type="image/svg+xml", headers={"Cache-Control": "max-age=86400"})


@documented(
    "POST",
    "the chat page's sign-in: sets the HttpOnly session cookie (no token in the body)",
    {
        200: ok(SignedIn, "signed in"),
        401: error("wrong email or password"),
        403: CROSS_SITE,
        429: error("too many failed logins from this address or for this account", retry_after=True),
    },
    body=Credentials,
    access="public",
)
async def sign_in(request: Request) -> JSONResponse:
    check_origin(request)  # no signing a victim into an attacker's account from elsewhere
    body = await parse_body(request, Credentials)
    opened = await open_session(request, body.email, body.password)  # 401 wrong, 429 throttled
    response = JSONResponse(SignedIn(user_id=opened.user_id, email=body.email).model_dump())
    set_session_cookie(response, request, opened.token, int(opened.ttl.total_seconds()))
    return response


@documented(
    "POST",
    "the chat page's sign-out: revokes the session, closes its sockets, queues its extraction, clears the cookie",
    {200: ok(LoggedOut, "signed out"), 401: error("missing, invalid, expired or revoked session"), 403: CROSS_SITE},
    access="public",
)
async def sign_out(request: Request) -> JSONResponse:
    check_origin(request)
    response = JSONResponse(await close_session(request, cookie_token(request)))
    clear_session_cookie(response)
    return response


def chat_page_routes() -> list[Route | Mount]:
    return [
        Route("/", page),
        Route("/favicon.ico", favicon),
        Route("/app/login", sign_in, methods=["POST"]),
        Route("/app/logout", sign_out, methods=["POST"]),
        Mount("/app/static", StaticFiles(directory=STATIC), name="chat-static"),
    ]
