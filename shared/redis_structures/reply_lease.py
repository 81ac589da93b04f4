"""One reply in flight per session, across every service process and the workers.

The service takes the session's lease for the new reply's id when it accepts a message (a
second message meanwhile is refused as `busy`); the worker frees it when the reply ends,
whatever the ending. The lease lapses on its own after the job time limit (times the tries,
plus the retry waits) so a reply whose worker died cannot hold its session forever.

Redis away: `take` raises, and the message is refused `unavailable` at once (the reply would
be queued and streamed through that Redis, so there is nothing to fail open to). `free`
logs and lets the lease lapse.
"""

from __future__ import annotations

import logging

from redis.asyncio import Redis

from shared.process.settings import Settings
from shared.redis_structures.rate_limit import LeaseSemaphore
from shared.redis_structures.unavailable import REDIS_DOWN

log = logging.getLogger(__name__)


class ReplyLease:
    def __init__(self, redis: Redis, settings: Settings) -> None:
        self._lease = LeaseSemaphore(redis, "chat:replying", 1, settings.job_budget_seconds)

    async def take(self, session_id: str, reply_id: str) -> bool:
        """True if the session had no reply in flight; raises REDIS_DOWN with Redis away."""
        return await self._lease.acquire(session_id, reply_id)

    async def free(self, session_id: str, reply_id: str) -> None:
        try:
            await self._lease.release(session_id, reply_id)
        except REDIS_DOWN as exc:  # it lapses on its own
            log.warning("could not free the reply lease of session %s: %s", session_id, exc)
