"""Open reply streams (SSE) per user and per session, counted in Redis as sockets are.

One signed-in user opened 2,000 streams on one reply and slowed everyone (issue 25). Each
stream now holds a lease under its user (`MAX_STREAMS_PER_USER`) and under its session
(`MAX_STREAMS_PER_SESSION`, so one device cannot take all of a user's places); the next is
answered 429. Leases are refreshed in one loop per process while their streams are open,
so a process that dies frees its streams' places within `WS_LEASE_SECONDS`. With Redis away
streams fail open, as sockets do (service/chat_limits.py), with one warning a minute.
"""

from __future__ import annotations

import asyncio
import logging

from redis.asyncio import Redis

from shared.process.cap_warning import CapWarning
from shared.process.settings import Settings
from shared.redis_structures.rate_limit import LeaseSemaphore
from shared.redis_structures.stream_reader import raise_if_cancelled
from shared.redis_structures.unavailable import REDIS_DOWN

log = logging.getLogger(__name__)


class StreamLimits:
    def __init__(self, redis: Redis, settings: Settings) -> None:
        lease = settings.ws_lease_seconds
        self.users = LeaseSemaphore(redis, "chat:streams:user", settings.max_streams_per_user, lease)
        self.sessions = LeaseSemaphore(redis, "chat:streams:session", settings.max_streams_per_session, lease)
        self.refresh_every = lease / 3
        self.held: dict[str, tuple[str, str]] = {}  # holder -> (user id, session id)
        self.refusals = CapWarning(log, "reply streams over MAX_STREAMS_PER_USER or MAX_STREAMS_PER_SESSION (429)")
        self.redis_down = CapWarning(log, "reply streams per user not counted, Redis unavailable")
        # Streams often end together (a reply's `done` ends all its followers): their places
        # are given back one at a time, on one connection, not on one each.
        self._releasing = asyncio.Lock()

    async def open(self, user_id: str, session_id: str, holder: str) -> str | None:
        """Take a place for one stream: None when taken, else why not."""
        try:
            if not await self.users.acquire(user_id, holder):
                self.refusals.hit(f"{len(self.held)} streams open in this process")
                return f"at most {self.users.limit} open reply streams per user; close one first"
            if not await self.sessions.acquire(session_id, holder):
                await self.users.release(user_id, holder)
                self.refusals.hit(f"{len(self.held)} streams open in this process")
                return f"at most {self.sessions.limit} open reply streams per session; close one first"
        except REDIS_DOWN as exc:
            self.redis_down.hit(str(exc))
        self.held[holder] = (user_id, session_id)
        return None

    async def close(self, holder: str) -> None:
        user_id, session_id = self.held.pop(holder, ("", ""))
        if not user_id:
            return
        try:
            async with self._releasing:
                await self.users.release(user_id, holder)
                await self.sessions.release(session_id, holder)
        except REDIS_DOWN as exc:
            self.redis_down.hit(str(exc))  # the leases lapse on their own

    async def keep_forever(self) -> None:
        """Refresh every open stream's leases; one that lapsed (Redis restarted) is taken again."""
        while True:
            await asyncio.sleep(self.refresh_every)
            raise_if_cancelled()  # a cancel redis-py swallowed in the last round
            for holder, (user_id, session_id) in list(self.held.items()):
                try:
                    for semaphore, key in ((self.users, user_id), (self.sessions, session_id)):
                        if not await semaphore.refresh(key, holder):
                            await semaphore.acquire(key, holder)
                except REDIS_DOWN as exc:
                    self.redis_down.hit(str(exc))
                    break
