"""The session cookie of the product's pages, and the cross-site check for requests carrying it.

Its own module so that `service/principal.py` (every API route's authentication) and
`service/browser_session.py` (setting and clearing the cookie) can both use it.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.requests import HTTPConnection

from service.errors import ApiError

COOKIE = "coach_session"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def cookie_token(conn: HTTPConnection) -> str | None:
    return conn.cookies.get(COOKIE) or None


def same_origin(conn: HTTPConnection) -> bool:
    """Does the request say it comes from a page of this site?"""
    claimed = conn.headers.get("origin")
    if not claimed or claimed == "null":
        referer = conn.headers.get("referer")
        if not referer:
            return False
        parts = urlsplit(referer)
        claimed = f"{parts.scheme}://{parts.netloc}"
    host = conn.headers.get("host", "")
    return claimed.lower() in {f"{conn.url.scheme}://{host}".lower()}


def check_origin(conn: HTTPConnection) -> None:
    """State-changing requests made with the cookie must name this site (CSRF)."""
    method = conn.scope.get("method", "GET")
    if method not in SAFE_METHODS and not same_origin(conn):
        raise ApiError(403, "cross-site request refused: the Origin header must name this site")
