"""One retry policy for every job, and dead letters for what still fails.

arq alone retries only when a job raises `Retry`, has no backoff, treats its own time-out
as final and forgets failed jobs. `reliable(job)` wraps a job so that:
- transient failures (LLM 429/529/5xx, LLM time-outs and lost connections, MongoDB
  unreachable, Redis unreachable, the job running past its time) raise `Retry` with exponential backoff and
  full jitter, at least the provider's `retry-after`, at most RETRY_CAP_SECONDS;
- on the last try, or at once for a permanent failure (LLM 4xx, output still broken after
  one repair, arguments the job does not take), the job is written to `failed_jobs` and
  fails; the worker carries on with its other jobs;
- a requeued dead letter that then succeeds is marked resolved;
- a job the LLM traffic control holds back (LLMDeferred: the shared rate budget is spent
  for longer than LLM_MAX_WAIT_SECONDS, or the user's daily token budget is) is deferred
  by that long and its try handed back: waiting for budget never uses up tries, and never
  ends in the dead letters.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import logging
import random
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from pymongo.errors import ConnectionFailure
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from shared.llm import LLMDeferred, LLMTransientError
from shared.process.settings import Settings
from shared.queue.arq_adapter.control import hand_back_try as arq_hand_back_try
from shared.queue.arq_adapter.job_api import Retry
from shared.store.dead_letters import dead_letter_of, record_dead_letter, resolve
from worker.context import JobContext, job_context
from worker.job_metrics import observe_job

log = logging.getLogger(__name__)

Job = Callable[..., Awaitable[Any]]


class JobArgumentsError(TypeError):
    """The job was enqueued with arguments it does not take (say, by an older deploy)."""


def backoff_seconds(
    job_try: int, settings: Settings, retry_after: float | None = None, rng: random.Random | None = None
) -> float:
    """Full jitter: uniform in [0, min(cap, base * 2^(try-1))], raised to retry-after, capped."""
    ceiling = min(settings.retry_cap_seconds, settings.retry_base_seconds * 2 ** (job_try - 1))
    delay = (rng or random).uniform(0, ceiling)
    if retry_after is not None:
        delay = max(delay, retry_after)
    return min(delay, settings.retry_cap_seconds)


def is_transient(exc: BaseException) -> bool:
    # Redis errors: a job that enqueues a follow-up (a summary) while Redis restarts.
    return isinstance(exc, LLMTransientError | ConnectionFailure | TimeoutError | RedisConnectionError | RedisTimeoutError)


async def write_dead_letter(context: JobContext, name: str, args: tuple[Any, ...], kwargs: dict[str, Any], error: str) -> None:
    try:
        await record_dead_letter(
            context.resources.db, name, context.job_id, args, kwargs, context.job_try, error, datetime.now(UTC)
        )
    except Exception:  # the database may be what failed; the log keeps the record then
        log.exception("could not store dead letter for %s%r: %s", name, args, error)


async def hand_back_try(context: JobContext) -> None:
    """arq counts a try at each pickup (INCR of its retry key); take this one back."""
    if context.job_id:
        await arq_hand_back_try(context.resources.redis, context.job_id)


def reliable(job: Job) -> Job:
    signature = inspect.signature(job)
    name = job.__name__

    @functools.wraps(job)
    async def run(ctx: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        context = job_context(ctx)
        settings, job_try = context.resources.settings, context.job_try
        try:
            signature.bind(ctx, *args, **kwargs)
        except TypeError as exc:
            error = f"{name} does not take these arguments: {exc}"
            await write_dead_letter(context, name, args, kwargs, error)
            raise JobArgumentsError(error) from None
        try:
            # Our own time limit, inside arq's, so that running long is a retry, not the end.
            async with asyncio.timeout(settings.job_timeout_seconds):
                result = await job(ctx, *args, **kwargs)
        except Retry:
            raise
        except LLMDeferred as exc:
            await hand_back_try(context)
            delay = exc.retry_after + random.uniform(0, 1)  # jitter: deferred together, not back together
            log.info("%s deferred %.1fs, try not counted: %s", name, delay, exc)
            raise Retry(defer=delay) from exc
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            if is_transient(exc) and job_try < settings.job_max_tries:
                delay = backoff_seconds(job_try, settings, getattr(exc, "retry_after", None))
                log.warning("%s try %d/%d failed (%s); retrying in %.2fs", name, job_try, settings.job_max_tries, error, delay)
                raise Retry(defer=delay) from exc
            log.error("%s failed for good after %d tries: %s", name, job_try, error)
            await write_dead_letter(context, name, args, kwargs, error)
            raise
        dead = dead_letter_of(context.job_id)
        if dead is not None:
            await resolve(context.resources.db, dead, datetime.now(UTC))
        return result

    return observe_job(name, run)
