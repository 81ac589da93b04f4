"""Who is calling: a signed token whose login session is still open in MongoDB.

(The /auth HTTP endpoints are service/routes/auth.py; hashing and signing are service/credentials.py.)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from starlette.requests import HTTPConnection

from service.cookie_auth import check_origin, cookie_token
from service.credentials import TokenError, read_token
from service.errors import ApiError
from service.resources import resources_of
from shared.store.sessions import why_not_valid


@dataclass(frozen=True)
class Principal:
    user_id: str
    session_id: str


class Unauthorized(ApiError):
    def __init__(self, detail: str) -> None:
        super().__init__(401, detail)


def token_principal(conn: HTTPConnection, token: str | None) -> Principal:
    """Who a well-signed, unexpired token names; the session is not checked yet."""
    if not token:
        raise Unauthorized("missing access token")
    try:
        user_id, session_id = read_token(resources_of(conn).jwt_secret, token)
    except TokenError as exc:
        raise Unauthorized(str(exc)) from None
    return Principal(user_id=user_id, session_id=session_id)


async def authenticate(conn: HTTPConnection, token: str | None) -> Principal:
    state = resources_of(conn)
    principal = token_principal(conn, token)
    user_id, session_id = principal.user_id, principal.session_id
    refusal = await why_not_valid(state.db, user_id, session_id, datetime.now(UTC))
    if refusal is not None:
        raise Unauthorized(refusal)
    return principal


def bearer_token(conn: HTTPConnection) -> str | None:
    scheme, _, value = conn.headers.get("authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


async def require_principal(conn: HTTPConnection) -> Principal:
    """The caller, by Bearer token or, for the product's pages, by their session cookie;
    a state-changing request made with the cookie must name this site (service/cookie_auth.py)."""
    token = bearer_token(conn)
    if token is not None:
        return await authenticate(conn, token)
    cookie = cookie_token(conn)
    if cookie is not None:
        check_origin(conn)
        return await authenticate(conn, cookie)
    return await authenticate(conn, None)  # "missing access token"
