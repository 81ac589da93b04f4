"""Our real worker (ResilientWorker, every option) on the test's event loop and Redis."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import AsyncIterator
from typing import Any

from shared.queue.arq_adapter.worker import ResilientWorker
from worker.resilient import Queues, create_worker


@contextlib.asynccontextmanager
async def running_worker(settings: Any, mongo_client: Any, queues: Queues = "background") -> AsyncIterator[ResilientWorker]:
    """The background queue's worker by default; the `api` fixture runs the chat queue's."""
    worker = create_worker(
        settings, queues=queues, ctx={"settings": settings, "mongo_client": mongo_client}, handle_signals=False
    )
    task = asyncio.create_task(worker.async_run())
    try:
        for _ in range(250):
            if worker._last_heartbeat:
                break
            assert not task.done(), task.exception()
            await asyncio.sleep(0.02)
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


async def wait_for(check: Any, seconds: float = 10.0, every: float = 0.05) -> Any:
    """Poll an async check until it returns something truthy; fail after `seconds`."""
    for _ in range(int(seconds / every)):
        value = await check()
        if value:
            return value
        await asyncio.sleep(every)
    raise AssertionError(f"not true within {seconds} s: {check}")
