"""Our real worker (ResilientWorker, every option) on the test's event loop and Redis.

`wait_for` is re-exported from tests/support/waiting.py, where it lives.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import AsyncIterator
from typing import Any

from shared.queue.arq_adapter.worker import ResilientWorker
from tests.support.waiting import wait_for
from worker.resilient import Queues, create_worker


@contextlib.asynccontextmanager
async def running_worker(settings: Any, mongo_client: Any, queues: Queues = "background") -> AsyncIterator[ResilientWorker]:
    """The background queue's worker by default; the `api` fixture runs the chat queue's."""
    worker = create_worker(
        settings, queues=queues, ctx={"settings": settings, "mongo_client": mongo_client}, handle_signals=False
    )
    task = asyncio.create_task(worker.async_run())
    try:

        def started() -> bool:
            assert not task.done(), task.exception()
            return bool(worker._last_heartbeat)

        await wait_for(started, 30, every=0.02, what="the worker's first heartbeat")
        yield worker
    finally:
        # Jobs still running (a reply the test left half-read) are cancelled, as a crash
        # would; arq's close alone would re-raise their CancelledError here.
        worker.handle_sig(signal.SIGUSR1)
        await asyncio.gather(*worker.tasks.values(), return_exceptions=True)
        worker.tasks.clear()
        await worker.close()
        with contextlib.suppress(asyncio.CancelledError):
            await task


__all__ = ["running_worker", "wait_for"]
