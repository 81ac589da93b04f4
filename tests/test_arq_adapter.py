"""The arq adapter (shared/queue/arq_adapter/): the one place that knows arq.

Each override of arq's Worker in ResilientWorker has a test here or in
tests/test_worker_outage_units.py that drives arq's own code under it, so an arq release
that changes what the override leans on fails a test instead of a production worker:

| override                        | test                                                                      |
| ------------------------------- | ------------------------------------------------------------------------- |
| main                            | test_a_worker_started_before_redis_waits_for_it                           |
| _poll_iteration                 | test_a_nudge_wakes_an_idle_worker, test_worker_outage_units (outages)     |
| start_jobs                      | test_worker_outage_units: ..._does_not_use_up_a_job_slot, ..._during_a_pickups_claim_..., test_the_claim_keeps_arqs_rules_..., test_two_workers_take_each_job_once_and_none_before_it_is_due |
| run_job                         | test_worker_outage_units: test_a_job_picked_up_as_redis_went_away_...     |
| finish_job                      | test_a_finished_jobs_result_waits_for_redis                               |
| finish_failed_job               | test_a_failed_pickups_record_waits_for_redis                              |
| run_cron                        | test_worker_outage_units: test_a_cron_whose_enqueue_fails_keeps_its_due_time |
| handle_sig_wait_for_completion  | test_a_signal_drains_the_companion_worker_too                             |
| heart_beat                      | test_the_poll_loop_publishes_heartbeats                                   |
| close                           | test_close_without_redis_still_shuts_down                                 |
| (arq's log lines, job_lines.py) | test_arqs_per_job_lines_are_left_out_and_its_failure_line_stays           |

and test_the_overridden_arq_methods_are_the_ones_written_against pins their signatures.
"""

from __future__ import annotations

import ast
import asyncio
import inspect
import logging
import pickle
import signal
import tomllib
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest
from arq import Worker, func
from arq.connections import RedisSettings, create_pool

from allinone.redis_process import RedisProcess, free_port
from shared.queue.arq_adapter.enqueue import enqueue
from shared.queue.arq_adapter.job_lines import ARQ_WORKER_LOGGER
from shared.queue.arq_adapter.keys import job_key, nudge_key, result_key
from shared.queue.arq_adapter.records import wait_for_result
from shared.queue.arq_adapter.worker import ResilientWorker
from shared.queue.heartbeats import list_workers
from tests.support.redis_restart import RestartableRedis

ROOT = Path(__file__).resolve().parent.parent
ADAPTER = ROOT / "shared" / "queue" / "arq_adapter"
QUEUE = "arq:queue:test"

# arq's Worker methods ResilientWorker overrides or calls, as arq 0.28.0 spells them.
WRITTEN_AGAINST = {
    "main": "(self) -> None",
    "_poll_iteration": "(self) -> None",
    "start_jobs": "(self, job_ids: list[bytes]) -> None",
    "run_job": "(self, job_id: str, score: int) -> None",
    "finish_job": "(self, job_id: str, finish: bool, result_data: Optional[bytes], result_timeout_s: Optional[float], "
    "keep_result_forever: bool, incr_score: Optional[int], keep_in_progress: Optional[float]) -> None",
    "finish_failed_job": "(self, job_id: str, result_data: Optional[bytes]) -> None",
    "run_cron": "(self, n: datetime.datetime, delay: float, num_windows: int = 2) -> None",
    "handle_sig_wait_for_completion": "(self, signum: signal.Signals) -> None",
    "heart_beat": "(self) -> None",
    "close": "(self) -> None",
    "_release_sem_dec_counter_on_complete": "(self) -> None",
    "_cancel_aborted_jobs": "(self) -> None",
}


def imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_nothing_outside_the_adapter_imports_arq():
    offenders = [
        str(path.relative_to(ROOT))
        for package in ("shared", "service", "worker", "allinone")
        for path in (ROOT / package).rglob("*.py")
        if ADAPTER not in path.parents and any(name == "arq" or name.startswith("arq.") for name in imported_modules(path))
    ]
    assert offenders == []


def test_the_overridden_arq_methods_are_the_ones_written_against():
    pinned = next(
        dep for dep in tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"] if dep.startswith("arq")
    )
    assert pinned == f"arq=={version('arq')}"
    assert {name: str(inspect.signature(getattr(Worker, name))) for name in WRITTEN_AGAINST} == WRITTEN_AGAINST
    # (__init__ takes arq's options untouched, as **kwargs, and adds its own.)
    overridden = {name for name in vars(ResilientWorker) if name in vars(Worker) and not name.startswith("__")}
    assert overridden <= set(WRITTEN_AGAINST), "a new override needs its line above and a test"


async def remember(ctx: dict[str, Any], value: str) -> str:
    return value


def worker_on(url: str, **options: Any) -> ResilientWorker:
    options = {"functions": [remember], "queue_name": QUEUE, "handle_signals": False, "poll_delay": 0.05} | options
    return ResilientWorker(
        redis_settings=RedisSettings.from_dsn(url), heartbeat_seconds=0.05, redis_retry_cap_seconds=0.2, **options
    )


async def stopped(worker: ResilientWorker, task: asyncio.Task[None]) -> None:
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    await worker.close()


async def blocked_on_nudges(pool: Any) -> None:
    """Until a worker waits in BLPOP on the nudge list: idle, between polls."""
    async with asyncio.timeout(10):
        while b"cmd=blpop" not in await pool.execute_command("CLIENT", "LIST"):
            await asyncio.sleep(0.01)


async def test_a_nudge_wakes_an_idle_worker(redis_url):
    """Polls 60 s apart: the job can only start in time because the enqueue's nudge woke the worker."""
    pool = await create_pool(RedisSettings.from_dsn(redis_url), default_queue_name=QUEUE)
    worker = worker_on(redis_url, poll_delay=30)
    task = asyncio.create_task(worker.async_run())
    try:
        await blocked_on_nudges(pool)
        job_id = await enqueue(pool, "remember", "woken", job_id="nudged")
        assert job_id == "nudged"
        assert await wait_for_result(pool, job_id, timeout=20) == "woken"
        assert await pool.llen(nudge_key(QUEUE)) == 0  # the worker took the nudge
    finally:
        await stopped(worker, task)
        await pool.aclose()


async def test_a_lost_nudge_still_gets_the_job_run(redis_url):
    """A job enqueued with no nudge (arq's plain enqueue, or a nudge another worker took)
    is found by the next poll."""
    pool = await create_pool(RedisSettings.from_dsn(redis_url), default_queue_name=QUEUE)
    worker = worker_on(redis_url, poll_delay=0.2)
    task = asyncio.create_task(worker.async_run())
    try:
        await blocked_on_nudges(pool)
        job = await pool.enqueue_job("remember", "polled", _job_id="not-nudged")
        assert job is not None
        assert await pool.llen(nudge_key(QUEUE)) == 0
        assert await wait_for_result(pool, "not-nudged", timeout=20) == "polled"
    finally:
        await stopped(worker, task)
        await pool.aclose()


async def long_job(ctx: dict[str, Any]) -> None:
    await asyncio.sleep(60)


async def test_an_abort_cancels_the_running_job_and_leaves_the_abort_set(redis_url):
    """The abort check (one ZRANGE a poll, not arq's MULTI of two) still does arq's work."""
    pool = await create_pool(RedisSettings.from_dsn(redis_url), default_queue_name=QUEUE)
    worker = worker_on(redis_url, functions=[long_job], poll_delay=0.05, allow_abort_jobs=True)
    task = asyncio.create_task(worker.async_run())
    try:
        job = await pool.enqueue_job("long_job", _job_id="stop-me")
        assert job is not None
        async with asyncio.timeout(10):
            while "stop-me" not in worker.job_tasks:
                await asyncio.sleep(0.01)
        assert await job.abort(timeout=10)  # arq's own client call: it waits for the result
        assert worker.jobs_failed == 1 and "stop-me" not in worker.aborting_tasks
        assert await pool.zcard("arq:abort") == 0
    finally:
        await stopped(worker, task)
        await pool.aclose()


RUNS: dict[str, int] = {}


async def count_run(ctx: dict[str, Any], key: str) -> None:
    RUNS[key] = RUNS.get(key, 0) + 1
    await asyncio.sleep(0.01)


async def test_two_workers_take_each_job_once_and_none_before_it_is_due(redis_url):
    """The claim (arq_adapter/claim.py) in place of arq's pickup: as exclusive as its WATCH was."""
    pool = await create_pool(RedisSettings.from_dsn(redis_url), default_queue_name=QUEUE)
    workers = [worker_on(redis_url, functions=[count_run], poll_delay=0.01, max_jobs=7) for _ in range(2)]
    tasks = [asyncio.create_task(w.async_run()) for w in workers]
    RUNS.clear()
    try:
        later = await pool.enqueue_job("count_run", "later", _job_id="later", _defer_by=30)
        assert later is not None
        ids = [await enqueue(pool, "count_run", f"job-{n}", job_id=f"job-{n}") for n in range(60)]
        for job_id in ids:
            assert job_id is not None
            await wait_for_result(pool, job_id, timeout=20)
        assert RUNS == {f"job-{n}": 1 for n in range(60)}
        assert sum(w.jobs_complete for w in workers) == 60 and all(w.job_counter == 0 for w in workers)
        assert await pool.zscore(QUEUE, "later") is not None  # still waiting for its time
    finally:
        for worker, task in zip(workers, tasks, strict=True):
            await stopped(worker, task)
        await pool.aclose()


async def refuse(ctx: dict[str, Any]) -> None:
    raise ValueError("no")


async def test_arqs_per_job_lines_are_left_out_and_its_failure_line_stays(redis_url, caplog):
    """Our job wrapper writes the one line per job (worker/job_metrics.py); arq's start and
    success lines, recognised by their templates (job_lines.py), would be two more."""
    pool = await create_pool(RedisSettings.from_dsn(redis_url), default_queue_name=QUEUE)
    worker = worker_on(redis_url, functions=[remember, refuse])
    task = asyncio.create_task(worker.async_run())
    try:
        with caplog.at_level(logging.INFO, logger=ARQ_WORKER_LOGGER):
            await enqueue(pool, "remember", "quiet", job_id="quiet")
            assert await wait_for_result(pool, "quiet", timeout=20) == "quiet"
            await enqueue(pool, "refuse", job_id="refused")
            with pytest.raises(ValueError):
                await wait_for_result(pool, "refused", timeout=20)
    finally:
        await stopped(worker, task)
        await pool.aclose()
    lines = [r.getMessage() for r in caplog.records if r.name == ARQ_WORKER_LOGGER]
    assert not any("quiet" in line for line in lines), lines
    assert any("refused:refuse failed, ValueError: no" in line for line in lines), lines


async def test_nudges_stay_few_when_no_worker_listens(redis_url):
    pool = await create_pool(RedisSettings.from_dsn(redis_url), default_queue_name=QUEUE)
    try:
        for n in range(100):
            await enqueue(pool, "remember", str(n))
        assert await pool.zcard(QUEUE) == 100  # the queue is the record
        assert await pool.llen(nudge_key(QUEUE)) == 64  # enqueue.NUDGE_CAP
    finally:
        await pool.aclose()


async def test_a_worker_started_before_redis_waits_for_it():
    redis = RedisProcess(free_port())
    worker = worker_on(redis.url)
    assert worker.redis_settings is not None
    # As the product's settings say (arq_adapter/pool.py): arq alone gives up after this.
    worker.redis_settings.conn_retries, worker.redis_settings.conn_retry_delay = 1, 0
    task = asyncio.create_task(worker.async_run())
    try:
        await asyncio.sleep(0.6)
        assert not task.done()
        redis.start()
        pool = await create_pool(RedisSettings.from_dsn(redis.url), default_queue_name=QUEUE)
        try:
            job_id = await enqueue(pool, "remember", "late")
            assert job_id is not None
            assert await wait_for_result(pool, job_id, timeout=20) == "late"
        finally:
            await pool.aclose()
    finally:
        await stopped(worker, task)
        redis.stop()


async def definitions_then_redis_stopped(server: RestartableRedis, worker: ResilientWorker, job_id: str) -> None:
    pool = await create_pool(RedisSettings.from_dsn(server.url), default_queue_name=QUEUE)
    await pool.enqueue_job("remember", "x", _job_id=job_id)
    worker._pool = pool
    server.stop()


async def test_a_finished_jobs_result_waits_for_redis():
    """arq's finish_job raises on a lost Redis and the result is gone; ours waits, then
    writes what arq writes: the result kept, the job's definition and queue entry gone."""
    with RestartableRedis() as server:
        worker = worker_on(server.url)
        await definitions_then_redis_stopped(server, worker, "finishing")
        finishing = asyncio.create_task(worker.finish_job("finishing", True, pickle.dumps({"r": "done"}), 60, False, None, None))
        await asyncio.sleep(0.3)
        assert not finishing.done()  # waiting for Redis, not failed
        server.start()
        await finishing
        assert await worker.pool.get(result_key("finishing")) == pickle.dumps({"r": "done"})
        assert await worker.pool.exists(job_key("finishing")) == 0
        assert await worker.pool.zscore(QUEUE, "finishing") is None
        await worker.pool.aclose()


async def test_a_failed_pickups_record_waits_for_redis():
    """finish_failed_job: arq's record of a job it could not run (unknown function, too many tries)."""
    with RestartableRedis() as server:
        worker = worker_on(server.url, keep_result=60)
        await definitions_then_redis_stopped(server, worker, "unrunnable")
        finishing = asyncio.create_task(worker.finish_failed_job("unrunnable", pickle.dumps({"s": False})))
        await asyncio.sleep(0.3)
        assert not finishing.done()
        server.start()
        await finishing
        assert await worker.pool.get(result_key("unrunnable")) == pickle.dumps({"s": False})
        assert await worker.pool.zscore(QUEUE, "unrunnable") is None
        await worker.pool.aclose()


async def test_a_signal_drains_the_companion_worker_too(redis_url):
    """One SIGTERM for the process: the chat worker beside the background one stops taking
    jobs and lets its running ones finish, within the same grace."""
    started, release = asyncio.Event(), asyncio.Event()

    async def held(ctx: dict[str, Any]) -> str:
        started.set()
        await release.wait()
        return "finished, not cancelled"

    pool = await create_pool(RedisSettings.from_dsn(redis_url), default_queue_name="arq:queue:companion")
    parent = worker_on(redis_url, job_completion_wait=30)
    parent.make_companion = lambda ctx: worker_on(
        redis_url, functions=[func(held, name="held")], queue_name="arq:queue:companion", job_completion_wait=30
    )
    task = asyncio.create_task(parent.async_run())
    try:
        job_id = await enqueue(pool, "held", job_id="held-reply")
        async with asyncio.timeout(20):
            await started.wait()
        assert parent.companion is not None
        parent.handle_sig_wait_for_completion(signal.SIGTERM)
        assert parent.companion.allow_pick_jobs is False  # arq's own flag, set on the companion
        release.set()
        assert await wait_for_result(pool, job_id, timeout=20) == "finished, not cancelled"
    finally:
        await stopped(parent, task)
        await pool.aclose()


async def test_the_poll_loop_publishes_heartbeats(redis_url):
    pool = await create_pool(RedisSettings.from_dsn(redis_url))
    worker = worker_on(redis_url)
    task = asyncio.create_task(worker.async_run())
    try:
        async with asyncio.timeout(20):
            while not (beats := await list_workers(pool, QUEUE)):
                await asyncio.sleep(0.02)
        assert [beat.worker_id for beat in beats] == [worker.worker_id]
        assert await pool.exists(worker.health_check_key) == 1  # arq's own, from the same beat
    finally:
        await stopped(worker, task)
        await pool.aclose()


async def test_close_without_redis_still_shuts_down():
    shut_down: list[bool] = []

    async def on_shutdown(ctx: dict[str, Any]) -> None:
        shut_down.append(True)

    with RestartableRedis() as server:
        worker = worker_on(server.url, on_shutdown=on_shutdown)
        worker._pool = await create_pool(RedisSettings.from_dsn(server.url))
        server.stop()
        await worker.close()  # arq's close raises at its first Redis call and skips the rest
    assert shut_down == [True]
    assert worker._pool is None


@pytest.mark.parametrize("module", sorted(p.name for p in ADAPTER.glob("*.py")))
def test_the_adapter_imports_nothing_of_service_or_worker(module):
    assert not {name for name in imported_modules(ADAPTER / module) if name.split(".")[0] in ("service", "worker")}
