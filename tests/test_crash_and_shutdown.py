"""A worker process killed or stopped mid-job: the job is finished, once, by someone."""

from __future__ import annotations

import json
import signal
import subprocess
from pathlib import Path

import pytest
from arq.jobs import Job

from shared.store.messages import store_message
from shared.store.mongo import SESSION_CONTEXTS
from tests.support.processes import exit_code, start_seeded_worker
from tests.support.stub_llm import Failure
from tests.support.waiting import wait_for
from tests.support.worker import drain_queue

ROOT = Path(__file__).resolve().parent.parent


async def seed_session(db, arq_pool, tmp_path) -> tuple[str, Path]:
    await store_message(db, "u1", "s1", "user", "I want to finish my novel")
    await store_message(db, "u1", "s1", "assistant", "Let's plan it.")
    await arq_pool.enqueue_job("extract_session_context", "u1", "s1", _job_id="crash-job")
    docs = await db["chat_messages"].find({}, {"_id": 0}).to_list(None)
    for doc in docs:
        doc["timestamp"] = doc["timestamp"].isoformat()
    seed = tmp_path / "messages.json"
    seed.write_text(json.dumps(docs))
    return "crash-job", seed


async def until_llm_called(stub_llm, proc: subprocess.Popen, calls: int = 1) -> None:
    def called() -> bool:
        assert proc.poll() is None, proc.stdout.read().decode()
        return len(stub_llm.extraction_requests) >= calls

    await wait_for(called, 20, what="the worker reaching the LLM")


async def signal_mid_job(
    settings, db, stub_llm, arq_pool, tmp_path, sig: int, llm_delay: float, **env: str
) -> tuple[str, int, str]:
    """Queue one session, start a real worker, and signal it while its LLM call is open.
    Returns the job id, the worker's exit code and its output."""
    job_id, seed = await seed_session(db, arq_pool, tmp_path)
    stub_llm.failures = [Failure(200, delay=llm_delay)]
    proc = start_seeded_worker(settings, stub_llm.url, seed, **env)
    try:
        await until_llm_called(stub_llm, proc)
        proc.send_signal(sig)
    finally:
        code = await exit_code(proc)
    return job_id, code, proc.stdout.read().decode()


@pytest.mark.slow  # real worker processes, killed and waited out
async def test_sigkill_mid_job_another_worker_finishes_it_once(settings, mongo_client, db, stub_llm, arq_pool, tmp_path):
    # The first worker's LLM call never returns before the kill.
    job_id, _, _ = await signal_mid_job(settings, db, stub_llm, arq_pool, tmp_path, signal.SIGKILL, 60, JOB_TIMEOUT_SECONDS="2")
    # The dead worker's job is invisible until its in-progress mark expires (job timeout
    # plus arq's margins, about 22 s here); a surviving worker then runs it to the end.
    await drain_queue(settings.model_copy(update={"job_timeout_seconds": 2}), mongo_client)
    info = await Job(job_id, arq_pool).result_info()
    assert info.success and info.job_try == 2 and info.result["reason"] == "extracted"
    assert await db[SESSION_CONTEXTS].count_documents({"session_id": "s1"}) == 1
    assert len(stub_llm.extraction_requests) == 2


@pytest.mark.slow  # real worker processes, killed and waited out
async def test_sigterm_lets_a_running_job_finish_within_the_grace_time(settings, db, stub_llm, arq_pool, tmp_path):
    job_id, code, output = await signal_mid_job(
        settings, db, stub_llm, arq_pool, tmp_path, signal.SIGTERM, 1.5, WORKER_SHUTDOWN_GRACE_SECONDS="20"
    )
    assert code == 0, output
    info = await Job(job_id, arq_pool).result_info()
    assert info is not None, output
    assert info.success and info.job_try == 1 and info.result["reason"] == "extracted"
    # Not queued again; what may wait is the recall-cache rebuild the finished extraction queued.
    queued = await arq_pool.queued_jobs()
    assert job_id not in {j.job_id for j in queued} and {j.function for j in queued} <= {"rebuild_recall_cache"}


@pytest.mark.slow  # real worker processes, killed and waited out
async def test_sigterm_past_the_grace_time_returns_the_job_to_the_queue(settings, mongo_client, db, stub_llm, arq_pool, tmp_path):
    job_id, _, _ = await signal_mid_job(
        settings, db, stub_llm, arq_pool, tmp_path, signal.SIGTERM, 60, WORKER_SHUTDOWN_GRACE_SECONDS="0.5"
    )
    assert [j.job_id for j in await arq_pool.queued_jobs()] == [job_id]  # not lost
    await drain_queue(settings, mongo_client)
    info = await Job(job_id, arq_pool).result_info()
    assert info.success and info.job_try == 2
    assert await db[SESSION_CONTEXTS].count_documents({"session_id": "s1"}) == 1
