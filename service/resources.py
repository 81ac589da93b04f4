"""What the service holds for its lifetime, as one typed object on `app.state.resources`.

Made in the app's lifespan (service/app.py) on top of `shared/process/resources.py`'s store (settings
and MongoDB; no LLM client, since every LLM call is a worker job); the lifespan's exit stack
is the one owner that closes them.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from typing import Any

from starlette.datastructures import State

from service.chat_limits import ChatLimits
from service.credentials import Passwords
from service.login_throttle import LoginThrottle
from service.registration_throttle import RegistrationThrottle
from service.socket_registry import SocketRegistry
from shared.process.resources import Store
from shared.queue.arq_adapter.pool import QueuePool
from shared.redis_structures.idempotency import IdempotencyKeys
from shared.redis_structures.live_limits import LiveLimits
from shared.redis_structures.reply_lease import ReplyLease
from shared.redis_structures.reply_stream import ReplyStreams
from shared.redis_structures.user_events import UserEvents


@dataclass(frozen=True)
class ServiceResources:
    core: Store
    arq: QueuePool
    jwt_secret: str
    passwords: Passwords
    chat_limits: ChatLimits
    login_throttle: LoginThrottle
    registration_throttle: RegistrationThrottle
    sockets: SocketRegistry
    reply_streams: ReplyStreams  # on STREAMS_REDIS_URL
    reply_lease: ReplyLease
    idempotency_keys: IdempotencyKeys
    user_events: UserEvents  # on STREAMS_REDIS_URL
    live_limits: LiveLimits  # the limits an admin changes at run time; chat_limits reads them too

    def publish(self, state: State) -> None:
        """Put the resources on `app.state`: whole as `state.resources`, and each one by name,
        which is how the routes read them (`request.app.state.db`)."""
        state.resources = self
        state.settings, state.db = self.core.settings, self.core.db
        state.arq, state.jwt_secret, state.passwords = self.arq, self.jwt_secret, self.passwords
        state.chat_limits, state.login_throttle, state.sockets = self.chat_limits, self.login_throttle, self.sockets
        state.reply_streams, state.reply_lease = self.reply_streams, self.reply_lease
        state.idempotency_keys, state.user_events = self.idempotency_keys, self.user_events
        state.live_limits = self.live_limits
        state.registration_throttle = self.registration_throttle


async def cancel_and_wait(task: asyncio.Task[Any]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
