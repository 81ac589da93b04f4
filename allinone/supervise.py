"""Run the web service and the worker side by side, and never serve with a dead worker.

If the worker task ends while the service is up (an error it could not ride out; Redis
outages it does ride out, see worker/resilient.py), a service that kept answering would
accept logouts whose jobs nothing runs. So the launcher logs why, stops the service
gracefully, and the process exits non-zero for its supervisor to restart it.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import uvicorn

from shared.queue.arq_adapter.stop import stop_worker
from shared.queue.arq_adapter.worker import ResilientWorker

log = logging.getLogger("allinone")

WORKER_DIED_EXIT_CODE = 3


async def serve_beside_worker(server: uvicorn.Server, worker: ResilientWorker) -> int:
    """Serve until uvicorn stops (a signal) or the worker dies. Returns the exit code."""
    died: list[str] = []

    def stop_serving_if_worker_died(task: asyncio.Task[Any]) -> None:
        error = None if task.cancelled() else task.exception()
        why = f"{type(error).__name__}: {error}" if error else "it was cancelled" if task.cancelled() else "it returned"
        died.append(why)
        log.error("the worker stopped (%s); stopping the service too rather than serve without it", why, exc_info=error)
        server.should_exit = True

    worker_task = asyncio.create_task(worker.async_run(), name="worker")
    worker_task.add_done_callback(stop_serving_if_worker_died)
    try:
        # In this task, not another: uvicorn re-raises SIGTERM/SIGINT when it is done, and
        # that must unwind through the `finally` below.
        await server.serve()
    finally:
        worker_task.remove_done_callback(stop_serving_if_worker_died)
        # Stops taking jobs, lets running ones finish within the grace, closes Redis; a
        # cancelled job's CancelledError does not escape as a traceback.
        await stop_worker(worker, worker_task)
    return WORKER_DIED_EXIT_CODE if died else 0
