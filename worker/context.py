"""What a job reads instead of arq's ctx dict.

arq calls every job with one `dict[str, Any]`: its own keys (the pool, the job's id and try)
and what on_startup stored (worker/resources.py). Each job's first line turns it into a
`JobContext`, so what a job uses is named and typed, and a missing resource fails at once
with a clear message instead of as a KeyError deep in the job.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from shared.queue.arq_adapter.job_api import job_run_of
from worker.resources import WorkerResources, worker_resources


@dataclass(frozen=True)
class JobContext:
    resources: WorkerResources
    job_id: str | None  # None when the job is called outside arq (a test, a bench)
    job_try: int  # 1 on the first try
    enqueued_at: datetime | None = None  # None when the job is called outside arq


def job_context(ctx: Mapping[str, Any]) -> JobContext:
    run = job_run_of(ctx)
    return JobContext(resources=worker_resources(ctx), job_id=run.job_id, job_try=run.job_try, enqueued_at=run.enqueued_at)
