"""The ResilientWorker's bookkeeping when a Redis call fails (a real Redis port with nothing on it)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from arq import cron
from arq.connections import ArqRedis
from redis.asyncio import ConnectionPool
from redis.exceptions import ConnectionError as RedisConnectionError

from allinone.redis_process import free_port
from shared.queue.arq_adapter.worker import ResilientWorker
from tests.support.dropping_redis import dropping_redis
from worker.ping import ping
from worker.reliability import is_transient


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


async def test_a_job_picked_up_as_redis_went_away_runs_as_soon_as_redis_is_back(redis_url):
    from arq import create_pool
    from arq.connections import RedisSettings
    from arq.jobs import Job

    live = await create_pool(RedisSettings.from_dsn(redis_url))
    worker = ResilientWorker(functions=[ping], redis_pool=live, queue_name="arq:queue", handle_signals=False, poll_delay=0.01)
    try:
        await live.enqueue_job("ping", _job_id="caught-mid-pickup")
        await worker.start_jobs([b"caught-mid-pickup"])  # in-progress mark set, job task scheduled
        dead = worker_without_redis().pool
        worker._pool = dead  # Redis "goes away" before the job task's first read
        await asyncio.gather(*worker.tasks.values())
        assert "caught-mid-pickup" in worker._not_started
        worker._pool = live  # Redis is back
        worker.tasks.clear()
        await worker._poll_iteration()  # clears our mark, picks the job up again
        await asyncio.gather(*worker.tasks.values())
        assert await Job("caught-mid-pickup", live).result(timeout=5) == "pong"
        assert worker.job_counter == 0
        await dead.aclose()
    finally:
        await live.aclose()


async def test_a_failover_replica_that_refuses_writes_is_one_outage_not_one_per_poll(caplog):
    """A Redis demoted to a read-only replica answers PING and reads but refuses writes."""
    import logging

    from arq import create_pool
    from arq.connections import RedisSettings

    from tests.support.redis_restart import RestartableRedis

    caplog.set_level(logging.INFO, logger="worker.redis")
    with RestartableRedis() as server:
        pool = await create_pool(RedisSettings.from_dsn(server.url))
        worker = ResilientWorker(
            functions=[ping],
            redis_settings=RedisSettings.from_dsn(server.url),
            handle_signals=False,
            poll_delay=0.01,
            heartbeat_seconds=0.05,
            redis_retry_cap_seconds=0.1,
        )
        task = asyncio.create_task(worker.async_run())
        try:
            while not worker._last_heartbeat:
                await asyncio.sleep(0.01)
            await pool.execute_command("REPLICAOF", "127.0.0.1", str(free_port()))  # demoted
            await asyncio.sleep(1.0)  # ~20 heartbeats' worth of polls
            assert worker.redis_outages == 1 and not task.done()
            await pool.execute_command("REPLICAOF", "NO", "ONE")  # promoted again
            job = await pool.enqueue_job("ping")
            assert await job.result(timeout=5) == "pong"
        finally:
            await worker.close()
            task.cancel()
            await pool.aclose()
    lost = [r for r in caplog.records if "lost Redis" in r.getMessage()]
    # The demotion is seen first either by a write (ReadOnlyError) or by the wake-up nudge's
    # blocked BLPOP, which Redis drops when it becomes a replica: both are this one outage.
    assert len(lost) == 1
    assert any(sign in lost[0].getMessage() for sign in ("ReadOnlyError", "UNBLOCKED", "reset"))
    assert sum("Redis is back" in r.getMessage() for r in caplog.records) == 1


async def test_redis_going_away_during_a_pickup_is_an_outage_not_a_crash():
    """The pickup (one script for the poll's jobs, arq_adapter/pickup.py) loses its
    connection: an outage the poll loop rides out, and no job slot is used up. (arq's own
    pickup raised redis-py's WatchError there, which arq does not catch: the worker died.)"""
    async with dropping_redis("EVALSHA") as url:
        pool = ArqRedis(ConnectionPool.from_url(url, socket_connect_timeout=0.5))
        worker = ResilientWorker(functions=[ping], redis_pool=pool, queue_name="q", handle_signals=False, max_jobs=3)
        try:
            for _ in range(3):  # as many as slots: none may leak
                with pytest.raises(RedisConnectionError):
                    await worker.start_jobs([b"job-1"])
            assert worker.job_counter == 0 and worker.sem._value == worker.max_jobs + 1
        finally:
            await pool.aclose()
