"""The /api/v1/auth endpoints: register, log in, log out, and who am I.

(Who is calling is decided in service/principal.py; this module only answers HTTP.)
"""

from __future__ import annotations

from datetime import UTC, datetime

from pymongo.errors import DuplicateKeyError
from starlette.requests import Request
from starlette.responses import JSONResponse

from service.api_docs import documented, error, ok
from service.client_address import client_address
from service.enqueue import enqueue_extraction
from service.errors import ApiError, parse_body
from service.login import open_session
from service.principal import (
    Unauthorized,
    authenticate,
    bearer_token,
    require_principal,
    token_principal,
)
from service.resources import resources_of
from service.routes.auth_schemas import Credentials, LoggedIn, LoggedOut, Me, Registered, SessionInfo
from service.socket_registry import publish_logout
from shared.store import sessions
from shared.store.job_owners import record_job_owner
from shared.store.users import create_user, find_by_id


@documented(
    "POST",
    "create an account",
    {
        201: ok(Registered, "created"),
        409: error("email already registered"),
        429: error("too many registrations from this address (REGISTRATIONS_PER_HOUR_PER_ADDRESS)", retry_after=True),
    },
    body=Credentials,
    access="public",
)
async def register(request: Request) -> JSONResponse:
    body = await parse_body(request, Credentials)
    # Counted before the hash: a refused registration costs no argon2 work.
    await resources_of(request).registration_throttle.admit(client_address(request))
    password_hash = await resources_of(request).passwords.hash(body.password)
    try:
        user_id = await create_user(resources_of(request).db, body.email, password_hash, datetime.now(UTC))
    except DuplicateKeyError:
        raise ApiError(409, "email is already registered", [{"field": "email", "message": "already registered"}]) from None
    return JSONResponse({"user_id": user_id}, status_code=201)


@documented(
    "POST",
    "open a session",
    {
        200: ok(LoggedIn, "logged in"),
        401: error("wrong email or password"),
        429: error("too many failed logins from this address or for this account", retry_after=True),
    },
    body=Credentials,
    access="public",
)
async def login(request: Request) -> JSONResponse:
    body = await parse_body(request, Credentials)
    opened = await open_session(request, body.email, body.password)
    return JSONResponse(
        {
            "access_token": opened.token,
            "token_type": "bearer",
            "expires_in": int(opened.ttl.total_seconds()),
            "session_id": opened.session_id,
        }
    )


@documented("POST", "close the session and queue its extraction", {200: ok(LoggedOut, "logged out")})
async def logout(request: Request) -> JSONResponse:
    return JSONResponse(await close_session(request, bearer_token(request)))


async def close_session(request: Request, token: str | None) -> dict[str, str]:
    """Revoke the token's session, close its sockets, queue its extraction (the API's logout
    and the chat page's sign-out, service/chat_page.py)."""
    principal = token_principal(request, token)
    state = resources_of(request)
    now = datetime.now(UTC)
    # One statement checks the session and revokes it: durable in MongoDB before anything
    # else, so the token is dead even if the enqueue below fails, and a racing second
    # logout finds nothing to revoke.
    if not await sessions.revoke_if_open(state.db, principal.user_id, principal.session_id, now):
        await authenticate(request, token)  # says exactly why (unknown, logged out, expired)
        raise Unauthorized("session has been logged out")  # lost a race with another logout
    # Open chat sockets of this session, on any service process, close with 4401.
    await publish_logout(state.arq, principal.session_id)
    job_id = await enqueue_extraction(state, principal.user_id, principal.session_id)
    await record_job_owner(state.db, job_id, principal.user_id)
    return {"status": "logged_out", "session_id": principal.session_id, "job_id": job_id}


@documented("GET", "the caller", {200: ok(Me, "the caller")})
async def me(request: Request) -> JSONResponse:
    principal = await require_principal(request)
    user = await find_by_id(resources_of(request).db, principal.user_id)
    if user is None:
        raise Unauthorized("user no longer exists")
    return JSONResponse(
        {
            "user_id": principal.user_id,
            "email": user["email"],
            "session_id": principal.session_id,
            "created_at": user["created_at"].isoformat(),
        }
    )


@documented("GET", "is this token still good (authentication only)", {200: ok(SessionInfo, "valid")})
async def session(request: Request) -> JSONResponse:
    """Is this token still good? Authentication and nothing else."""
    principal = await require_principal(request)
    return JSONResponse({"user_id": principal.user_id, "session_id": principal.session_id})
