"""Every frame a chat socket receives costs one: per socket, and per user across processes.

`message` frames also count against CHAT_MESSAGES_PER_MINUTE, but before this nothing
counted the rest: a user's `resume` frames were relayed 6,400 a second (issue 25). Each
frame takes one token from the socket's own bucket (in this process: no round trip) and then
from the user's bucket in Redis (shared by every service process). A socket over its own
budget does not reach Redis at all. With Redis away the user's bucket fails open, as the
socket count does (service/chat_limits.py).
"""

from __future__ import annotations

import logging
import math
import time

from redis.asyncio import Redis

from shared.process.cap_warning import CapWarning
from shared.process.settings import Settings
from shared.redis_structures.rate_limit import TokenBucket
from shared.redis_structures.unavailable import REDIS_DOWN

log = logging.getLogger(__name__)

PERIOD_SECONDS = 60.0


class SocketBucket:
    """A token bucket for one socket, in memory: `capacity` frames, refilled over a minute."""

    def __init__(self, capacity: int) -> None:
        self.capacity = float(capacity)
        self.rate = capacity / PERIOD_SECONDS
        self.tokens = float(capacity)
        self.at = time.monotonic()

    def take(self) -> float:
        """0 when taken; else the seconds until a token is back."""
        now = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / self.rate


class FrameBudgets:
    """One per service process: the per-user bucket and what every socket's bucket holds."""

    def __init__(self, redis: Redis, settings: Settings) -> None:
        self.per_socket = settings.ws_frames_per_minute_per_socket
        self.per_user = settings.ws_frames_per_minute_per_user
        self.users = TokenBucket(redis, "chat:frames", self.per_user, PERIOD_SECONDS)
        self.refusals = CapWarning(log, "chat socket frames over WS_FRAMES_PER_MINUTE_PER_SOCKET or _PER_USER")
        self.redis_down = CapWarning(log, "chat frame budget per user not enforced, Redis unavailable")

    def for_socket(self) -> SocketBucket:
        return SocketBucket(self.per_socket)

    async def take(self, socket: SocketBucket, user_id: str) -> tuple[int, str] | None:
        """None when the frame may be answered; else (seconds to wait, whose budget is spent)."""
        wait = socket.take()
        if wait:
            self.refusals.hit()
            return math.ceil(wait), f"at most {self.per_socket} frames a minute per socket"
        try:
            decision = await self.users.take(user_id)
        except REDIS_DOWN as exc:
            self.redis_down.hit(str(exc))
            return None
        if decision.allowed:
            return None
        self.refusals.hit()
        return decision.retry_after_seconds, f"at most {self.per_user} frames a minute per user"
