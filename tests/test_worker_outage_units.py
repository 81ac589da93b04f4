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
from tests.support.dropping_redis import dropping_redis, redis_dropping_once
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


async def test_redis_going_away_during_a_pickups_claim_is_an_outage_that_leaks_no_slot():
    """The pickup's one round trip (the claim script, shared/queue/arq_adapter/claim.py)
    finds the connection closed: the worker sees an outage, and no job slot stays taken.
    (arq's own pickup died here: it WATCHed, and redis-py raised WatchError.)"""
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


async def test_the_claim_keeps_arqs_rules_for_which_job_starts(redis_url):
    """What arq's WATCH/MULTI pickup decided, the one-round-trip claim decides the same way:
    a job starts once however many workers see it; not while it runs elsewhere, not before
    it is due, not once it has left the queue."""
    from arq import create_pool
    from arq.connections import RedisSettings

    pool = await create_pool(RedisSettings.from_dsn(redis_url))
    queue = f"claim-test-{free_port()}"
    workers = [
        ResilientWorker(functions=[ping], redis_pool=pool, queue_name=queue, handle_signals=False, poll_delay=0.01)
        for _ in range(3)
    ]
    try:
        await pool.enqueue_job("ping", _job_id="due", _queue_name=queue)
        await pool.enqueue_job("ping", _job_id="later", _queue_name=queue, _defer_by=60)
        # Three workers race for the same ids, "gone" never queued: one claim wins, once.
        await asyncio.gather(*(w.start_jobs([b"due", b"later", b"gone"]) for w in workers))
        started = [job_id for w in workers for job_id in w.tasks]
        assert started == ["due"]
        await asyncio.gather(*(t for w in workers for t in w.tasks.values()))
        await asyncio.sleep(0)  # the tasks' done callbacks give their slots back
        assert all(w.job_counter == 0 and w.sem._value == w.max_jobs + 1 for w in workers)  # no slot held
        # While a job's in-progress mark stands (another worker runs it), nobody claims it.
        await pool.enqueue_job("ping", _job_id="busy", _queue_name=queue)
        await pool.psetex("arq:in-progress:busy", 60_000, b"1")
        await workers[0].start_jobs([b"busy"])
        assert "busy" not in workers[0].tasks
    finally:
        for w in workers:
            w.tasks.clear()
        await pool.aclose()


async def test_redis_going_away_between_connecting_and_the_first_poll_is_ridden_out(redis_url):
    """arq reads Redis's INFO after connecting and before its first poll; a Redis that went
    away right then ended arq's worker, and with it the all-in-one (the chat queue's worker
    starts a moment after the background one, so a restart of Redis could catch it there)."""
    from arq import create_pool
    from arq.connections import RedisSettings
    from arq.jobs import Job

    async with redis_dropping_once(redis_url, "INFO") as flaky_url:
        worker = ResilientWorker(
            functions=[ping], redis_settings=RedisSettings.from_dsn(flaky_url), queue_name="q", handle_signals=False
        )
        task = asyncio.create_task(worker.main())
        live = await create_pool(RedisSettings.from_dsn(redis_url))
        try:
            await live.enqueue_job("ping", _job_id="after-the-drop", _queue_name="q")
            result = asyncio.create_task(Job("after-the-drop", live, _queue_name="q").result(timeout=10))
            await asyncio.wait([task, result], return_when=asyncio.FIRST_COMPLETED)
            assert not task.done(), task.exception()
            assert await result == "pong"
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await worker.close()
            await live.aclose()
