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

from starlette.requests import Request
from starlette.responses import Response

from service.cookie_auth import COOKIE, SAFE_METHODS, check_origin, cookie_token, same_origin
from service.principal import require_principal

__all__ = [
    "COOKIE",
    "SAFE_METHODS",
    "check_origin",
    "clear_session_cookie",
    "cookie_token",
    "require_caller",
    "same_origin",
    "set_session_cookie",
]


def set_session_cookie(response: Response, request: Request, token: str, max_age: int) -> None:
    response.set_cookie(
        COOKIE, token, max_age=max_age, path="/", httponly=True, samesite="strict", secure=request.url.scheme == "https"
    )


def clear_session_cookie(response: Response) -> None:
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")


# Every API route takes the cookie (service/principal.py: require_principal); the old name stays.
require_caller = require_principal
