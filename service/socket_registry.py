"""Which chat sockets (and reply SSE streams) are open in this process, and the logout signal
that closes them on all.

A logout publishes the session id on one Redis channel; every service process listens in a
background task and closes that session's sockets with 4401 and ends its SSE streams
(service/routes/replies.py's LogoutWatch). The listener is supervised:
any failure (Redis restarted, network) is logged and it resubscribes with backoff. Logouts
published while a process was not subscribed are still caught: each chat message
re-checks the session before it is answered.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from typing import Protocol

from redis.asyncio import Redis

from shared.redis_structures.unavailable import REDIS_DOWN

log = logging.getLogger(__name__)

LOGOUT_CHANNEL = "chat:logout"
CLOSE_UNAUTHORIZED = 4401


class Closable(Protocol):
    def request_close(self, code: int, reason: str) -> None: ...


class SocketRegistry:
    def __init__(self) -> None:
        self._by_session: dict[str, set[Closable]] = defaultdict(set)

    def add(self, session_id: str, socket: Closable) -> None:
        self._by_session[session_id].add(socket)

    def remove(self, session_id: str, socket: Closable) -> None:
        sockets = self._by_session.get(session_id)
        if sockets is not None:
            sockets.discard(socket)
            if not sockets:
                del self._by_session[session_id]

    def close_session(self, session_id: str, code: int, reason: str) -> int:
        sockets = list(self._by_session.get(session_id, ()))
        for socket in sockets:
            socket.request_close(code, reason)
        return len(sockets)


async def publish_logout(redis: Redis, session_id: str) -> None:
    """Best effort: with Redis down the session is still revoked in MongoDB, and its sockets
    close at their next message instead of at once."""
    try:
        await redis.publish(LOGOUT_CHANNEL, session_id)
    except REDIS_DOWN as exc:
        log.warning("logout of session %s not broadcast, Redis unavailable: %s", session_id, exc)


async def listen_for_logouts(redis_url: str, registry: SocketRegistry, connect_timeout: float) -> None:
    """Run for the life of the process; never returns except by cancellation.

    An outage is logged once when it starts and once when the listener is subscribed again,
    not on every retry: the log of a long Redis outage stays readable.
    """
    backoff, lost = 0.1, False
    while True:
        # Its own connection without a read time-out: a subscriber waits as long as it must.
        # TCP keep-alive notices a peer that vanished; a unix socket has no such option.
        keepalive = {} if redis_url.startswith("unix://") else {"socket_keepalive": True}
        redis = Redis.from_url(redis_url, socket_connect_timeout=connect_timeout, **keepalive)
        pubsub = redis.pubsub(ignore_subscribe_messages=True)
        try:
            await pubsub.subscribe(LOGOUT_CHANNEL)
            backoff = 0.1
            if lost:
                log.warning("logout listener subscribed again; logouts close sockets on this process again")
                lost = False
            async for message in pubsub.listen():
                if message["type"] == "message":
                    registry.close_session(message["data"].decode(), CLOSE_UNAUTHORIZED, "session has been logged out")
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the supervisor: whatever broke, listen again
            if not lost:
                log.warning(
                    "logout listener: Redis unavailable (%s); resubscribing with backoff up to 5 s "
                    "(meanwhile a logged-out socket is closed at its next message)",
                    exc,
                )
                lost = True
        finally:
            await pubsub.aclose()
            await redis.aclose()
        await asyncio.sleep(backoff)
        backoff = min(backoff * 2, 5.0)
