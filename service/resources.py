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
from starlette.requests import HTTPConnection

from service.chat_limits import ChatLimits
from service.credentials import Passwords
from service.login_throttle import LoginThrottle
from service.registration_throttle import RegistrationThrottle
from service.socket_registry import SocketRegistry
from service.stream_limits import StreamLimits
from shared.process.resources import Store
from shared.process.settings import Settings
from shared.queue.arq_adapter.pool import QueuePool
from shared.redis_structures.idempotency import IdempotencyKeys
from shared.redis_structures.live_limits import LiveLimits
from shared.redis_structures.reply_lease import ReplyLease
from shared.redis_structures.reply_stream import ReplyStreams
from shared.redis_structures.user_events import UserEvents
from shared.store.mongo import Database


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
    stream_limits: StreamLimits  # the open reply streams, per user and in all

    @property
    def settings(self) -> Settings:
        return self.core.settings

    @property
    def db(self) -> Database:
        return self.core.db

    def publish(self, state: State) -> None:
        """Put the resources on `app.state` as one typed object; routes read it through
        `resources_of(request)`, never by loose attribute."""
        state.resources = self


def resources_of(conn: HTTPConnection) -> ServiceResources:
    """The service's resources, typed: the one way a route or a socket reaches them."""
    found = getattr(conn.app.state, "resources", None)
    if not isinstance(found, ServiceResources):
        raise RuntimeError("the service's resources are not open: is the app's lifespan running?")
    return found


async def cancel_and_wait(task: asyncio.Task[Any]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
