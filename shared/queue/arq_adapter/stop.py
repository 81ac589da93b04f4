"""Stopping the in-process arq worker the way SIGTERM stops a standalone one.

`Worker.close()` alone cancels every running job at once and then re-raises the first
job's CancelledError, which ended a busy all-in-one's Ctrl-C in a traceback. Here the
worker stops taking jobs, running ones get WORKER_SHUTDOWN_GRACE_SECONDS (arq's
`job_completion_wait`), arq cancels what is left (a cancelled job goes back to the queue),
and only then is the worker closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal

from arq import Worker

log = logging.getLogger(__name__)


async def stop_worker(worker: Worker, worker_task: asyncio.Task[None]) -> None:
    if worker.main_task is None:  # stopped before it started
        worker_task.cancel()
    elif not worker_task.done():
        # arq's own graceful path: it cancels its main task once jobs are done or the grace is over.
        worker.handle_sig_wait_for_completion(signal.SIGTERM)
    try:
        await worker_task
    except asyncio.CancelledError:
        pass
    except Exception as exc:  # noqa: BLE001 - the worker died earlier; shut the rest down anyway
        log.error("the worker had stopped with an error: %s: %s", type(exc).__name__, exc)
    # Jobs cancelled at the end of the grace are over; their CancelledError is expected.
    await asyncio.gather(*worker.tasks.values(), return_exceptions=True)
    worker.tasks.clear()
    with contextlib.suppress(asyncio.CancelledError):
        await worker.close()
