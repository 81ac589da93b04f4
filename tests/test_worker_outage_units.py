"""The ResilientWorker's bookkeeping when a Redis call fails (a real Redis port with nothing on it)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from arq import cron
from arq.connections import ArqRedis
from redis.asyncio import ConnectionPool
from redis.exceptions import ConnectionError as RedisConnectionError

from allinone.redis_process import free_port
from worker.ping import ping
from worker.reliability import is_transient
from worker.resilient import ResilientWorker


def worker_without_redis(**options) -> ResilientWorker:
    pool = ArqRedis(ConnectionPool.from_url(f"redis://127.0.0.1:{free_port()}/0", socket_connect_timeout=0.5))
    return ResilientWorker(functions=[ping], redis_pool=pool, queue_name="q", handle_signals=False, max_jobs=3, **options)


async def test_a_cron_whose_enqueue_fails_keeps_its_due_time():
    job = cron(ping, name="nightly", hour=2, minute=0, second=0, unique=True)
    worker = worker_without_redis(cron_jobs=[job])
    due = datetime.now(UTC)
    job.next_run = due
    with pytest.raises(RedisConnectionError):
        await worker.run_cron(due, 0.5)
    assert job.next_run == due  # arq alone would have moved it to tomorrow: a lost night
    await worker.pool.aclose()


async def test_a_pickup_that_fails_on_redis_does_not_use_up_a_job_slot():
    worker = worker_without_redis()
    for _ in range(3):  # as many failures as slots
        with pytest.raises(RedisConnectionError):
            await worker.start_jobs([b"job-1", b"job-2"])
    assert worker.job_counter == 0 and worker.sem._value == worker.max_jobs + 1
    await worker.pool.aclose()


def test_a_job_that_loses_redis_mid_way_is_retried_not_dead_lettered():
    # e.g. extraction enqueuing a summary just as Redis restarts
    assert is_transient(RedisConnectionError("Connection closed by server."))
    assert not is_transient(ValueError("a bug"))
