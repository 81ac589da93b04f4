"""Redis goes away for ~10 s and comes back on the same port: nothing is lost, nothing runs twice.

Real processes (the all-in-one, and a standalone `python -m worker run`), a real
`redis-server` with an append-only file (as compose runs it) stopped and started again.
"""

from __future__ import annotations

import asyncio
import re
import time
from typing import Any

import pytest
from arq import create_pool
from arq.connections import RedisSettings
from arq.constants import default_queue_name
from arq.jobs import Job

from allinone.redis_process import free_port
from tests.support.client import Api, say
from tests.support.processes import job_runs, readyz_status, start, stop, until_readyz
from tests.support.redis_restart import RestartableRedis
from tests.support.settings import JWT_SECRET
from tests.support.stub_llm import Failure
from tests.support.waiting import wait_for

OUTAGE_SECONDS = 10

FAST_RECOVERY = {
    "WORKER_HEARTBEAT_SECONDS": "0.5",
    "WORKER_REDIS_RETRY_CAP_SECONDS": "0.5",
    "WORKER_POLL_DELAY_SECONDS": "0.05",
}

pytestmark = pytest.mark.slow


async def queue_pings(redis_url: str, prefix: str, count: int, defer: float = 0) -> list[str]:
    pool = await create_pool(RedisSettings.from_dsn(redis_url))
    try:
        ids = [f"{prefix}-{i}" for i in range(count)]
        for job_id in ids:
            assert await pool.enqueue_job("ping", _job_id=job_id, _defer_by=defer or None)
        return ids
    finally:
        await pool.aclose()


async def results(redis_url: str, job_ids: list[str], timeout: float = 20) -> dict[str, object]:
    pool = await create_pool(RedisSettings.from_dsn(redis_url))
    try:
        return {job_id: await Job(job_id, pool).result(timeout=timeout) for job_id in job_ids}
    finally:
        await pool.aclose()


async def until_contexts(api: Api, login, seconds: float = 20) -> list:
    async def contexts() -> list:
        return (await api.memory(login))["contexts"]

    return await wait_for(contexts, seconds, every=0.1, what=f"a context for session {login.session_id}")


async def until_result(job: Job, seconds: float = 15) -> Any:
    return await wait_for(job.result_info, seconds, every=0.1, what=f"the result of job {job.job_id}")


def assert_one_warning_each(text: str) -> None:
    """One "lost" and one "back" line per worker: the process runs two, one per queue."""
    lost = re.findall(r"worker (\S+) lost Redis", text)
    back = re.findall(r"worker (\S+): Redis is back", text)
    assert len(lost) == 2 and sorted(lost) == sorted(set(lost)) == sorted(back), text


async def test_allinone_rides_out_a_redis_restart(tmp_path, stub_llm):
    log_path = tmp_path / "allinone.log"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with RestartableRedis() as redis_server:
        proc = start(
            ["-m", "allinone"],
            log_path,
            PORT=str(port),
            REDIS_URL=redis_server.url,
            JWT_SECRET=JWT_SECRET,
            LLM_PROVIDER="anthropic",
            ANTHROPIC_API_KEY="test-key",
            ANTHROPIC_BASE_URL=stub_llm.url,
            REDIS_TIMEOUT_SECONDS="0.5",
            OUTBOX_RELAY_INTERVAL_SECONDS="0.5",
            READINESS_TIMEOUT_SECONDS="1",
            **FAST_RECOVERY,
        )
        try:
            await until_readyz(url, 200, proc, log_path)
            async with Api(url) as api:
                # A: a session whose extraction is still waiting on the LLM when Redis goes.
                a = await api.new_user()
                async with api.connect(a) as ws:
                    await say(ws, "I want to learn Spanish")
                    stub_llm.failures = [Failure(200, delay=4)]
                for _ in range(200):
                    if stub_llm.extraction_requests:
                        break
                    await asyncio.sleep(0.05)
                assert stub_llm.extraction_requests, log_path.read_text()
                # Jobs waiting in Redis, due during the outage.
                pings = await queue_pings(redis_server.url, "queued-ping", 3, defer=2)
                # C: chats now, logs out during the outage.
                c = await api.new_user()
                [reply] = await api.chat(c, "I want to read twelve books")
                assert reply[-1]["type"] == "done"
                # B: a chat socket that stays open across the outage.
                b = await api.new_user()
                async with api.connect(b) as socket_b:
                    assert (await say(socket_b, "I want to sleep more"))[-1]["type"] == "done"

                    redis_server.stop()
                    stopped = time.monotonic()
                    assert await readyz_status(url) == 503
                    down = (await api.http.get("/readyz")).json()
                    assert down["status"] == "unavailable" and down["checks"]["redis"].startswith("error: ")
                    assert down["checks"]["mongodb"] == "ok" and (await api.http.get("/healthz")).status_code == 200

                    # C logs out while Redis is down: the job goes to the outbox.
                    c_job = (await api.logout(c))["job_id"]
                    # B's socket stays open; a message now is refused at once and not stored
                    # (a reply is queued and streamed through Redis).
                    refused = await say(socket_b, "and to walk daily")
                    assert refused[-1]["code"] == "unavailable" and refused[-1]["retry_after"] >= 1

                    await asyncio.sleep(max(0, OUTAGE_SECONDS - (time.monotonic() - stopped)))
                    assert proc.poll() is None, log_path.read_text()
                    redis_server.start()
                    back = time.monotonic()
                    await until_readyz(url, 200, proc, log_path)
                    print(f"\n/readyz 200 again {time.monotonic() - back:.2f} s after Redis restarted")
                    # Sent again once Redis is back, it is answered.
                    assert (await say(socket_b, "and to walk daily"))[-1]["type"] == "done"
                # B's socket closed now, with Redis up: its extraction is enqueued directly.
                contexts_a = await until_contexts(api, a)
                contexts_b = await until_contexts(api, b)
                contexts_c = await until_contexts(api, await api.login(c.email, c.password, c.user_id))
                assert [p["content"] for p in contexts_a[0]["points"]] == ["I want to learn Spanish"]
                assert [p["content"] for p in contexts_b[0]["points"]] == ["I want to sleep more", "and to walk daily"]
                assert [p["content"] for p in contexts_c[0]["points"]] == ["I want to read twelve books"]
                assert await results(redis_server.url, pings) == {p: "pong" for p in pings}
                # A's job finished while Redis was away; its result was recorded once Redis
                # returned, so it will never run again, and nothing is left queued.
                pool = await create_pool(RedisSettings.from_dsn(redis_server.url))
                try:
                    [a_job] = [job for job in job_runs(log_path.read_text()) if a.session_id in job]
                    # Recorded once the worker's wait for Redis ends: read it when it is there.
                    info = await until_result(Job(a_job, pool))
                    assert info is not None and info.success and info.job_try == 1
                    # Nothing is left queued but recall-cache rebuilds the finished extractions asked for.
                    # (By id, from the queue itself: arq's queued_jobs() reads each job after the
                    # list, and a rebuild that finishes in between makes it raise.)
                    waiting = [i.decode() for i in await pool.zrange(default_queue_name, 0, -1)]
                    assert all(i.startswith("rebuild_recall_cache:") for i in waiting), waiting
                finally:
                    await pool.aclose()
            assert proc.poll() is None, "the all-in-one died during the outage"
        finally:
            code = await stop(proc)
    text = log_path.read_text()
    assert code == 0, text
    runs = job_runs(text)
    assert set(pings) <= set(runs) and c_job in runs
    assert [job for job, n in runs.items() if n > 1] == [], "a job ran twice"
    assert sum("extract_session_context" in job for job in runs) == 3
    assert len(stub_llm.extraction_requests) == 3
    # One warning when Redis went, one line when it came back: not one per poll.
    assert_one_warning_each(text)
    assert text.count("logout listener: Redis unavailable") == 1, text  # once per outage, not per retry
    assert "the worker stopped" not in text and "Traceback" not in text, text


async def test_standalone_worker_rides_out_a_redis_restart(tmp_path):
    log_path = tmp_path / "worker.log"
    with RestartableRedis() as redis_server:
        proc = start(
            ["-m", "worker", "run"], log_path, REDIS_URL=redis_server.url, ALLOW_IN_MEMORY_MONGODB="true", **FAST_RECOVERY
        )
        try:
            before = await queue_pings(redis_server.url, "before", 3)
            assert await results(redis_server.url, before) == {p: "pong" for p in before}
            queued = await queue_pings(redis_server.url, "queued", 3, defer=2)
            redis_server.stop()
            await asyncio.sleep(OUTAGE_SECONDS)
            assert proc.poll() is None, log_path.read_text()
            redis_server.start()
            back = time.monotonic()
            after = await queue_pings(redis_server.url, "after", 1)
            assert await results(redis_server.url, after) == {"after-0": "pong"}
            print(f"\nfirst job after Redis restarted done in {time.monotonic() - back:.2f} s")
            assert await results(redis_server.url, queued) == {p: "pong" for p in queued}
            assert proc.poll() is None, log_path.read_text()
        finally:
            code = await stop(proc)
    text = log_path.read_text()
    assert code == 0, text
    runs = job_runs(text)
    assert set(before + queued + after) <= set(runs)
    assert [job for job, n in runs.items() if n > 1] == [], "a job ran twice"
    assert_one_warning_each(text)
    assert "Traceback" not in text, text
