"""Password hashing (argon2) and access tokens (JWT, HS256): the primitives only.

(Checking a caller against their session is service/principal.py; the endpoints service/routes/auth.py.)

A token names its user (`sub`) and its login session (`jti`); the session record in MongoDB
is what makes logout stick, so a stolen token dies with its session.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerifyMismatchError
from starlette.concurrency import run_in_threadpool

JWT_ALGORITHM = "HS256"


# The longest password the service takes (a 422 past it, service/routes/auth_schemas.py), so argon2
# never hashes more than 4 KiB of UTF-8 per attempt.
MAX_PASSWORD_CHARS = 1_024


class Passwords:
    """argon2id hashing at a configured cost (argon2-cffi's defaults unless told otherwise).

    Each hash holds `memory_kib` for its whole run, so at most `concurrency` run at once:
    64 concurrent logins would otherwise hold 64 x 64 MiB. The rest wait their turn (in
    arrival order: asyncio.Semaphore is fair), they do not fail.

    Logins of existing accounts go before registrations: a registration must first take one
    of `concurrency // 2` (at least 1) registration places, and only then queues for a
    hashing slot. So however many registrations arrive, at most that many are ever ahead of
    a login in the queue or using a slot, and a flood of sign-ups cannot starve sign-ins.
    """

    def __init__(self, time_cost: int, memory_kib: int, concurrency: int) -> None:
        self.hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_kib)
        self.slots = asyncio.Semaphore(concurrency)
        self.registration_places = asyncio.Semaphore(max(1, concurrency // 2))
        # Verifying against this when the email is unknown keeps login time the same either
        # way, so response time does not reveal which emails are registered.
        self.dummy_hash = self.hasher.hash("not-a-real-password")

    async def hash(self, password: str) -> str:
        """Hash a new account's password (a registration: behind the logins, see above)."""
        if len(password) > MAX_PASSWORD_CHARS:
            raise ValueError(f"passwords are at most {MAX_PASSWORD_CHARS} characters")
        # argon2 is deliberately CPU-heavy; a worker thread keeps it off the event loop.
        async with self.registration_places, self.slots:
            return await run_in_threadpool(self.hasher.hash, password)

    async def verify(self, password_hash: str | None, password: str) -> bool:
        if len(password) > MAX_PASSWORD_CHARS:
            return False

        def verify() -> bool:
            try:
                return self.hasher.verify(password_hash or self.dummy_hash, password) and password_hash is not None
            except (VerifyMismatchError, InvalidHashError):
                return False

        async with self.slots:
            return await run_in_threadpool(verify)


def issue_token(secret: str, user_id: str, session_id: str, issued_at: datetime, ttl: timedelta) -> str:
    claims = {"sub": user_id, "jti": session_id, "iat": issued_at, "exp": issued_at + ttl}
    return jwt.encode(claims, secret, algorithm=JWT_ALGORITHM)


class TokenError(Exception):
    pass


def read_token(secret: str, token: str) -> tuple[str, str]:
    """(user_id, session_id) of a well-signed, unexpired token; TokenError says why not."""
    try:
        claims = jwt.decode(token, secret, algorithms=[JWT_ALGORITHM], options={"require": ["exp", "sub", "jti"]})
    except jwt.ExpiredSignatureError:
        raise TokenError("token has expired") from None
    except jwt.InvalidTokenError:
        raise TokenError("token is invalid") from None
    return str(claims["sub"]), str(claims["jti"])
