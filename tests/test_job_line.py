"""What every job leaves behind as it ends (worker/job_metrics.py): one log line saying
which job, which try, how long it queued and ran, how it ended and what the job noted of
itself (a reply: its size, model, tokens and timings); and its history
(shared/queue/job_history.py) written in one round trip."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from redis.asyncio import Redis

from shared.queue.job_history import RECENT_KEY, bucket_key, current_minute, recent_jobs
from tests.support.job_ctx import job_ctx
from tests.support.settings import make_settings
from worker.job_metrics import note_on_job_line, observe_job


class CountingPipelines:
    """A Redis client that counts the pipelines it sends (each one round trip)."""

    def __init__(self, redis: Redis) -> None:
        self.redis, self.pipelines = redis, 0

    def pipeline(self, *args: Any, **kwargs: Any) -> Any:
        self.pipelines += 1
        return self.redis.pipeline(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:  # the rest as the client's
        return getattr(self.redis, name)


async def test_a_job_writes_one_line_and_its_history_in_one_round_trip(redis_url, caplog):
    async def job(ctx: dict[str, Any], user_id: str) -> str:
        note_on_job_line(f"answered {user_id}")  # what a reply says of itself goes on the same line
        return user_id

    redis = Redis.from_url(redis_url)
    counting = CountingPipelines(redis)
    ctx = job_ctx(make_settings(redis_url), None, counting, job_id="ping:j1", job_try=2)
    ctx["enqueue_time"] = datetime.now(UTC) - timedelta(seconds=3)  # as arq's run_job adds it
    try:
        await redis.delete(RECENT_KEY, bucket_key(current_minute()))
        with caplog.at_level(logging.INFO, logger="worker.job_metrics"):
            assert await observe_job("ping", job)(ctx, "u1") == "u1"
        assert counting.pipelines == 1
        assert await recent_jobs(redis) == [("ping:j1", "ping")]
        assert await redis.hget(bucket_key(current_minute()), "ping:complete") == b"1"
    finally:
        await redis.aclose()
    [line] = [r.getMessage() for r in caplog.records if r.name == "worker.job_metrics"]
    assert line.startswith("job ping complete in ") and "(ping:j1, try 2, queued 3." in line, line
    assert line.endswith(" s); answered u1"), line


def test_a_note_outside_any_job_is_a_line_of_its_own(caplog):
    with caplog.at_level(logging.INFO, logger="worker.job_metrics"):
        note_on_job_line("reply r1 done: 5 chars")
    assert [r.getMessage() for r in caplog.records] == ["reply r1 done: 5 chars"]
