"""`/readyz` tells the truth about MongoDB, Redis and the workers; heartbeats say who consumes."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import httpx
import redis.asyncio as aioredis

from allinone.redis_process import free_port
from service.app import create_app
from shared.queue.heartbeats import WorkerHeartbeat, index_key, list_workers, write_heartbeat
from tests.support.running_worker import running_worker
from tests.support.servers import serve_app
from tests.support.settings import make_settings


async def readyz(url: str) -> httpx.Response:
    async with httpx.AsyncClient() as http:
        return await http.get(f"{url}/readyz")


async def test_readyz_is_503_naming_the_workers_when_no_worker_beats(api):
    response = await readyz(api.base_url)
    assert response.status_code == 503
    assert response.json() == {
        "status": "unavailable",
        # The `api` fixture runs the chat queue's worker only: no background worker beats.
        "checks": {"mongodb": "ok", "redis": "ok", "workers": "no fresh heartbeat (0 workers)", "chat_workers": "ok"},
        "fresh_workers": 0,
    }
    # Liveness is another question: the process answers.
    assert (await api.http.get("/healthz")).status_code == 200


async def test_readyz_is_200_while_a_worker_beats_and_503_once_it_stops(api, settings, mongo_client):
    beating = settings.model_copy(update={"worker_heartbeat_seconds": 0.2})
    async with running_worker(beating, mongo_client, queues="background") as worker:
        response = await readyz(api.base_url)
        assert response.status_code == 200, response.text
        assert response.json() == {
            "status": "ready",
            "checks": {"mongodb": "ok", "redis": "ok", "workers": "ok", "chat_workers": "ok"},
            "fresh_workers": 1,
        }
        [status] = await list_workers(api_redis := aioredis.from_url(settings.redis_url), settings.queue_name)
        assert status.worker_id == worker.worker_id and status.queue_name == settings.queue_name and not status.stale
        assert status.pid == worker.pid and status.jobs_in_flight == 0
    # A worker that stops cleanly takes its record with it.
    assert await list_workers(api_redis, settings.queue_name) == []
    await api_redis.aclose()
    assert (await readyz(api.base_url)).json()["checks"]["workers"] == "no fresh heartbeat (0 workers)"


async def test_readyz_is_503_naming_redis_when_redis_does_not_answer(mongo_client, redis_url):
    dead_redis = f"redis://127.0.0.1:{free_port()}/0"
    settings = make_settings(dead_redis, llm_provider="offline", redis_timeout_seconds=0.3, readiness_timeout_seconds=0.5)
    async with serve_app(create_app(settings, mongo_client=mongo_client)) as url:
        response = await readyz(url)
    assert response.status_code == 503
    body = response.json()
    assert body["checks"]["mongodb"] == "ok"
    assert body["checks"]["redis"].startswith("error: ") and "Connect" in body["checks"]["redis"]
    assert body["checks"]["workers"] == "unknown: Redis unavailable" and body["fresh_workers"] is None
    assert body["checks"]["chat_workers"] == "unknown: Redis unavailable"


async def test_readyz_is_503_naming_the_chat_workers_when_only_background_workers_beat(settings, mongo_client):
    async with serve_app(create_app(settings, mongo_client=mongo_client)) as url:
        async with running_worker(settings, mongo_client, queues="background"):
            response = await readyz(url)
    assert response.status_code == 503
    assert response.json()["checks"] == {
        "mongodb": "ok",
        "redis": "ok",
        "workers": "ok",
        "chat_workers": "no fresh heartbeat (0 workers)",
    }


async def test_a_worker_that_misses_beats_is_listed_stale_then_dropped(redis_url):
    client = aioredis.from_url(redis_url)
    try:
        now = datetime.now(UTC)
        beat = WorkerHeartbeat(
            worker_id="gone:1:abc", host="gone", pid=1, queue_name="q", started_at=now, last_seen=now, interval_seconds=0.05
        )
        await write_heartbeat(client, beat)
        [fresh] = await list_workers(client, "q")
        assert not fresh.stale
        await asyncio.sleep(0.3)  # more than 3 beats of 0.05 s missed
        [stale] = await list_workers(client, "q")
        assert stale.stale and stale.worker_id == "gone:1:abc"
        await asyncio.sleep(1.0)  # the record (kept 12 beats, at least 1 s) has expired
        assert await list_workers(client, "q") == []
        assert await client.scard(index_key("q")) == 0
    finally:
        await client.aclose()


async def test_on_the_in_memory_store_readyz_counts_only_workers_in_this_process(mongo_client, redis_url):
    # A service and a worker each on ALLOW_IN_MEMORY_MONGODB: two stores. The worker's
    # heartbeat is fresh, but every reply it took would stay `queued` here: not ready.
    settings = make_settings(redis_url, mongodb_uri="memory://", llm_provider="offline", allow_in_memory_mongodb=True)
    redis = aioredis.from_url(redis_url)
    now = datetime.now(UTC)
    for queue in (settings.queue_name, settings.chat_queue_name):
        beat = WorkerHeartbeat(
            worker_id=f"elsewhere:{queue}", host="elsewhere", pid=1, queue_name=queue, started_at=now, last_seen=now,
            interval_seconds=5,
        )  # fmt: skip
        await write_heartbeat(redis, beat)
    await redis.aclose()
    async with serve_app(create_app(settings)) as url:
        response = await readyz(url)
    assert response.status_code == 503
    checks = response.json()["checks"]
    assert "none sharing this process's in-memory MongoDB" in checks["workers"]
    assert "none sharing this process's in-memory MongoDB" in checks["chat_workers"]
