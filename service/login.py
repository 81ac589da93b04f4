"""Opening a login session: what the JSON login and the browser's form login both do."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from starlette.requests import Request

from service.client_address import client_address
from service.credentials import issue_token
from service.principal import Unauthorized
from service.resources import resources_of
from shared.store import sessions
from shared.store.users import find_by_email

BAD_CREDENTIALS = "invalid email or password"


@dataclass(frozen=True)
class OpenedSession:
    token: str
    session_id: str
    user_id: str
    ttl: timedelta


async def open_session(request: Request, email: str, password: str) -> OpenedSession:
    """Check the password (throttled) and open a session; Unauthorized if wrong."""
    state = resources_of(request)
    # Throttled before the password is checked: a refused guess costs no argon2 work.
    attempt = state.login_throttle.attempt_for(client_address(request), email)
    await state.login_throttle.admit(attempt)
    user = await find_by_email(state.db, email)
    if not await state.passwords.verify(user["password_hash"] if user else None, password):
        await state.login_throttle.failed(attempt)
        raise Unauthorized(BAD_CREDENTIALS)
    await state.login_throttle.succeeded(attempt)
    now = datetime.now(UTC)
    ttl = timedelta(seconds=state.settings.access_token_ttl_seconds)
    assert user is not None  # verify() refuses a missing user
    session_id = await sessions.open_session(state.db, user["_id"], now, ttl)
    return OpenedSession(issue_token(state.jwt_secret, user["_id"], session_id, now, ttl), session_id, user["_id"], ttl)


async def revoke_session(request: Request, user_id: str, session_id: str) -> None:
    """Close a login session (the browser's sign-out); the token dies with it."""
    await sessions.revoke_if_open(resources_of(request).db, user_id, session_id, datetime.now(UTC))
