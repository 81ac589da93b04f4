"""What the workers did lately, kept in Redis for the admin views and charts.

arq keeps each job's own state and result, but no way to ask "what finished in the last
hour" without reading every key. So each worker, as a job ends, adds to two small records,
in one round trip:

    coach:job-outcomes:<minute>   hash "<function>:<outcome>" -> count, expires after 2 h
    coach:jobs:recent             list of "<job id>\t<function>", newest first, capped

A job is listed there once it has run (each try moves it to the front); until then, and
while it runs, it is in arq's queue, which the job list reads first. The service lists a
job it is cancelling at once (`record_started`): one aborted before it started would
otherwise be listed nowhere.

Both are best effort: a lost write only makes a chart a little low, never fails a job.
"""

from __future__ import annotations

import time
from typing import Literal

from pydantic import BaseModel
from redis.asyncio import Redis

Outcome = Literal["complete", "failed", "retried", "cancelled"]
OUTCOMES: tuple[Outcome, ...] = ("complete", "failed", "retried", "cancelled")
RECENT_KEY = "coach:jobs:recent"
RECENT_KEEP = 500
BUCKET_KEEP_SECONDS = 2 * 3600
WINDOW_MINUTES = 60


def bucket_key(minute: int) -> str:
    return f"coach:job-outcomes:{minute}"


def current_minute(now: float | None = None) -> int:
    return int((now if now is not None else time.time()) // 60)


async def record_started(redis: Redis, job_id: str, function: str) -> None:
    async with redis.pipeline(transaction=False) as pipe:
        pipe.lrem(RECENT_KEY, 0, f"{job_id}\t{function}")  # a retry moves it to the front
        pipe.lpush(RECENT_KEY, f"{job_id}\t{function}")
        pipe.ltrim(RECENT_KEY, 0, RECENT_KEEP - 1)
        await pipe.execute()


async def record_ended(redis: Redis, job_id: str | None, function: str, outcome: Outcome) -> None:
    """A try of a job ended: counted in its minute, and the job at the front of the recent
    list (a job without an id, run outside arq, is counted only)."""
    key = bucket_key(current_minute())
    async with redis.pipeline(transaction=False) as pipe:
        if job_id:
            pipe.lrem(RECENT_KEY, 0, f"{job_id}\t{function}")
            pipe.lpush(RECENT_KEY, f"{job_id}\t{function}")
            pipe.ltrim(RECENT_KEY, 0, RECENT_KEEP - 1)
        pipe.hincrby(key, f"{function}:{outcome}", 1)
        pipe.expire(key, BUCKET_KEEP_SECONDS)
        await pipe.execute()


async def recent_jobs(redis: Redis, limit: int = RECENT_KEEP) -> list[tuple[str, str]]:
    """(job id, function), newest first."""
    rows: list[bytes | str] = await redis.lrange(RECENT_KEY, 0, limit - 1)  # type: ignore[misc]  # redis-py types sync and async as one
    pairs = [(r.decode() if isinstance(r, bytes) else r).split("\t", 1) for r in rows]
    return [(p[0], p[1]) for p in pairs if len(p) == 2]


class MinuteOutcomes(BaseModel):
    minute_start: int  # unix seconds
    complete: int = 0
    failed: int = 0
    retried: int = 0
    cancelled: int = 0


async def last_hour(redis: Redis, now: float | None = None) -> tuple[list[MinuteOutcomes], dict[str, dict[str, int]]]:
    """Per minute, oldest first, all functions together; and per function, the hour's totals."""
    last = current_minute(now)
    minutes = list(range(last - WINDOW_MINUTES + 1, last + 1))
    async with redis.pipeline(transaction=False) as pipe:
        for minute in minutes:
            pipe.hgetall(bucket_key(minute))
        buckets = await pipe.execute()
    series: list[MinuteOutcomes] = []
    totals: dict[str, dict[str, int]] = {}
    for minute, bucket in zip(minutes, buckets, strict=True):
        row = MinuteOutcomes(minute_start=minute * 60)
        for field, count in bucket.items():
            function, _, outcome = (field.decode() if isinstance(field, bytes) else field).rpartition(":")
            if outcome not in OUTCOMES:
                continue
            setattr(row, outcome, getattr(row, outcome) + int(count))
            per_function = totals.setdefault(function, {o: 0 for o in OUTCOMES})
            per_function[outcome] += int(count)
        series.append(row)
    return series, totals
