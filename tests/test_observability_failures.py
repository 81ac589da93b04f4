"""What the metrics and the job history do when their sources fail: report it, never fail
the scrape or the job."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any

from prometheus_client import REGISTRY, generate_latest
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError

from allinone.redis_process import free_port
from service.metrics_endpoint import refreshed
from tests.support.job_ctx import job_ctx
from tests.support.settings import make_settings
from worker.job_metrics import observe_job


async def test_a_source_that_fails_is_reported_down_and_the_scrape_goes_on():
    async def unreachable(state):
        raise RedisConnectionError("Connection refused")

    async def fine(state):
        return None

    state = SimpleNamespace(settings=SimpleNamespace(redis_timeout_seconds=0.1))
    await refreshed("redis", unreachable, state)
    assert 'coach_metrics_source_up{source="redis"} 0.0' in generate_latest(REGISTRY).decode()
    await refreshed("redis", fine, state)
    assert 'coach_metrics_source_up{source="redis"} 1.0' in generate_latest(REGISTRY).decode()


@contextlib.asynccontextmanager
async def ctx_without_redis(**arq_keys: Any) -> AsyncIterator[dict[str, Any]]:
    """A job's ctx whose Redis is not there: every command fails as it does when the server is gone."""
    url = f"redis://127.0.0.1:{free_port()}/0"
    redis = Redis.from_url(url)
    try:
        yield job_ctx(make_settings(url), None, redis, **arq_keys)
    finally:
        await redis.aclose()


async def test_a_job_runs_and_returns_while_its_history_cannot_be_written():
    async def job(ctx, user_id, session_id):
        return {"done": user_id}

    observed = observe_job("extract_session_context", job)
    before = REGISTRY.get_sample_value("coach_jobs_completed_total", {"function": "extract_session_context"}) or 0
    async with ctx_without_redis(job_id="j1") as ctx:
        result = await observed(ctx, "u1", "s1")
    assert result == {"done": "u1"}
    assert REGISTRY.get_sample_value("coach_jobs_completed_total", {"function": "extract_session_context"}) == before + 1


async def test_an_unknown_function_name_is_counted_as_other():
    async def job(ctx):
        return None

    before = REGISTRY.get_sample_value("coach_jobs_started_total", {"function": "other"}) or 0
    async with ctx_without_redis() as ctx:
        await observe_job("made_up_by_an_old_deploy", job)(ctx)
    assert REGISTRY.get_sample_value("coach_jobs_started_total", {"function": "other"}) == before + 1
