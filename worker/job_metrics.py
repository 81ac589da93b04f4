"""Around every job: Prometheus counters and duration, the admin views' history in Redis,
and the job's context on every log line it writes."""

from __future__ import annotations

import asyncio
import contextvars
import functools
import inspect
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from shared.process import metrics
from shared.process.log_format import bind_log_context, log_context
from shared.queue.arq_adapter.job_api import Retry
from shared.queue.job_history import Outcome, record_ended
from worker.context import job_context

log = logging.getLogger(__name__)

Job = Callable[..., Awaitable[Any]]
# What a job says of how it went (a reply: its size, model, tokens, timings), said on the
# job's one line as it ends rather than on a line of its own: a line per job.
_notes: contextvars.ContextVar[list[str] | None] = contextvars.ContextVar("job_line_notes", default=None)
HISTORY_TIMEOUT_SECONDS = 1.0
# One warning a minute at most: with Redis away every job would otherwise add a line.
HISTORY_WARNING_EVERY_SECONDS = 60.0
_last_warning = -HISTORY_WARNING_EVERY_SECONDS


async def best_effort(write: Awaitable[None]) -> None:
    """History is for people looking at charts: a slow or absent Redis must not hold a job up,
    but the charts going blank is said in the log."""
    global _last_warning
    try:
        async with asyncio.timeout(HISTORY_TIMEOUT_SECONDS):
            await write
    except Exception as exc:  # noqa: BLE001 - anything at all: the job's own outcome matters, not this
        now = time.monotonic()
        if now - _last_warning >= HISTORY_WARNING_EVERY_SECONDS:
            _last_warning = now
            log.warning("job history not written (the admin views' charts miss it): %s: %s", type(exc).__name__, exc)
        else:
            log.debug("job history not written: %s", exc)


def note_on_job_line(text: str) -> None:
    """Add `text` to the running job's line; outside a job it is a line of its own."""
    notes = _notes.get()
    if notes is None:
        log.info("%s", text)
    else:
        notes.append(text)


def observe_job(name: str, job: Job) -> Job:
    label = metrics.function_label(name)
    parameters = inspect.signature(job).parameters

    @functools.wraps(job)
    async def observed(ctx: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        # user_id / session_id by parameter name, for jobs that take them.
        named = dict(zip(list(parameters)[1:], args, strict=False)) | kwargs
        context = job_context(ctx)
        redis = context.resources.redis
        token = bind_log_context(
            job_id=context.job_id, function=name, user_id=named.get("user_id"), session_id=named.get("session_id")
        )
        metrics.JOBS_STARTED.labels(label).inc()
        enqueued = context.enqueued_at
        queued = max(0.0, time.time() - enqueued.timestamp()) if enqueued is not None else 0.0
        notes: list[str] = []
        notes_token = _notes.set(notes)
        started = time.perf_counter()
        outcome: Outcome = "failed"
        try:
            result = await job(ctx, *args, **kwargs)
            outcome = "complete"
            return result
        except Retry:
            outcome = "retried"
            raise
        except asyncio.CancelledError:
            outcome = "cancelled"
            raise
        finally:
            duration = time.perf_counter() - started
            metrics.JOB_DURATION.labels(label).observe(duration)
            COUNTERS[outcome].labels(label).inc()
            # The job's one line (arq's own per-job lines are left out: arq_adapter/job_lines.py).
            _notes.reset(notes_token)
            log.info(
                "job %s %s in %.3f s (%s, try %d, queued %.3f s)%s",
                name,
                outcome,
                duration,
                context.job_id,
                context.job_try,
                queued,
                "".join(f"; {note}" for note in notes),
                extra={"duration": round(duration, 4)},
            )
            # Shielded: a cancelled job's outcome is still worth recording. One round trip at
            # the end: a running job is listed from arq's queue meanwhile.
            await asyncio.shield(best_effort(record_ended(redis, context.job_id, name, outcome)))
            log_context.reset(token)

    return observed


COUNTERS: dict[Outcome, Any] = {
    "complete": metrics.JOBS_COMPLETED,
    "failed": metrics.JOBS_FAILED,
    "retried": metrics.JOBS_RETRIED,
    "cancelled": metrics.JOBS_CANCELLED,
}
