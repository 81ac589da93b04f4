"""Run the real arq worker against the test's Redis until its queue is empty."""

from __future__ import annotations

from typing import Any

from arq import Worker

from shared.process.settings import Settings
from worker.arq_options import worker_options


async def drain_queue(settings: Settings, mongo_client: Any, **overrides: Any) -> Worker:
    options = worker_options(settings)
    options["ctx"] = {"settings": settings, "mongo_client": mongo_client}
    options.update(overrides)
    worker = Worker(**options, burst=True, handle_signals=False)
    try:
        await worker.main()
    finally:
        await worker.close()
    return worker
