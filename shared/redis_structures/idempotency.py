"""Idempotency keys: a resent POST with the same `Idempotency-Key` gets the first answer.

One Redis key per (user, route, client key). The first request claims it with a short
`pending` marker (SET NX), so a resend racing it is told the first is still running (409)
instead of doing the work twice; its 2xx answer then replaces the marker and is kept
IDEMPOTENCY_TTL_SECONDS (24 h). A refusal (429, 503, a 4xx) is not kept: the marker is
dropped, so the same key can be sent again once the refusal's cause has passed. A key sent
again with a different body is a client bug: 422, never the other body's answer.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from pydantic import BaseModel
from redis.asyncio import Redis

# Longest a first request may hold its key before a resend may try again: far above any
# chat POST (their Redis and MongoDB steps are bounded by REDIS_TIMEOUT_SECONDS and so on).
PENDING_SECONDS = 60


class Answer(BaseModel):
    """What the first request was answered (kept) or that it is still running (status None)."""

    fingerprint: str
    status: int | None = None
    body: str = ""


@dataclass(frozen=True)
class Claimed:
    """This request is the first with its key: do the work, then `keep` or `drop`."""


@dataclass(frozen=True)
class Replay:
    status: int
    body: str


@dataclass(frozen=True)
class StillRunning:
    """The first request with this key has not answered yet."""


@dataclass(frozen=True)
class OtherBody:
    """The key was used before with a different request body."""


Outcome = Claimed | Replay | StillRunning | OtherBody


def fingerprint(method: str, path: str, body: bytes) -> str:
    return hashlib.sha256(b"%s %s\n%s" % (method.encode(), path.encode(), body)).hexdigest()


class IdempotencyKeys:
    def __init__(self, redis: Redis, ttl_seconds: int) -> None:
        self.redis = redis
        self.ttl_seconds = ttl_seconds

    @staticmethod
    def _key(user_id: str, route: str, client_key: str) -> str:
        # Hashed: the client's key is any visible ASCII up to 255 characters.
        return f"idempotency:{user_id}:{route}:{hashlib.sha256(client_key.encode()).hexdigest()}"

    async def claim(self, user_id: str, route: str, client_key: str, print_: str) -> Outcome:
        """Raises REDIS_DOWN with Redis away."""
        key = self._key(user_id, route, client_key)
        pending = Answer(fingerprint=print_).model_dump_json()
        if await self.redis.set(key, pending, nx=True, ex=PENDING_SECONDS):
            return Claimed()
        raw = await self.redis.get(key)
        if raw is None:  # the first one's refusal dropped it just now: claim it again
            return Claimed() if await self.redis.set(key, pending, nx=True, ex=PENDING_SECONDS) else StillRunning()
        answer = Answer.model_validate_json(raw)
        if answer.fingerprint != print_:
            return OtherBody()
        if answer.status is None:
            return StillRunning()
        return Replay(answer.status, answer.body)

    async def keep(self, user_id: str, route: str, client_key: str, print_: str, status: int, body: str) -> None:
        answer = Answer(fingerprint=print_, status=status, body=body)
        await self.redis.set(self._key(user_id, route, client_key), answer.model_dump_json(), ex=self.ttl_seconds)

    async def drop(self, user_id: str, route: str, client_key: str) -> None:
        await self.redis.delete(self._key(user_id, route, client_key))
