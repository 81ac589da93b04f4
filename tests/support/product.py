"""The service on loopback with the chat queue's worker beside it: what answers a chat.

Replies are written by the worker (worker/reply.py), so a service alone accepts messages
and then waits forever; every test that chats starts both, sharing one database client.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from service.app import create_app
from shared.process.settings import Settings
from tests.support.client import Api
from tests.support.running_worker import running_worker
from tests.support.servers import serve_app


@contextlib.asynccontextmanager
async def serve_product(settings: Settings, mongo_client: Any) -> AsyncIterator[Api]:
    async with serve_app(create_app(settings, mongo_client=mongo_client)) as url:
        async with running_worker(settings, mongo_client, queues="chat"), Api(url) as api:
            yield api
