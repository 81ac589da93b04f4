"""Browser sign-in for the product's own pages (the admin dashboard; the chat page reuses it).

The cookie holds the same signed access token the API hands out, so a browser session is an
ordinary login session: revoked by logout, checked against `sessions` on every request,
expiring with the token. The cookie is HttpOnly (scripts cannot read it), SameSite=Strict
(other sites' requests do not carry it), Secure over HTTPS, and scoped to the whole site
because the pages' scripts call the JSON API with it.

Cross-site request forgery: besides SameSite, every state-changing request made with the
cookie must carry an Origin (or, failing that, Referer) naming this very site. Browsers
send Origin on every cross-origin and every same-origin POST/DELETE, so a forged form or
fetch from elsewhere is refused even by a browser that ignores SameSite. Requests with a
Bearer token are not cookie-borne and need no such check.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.requests import HTTPConnection, Request
from starlette.responses import Response

from service.errors import ApiError
from service.principal import Principal, authenticate, bearer_token

COOKIE = "coach_session"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def set_session_cookie(response: Response, request: Request, token: str, max_age: int) -> None:
    response.set_cookie(
        COOKIE, token, max_age=max_age, path="/", httponly=True, samesite="strict", secure=request.url.scheme == "https"
    )


def clear_session_cookie(response: Response) -> None:
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")


def cookie_token(conn: HTTPConnection) -> str | None:
    return conn.cookies.get(COOKIE) or None


def same_origin(request: Request) -> bool:
    """Does the request say it comes from a page of this site?"""
    claimed = request.headers.get("origin")
    if not claimed or claimed == "null":
        referer = request.headers.get("referer")
        if not referer:
            return False
        parts = urlsplit(referer)
        claimed = f"{parts.scheme}://{parts.netloc}"
    host = request.headers.get("host", "")
    return claimed.lower() in {f"{request.url.scheme}://{host}".lower()}


def check_origin(request: Request) -> None:
    if request.method not in SAFE_METHODS and not same_origin(request):
        raise ApiError(403, "cross-site request refused: the Origin header must name this site")


async def require_caller(request: Request) -> Principal:
    """The caller, by Bearer token or, for the product's pages, by session cookie."""
    token = bearer_token(request)
    if token is not None:
        return await authenticate(request, token)
    cookie = cookie_token(request)
    if cookie is not None:
        check_origin(request)
        return await authenticate(request, cookie)
    return await authenticate(request, None)  # "missing access token"
