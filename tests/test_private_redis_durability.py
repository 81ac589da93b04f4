"""The all-in-one's private redis-server keeps an append-only file in its runtime folder: if
redis-server alone is killed while jobs wait for their retry, it comes back with them.

Issue 25: killed alone while 5 extractions waited to be retried, it came back in 60 ms with
those 5 retries gone (only the hourly sweep would find the sessions again)."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
from pathlib import Path

import pytest
from arq import create_pool
from arq.connections import RedisSettings

from allinone.redis_process import RedisProcess
from tests.support.client import Api
from tests.support.processes import start_allinone, stop_now

WAITING = 5


async def put_jobs_waiting_for_retry(url: str, queue: str = "arq:queue") -> list[str]:
    """Jobs as arq leaves them between tries: queued with a score in the future."""
    pool = await create_pool(RedisSettings.from_dsn(url), default_queue_name=queue)
    try:
        ids = [f"extract:waiting-{i}" for i in range(WAITING)]
        for job_id in ids:
            await pool.enqueue_job("extract_session_context", "user", job_id, _job_id=job_id, _defer_by=600)
        return ids
    finally:
        await pool.aclose()


async def jobs_still_queued(url: str, ids: list[str], queue: str = "arq:queue") -> list[str]:
    pool = await create_pool(RedisSettings.from_dsn(url), default_queue_name=queue)
    try:
        return [job_id for job_id in ids if await pool.zscore(queue, job_id) is not None]
    finally:
        await pool.aclose()


async def wait_for_new_pid(redis: RedisProcess, old: int) -> int:
    async with asyncio.timeout(20):
        while True:
            process = redis.process
            if process is not None and process.pid != old and process.poll() is None:
                try:
                    await jobs_still_queued(redis.url, [])
                    return process.pid
                except OSError:
                    pass
            await asyncio.sleep(0.05)


async def test_jobs_waiting_for_retry_survive_a_kill_of_the_private_redis(tmp_path: Path):
    with RedisProcess.for_allinone(tmp_path) as redis:
        assert redis.data_dir == tmp_path / f"redis-{os.getpid()}"
        redis.restart_when_it_dies()
        ids = await put_jobs_waiting_for_retry(redis.url)
        await asyncio.sleep(1.2)  # appendfsync everysec: at most the last second is at risk
        assert redis.process is not None
        first = redis.process.pid
        os.kill(first, signal.SIGKILL)
        await wait_for_new_pid(redis, first)
        assert await jobs_still_queued(redis.url, ids) == ids
    assert not redis.data_dir.exists()  # the file goes with the all-in-one's in-memory database


def test_a_new_all_in_one_starts_with_an_empty_queue_not_a_former_runs(tmp_path: Path):
    """Its queue named sessions of an in-memory database that died with it."""
    dead = subprocess.Popen(["true"])
    dead.wait()
    for pid in (os.getpid(), dead.pid):  # this process's pid reused, and a run that was killed
        leftover = tmp_path / f"redis-{pid}" / "appendonlydir"
        leftover.mkdir(parents=True)
        (leftover / "stale.aof").write_text("stale")
    with RedisProcess.for_allinone(tmp_path) as redis:
        assert not (redis.data_dir / "appendonlydir" / "stale.aof").exists()
        assert not (tmp_path / f"redis-{dead.pid}").exists()


@pytest.mark.slow  # a product process (python -m allinone)
async def test_the_allinones_private_redis_killed_keeps_the_jobs_waiting_for_retry(tmp_path: Path):
    allinone = await start_allinone(tmp_path)
    try:
        stderr = allinone.output()[1]
        found = re.search(r"private redis-server on (\S+) \(pid (\d+)\)", stderr)
        assert found, stderr
        url, first = found.group(1), int(found.group(2))
        ids = await put_jobs_waiting_for_retry(url)
        await asyncio.sleep(1.2)
        os.kill(first, signal.SIGKILL)
        async with Api(allinone.url) as api:
            async with asyncio.timeout(30):
                while (await api.http.get("/readyz")).status_code != 200:
                    await asyncio.sleep(0.2)
        assert await jobs_still_queued(url, ids) == ids
        allinone.proc.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(allinone.proc.wait, 30) == 0
    finally:
        stop_now(allinone.proc)
