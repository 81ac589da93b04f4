"""The chat's limits, shared by every service process through Redis.

- messages per user per minute (`CHAT_MESSAGES_PER_MINUTE`, a token bucket): every message
  a client sends counts, answered or refused as busy; an admin may change the figure at run
  time (shared/redis_structures/live_limits.py), and each message takes the figure in force;
- frames of every kind per socket and per user (service/frame_budget.py);
- open sockets per user (`MAX_SOCKETS_PER_USER`): each socket holds a lease it refreshes
  while open, so a process that dies frees its sockets' places within `WS_LEASE_SECONDS`;
(One reply in flight per session is shared/redis_structures/reply_lease.py: the worker frees it.)

When Redis cannot be reached, sockets fail open: they are accepted, and a warning is logged
(at most one every `WARN_EVERY_SECONDS`, so a flood cannot flood the log too). A message
cannot: its reply is queued and streamed through Redis, so `take_message` raises and the
message is refused `unavailable` after one Redis wait, not after every later step has
waited out its own (service/reply_start.py).
"""

from __future__ import annotations

import logging
import time

from redis.asyncio import Redis

from service.frame_budget import FrameBudgets
from shared.process.settings import Settings
from shared.redis_structures.live_limits import LiveLimits
from shared.redis_structures.rate_limit import Decision, LeaseSemaphore, TokenBucket
from shared.redis_structures.unavailable import REDIS_DOWN

log = logging.getLogger(__name__)

WARN_EVERY_SECONDS = 10.0


class ChatLimits:
    def __init__(self, redis: Redis, settings: Settings, live_limits: LiveLimits | None = None) -> None:
        self.live_limits = live_limits or LiveLimits(redis, settings)
        self.messages = TokenBucket(redis, "chat:messages", settings.chat_messages_per_minute, 60)
        self.sockets = LeaseSemaphore(redis, "chat:sockets", settings.max_sockets_per_user, settings.ws_lease_seconds)
        self.frames = FrameBudgets(redis, settings)
        self.refresh_every = settings.ws_lease_seconds / 3
        self._warned_at = float("-inf")

    def _redis_down(self, what: str, exc: BaseException) -> None:
        now = time.monotonic()
        if now - self._warned_at >= WARN_EVERY_SECONDS:
            self._warned_at = now
            log.warning("chat limits not enforced (%s), Redis unavailable: %s", what, exc)

    async def take_message(self, user_id: str) -> Decision:
        """Raises REDIS_DOWN with Redis away (see above)."""
        limits = await self.live_limits.current(strict=True)
        self.messages.resize(limits.chat_messages_per_minute)
        return await self.messages.take(user_id)

    @property
    def messages_per_minute(self) -> int:
        """The figure the last message was held to (for the refusal's text)."""
        return int(self.messages.capacity)

    async def open_socket(self, user_id: str, socket_id: str) -> bool:
        try:
            return await self.sockets.acquire(user_id, socket_id)
        except REDIS_DOWN as exc:
            self._redis_down("sockets per user", exc)
            return True

    async def keep(self, user_id: str, socket_id: str) -> None:
        """Refresh this socket's lease; one that lapsed (Redis restarted, say) is taken again."""
        try:
            if not await self.sockets.refresh(user_id, socket_id):
                await self.sockets.acquire(user_id, socket_id)
        except REDIS_DOWN as exc:
            self._redis_down("lease refresh", exc)

    async def close_socket(self, user_id: str, socket_id: str) -> None:
        try:
            await self.sockets.release(user_id, socket_id)
        except REDIS_DOWN as exc:
            self._redis_down("sockets per user", exc)
