"""Retries with backoff, dead letters and requeue, bad job arguments, through the real worker."""

from __future__ import annotations

import random

import pytest
from arq.jobs import Job
from pymongo.errors import AutoReconnect, ServerSelectionTimeoutError

from shared.llm import LLMPermanentError, LLMTransientError
from shared.store.messages import store_message
from shared.store.mongo import FAILED_JOBS, SESSION_CONTEXTS
from shared.store.users import ADMIN, grant_role
from tests.support.settings import ADMIN_EMAIL, make_settings
from tests.support.stub_llm import Failure
from tests.support.worker import drain_queue
from worker.reliability import backoff_seconds, is_transient


async def a_session(db, arq_pool, session_id="s1", user_id="u1"):
    await store_message(db, user_id, session_id, "user", "I want to sleep earlier")
    await store_message(db, user_id, session_id, "assistant", "Good idea.")
    await arq_pool.enqueue_job("extract_session_context", user_id, session_id, _job_id=f"job-{session_id}")
    return f"job-{session_id}"


async def test_transient_failures_are_retried_until_the_llm_recovers(settings, mongo_client, db, stub_llm, arq_pool):
    stub_llm.failures = [Failure(429, {"retry-after": "0.02"}), Failure(529)]
    job_id = await a_session(db, arq_pool)
    await drain_queue(settings, mongo_client)
    # One policy: three tries, one HTTP call each (the SDK does not retry underneath).
    assert len(stub_llm.extraction_requests) == 3
    info = await Job(job_id, arq_pool).result_info()
    assert info.success and info.job_try == 3 and info.result["reason"] == "extracted"
    assert await db[SESSION_CONTEXTS].count_documents({}) == 1
    assert await db[FAILED_JOBS].count_documents({}) == 0


async def test_failing_past_the_tries_is_a_dead_letter_and_a_requeue_extracts(
    api, settings, mongo_client, db, stub_llm, arq_pool
):
    stub_llm.failures = [Failure(500)] * 3
    await a_session(db, arq_pool)
    await drain_queue(settings, mongo_client)
    [dead] = await db[FAILED_JOBS].find({}).to_list(None)
    assert (dead["function"], dead["args"], dead["tries"]) == ("extract_session_context", ["u1", "s1"], 3)
    assert "500" in dead["error"] and dead["resolved_at"] is None
    assert await db[SESSION_CONTEXTS].count_documents({}) == 0

    await api.http.post("/api/v1/auth/register", json={"email": ADMIN_EMAIL, "password": "admin-password"})
    assert await grant_role(db, ADMIN_EMAIL, ADMIN)  # what `python -m worker users grant-admin` does
    admin = await api.login(ADMIN_EMAIL, "admin-password", "")
    listed = await api.http.get("/api/v1/admin/failed-jobs", headers=admin.headers)
    assert [d["id"] for d in listed.json()["failed_jobs"]] == [str(dead["_id"])]
    requeued = await api.http.post(f"/api/v1/admin/failed-jobs/{dead['_id']}/requeue", headers=admin.headers)
    assert requeued.status_code == 200
    await drain_queue(settings, mongo_client)
    assert await db[SESSION_CONTEXTS].count_documents({}) == 1
    dead = await db[FAILED_JOBS].find_one({"_id": dead["_id"]})
    assert dead["requeued_at"] is not None and dead["resolved_at"] is not None
    assert (await api.http.get("/api/v1/admin/failed-jobs", headers=admin.headers)).json()["failed_jobs"] == []


async def test_admin_endpoints_refuse_others_and_unknown_ids(api, db):
    user = await api.new_user()
    assert (await api.http.get("/api/v1/admin/failed-jobs", headers=user.headers)).status_code == 403
    assert (await api.http.post("/api/v1/admin/failed-jobs/requeue", headers=user.headers)).status_code == 403
    await api.http.post("/api/v1/auth/register", json={"email": ADMIN_EMAIL, "password": "admin-password"})
    assert await grant_role(db, ADMIN_EMAIL, ADMIN)  # what `python -m worker users grant-admin` does
    admin = await api.login(ADMIN_EMAIL, "admin-password", "")
    for bad in ("not-an-id", "0123456789abcdef01234567"):
        response = await api.http.post(f"/api/v1/admin/failed-jobs/{bad}/requeue", headers=admin.headers)
        assert response.status_code == 404 and response.json()["detail"] == "no open dead letter with that id"


@pytest.mark.parametrize("status", [400, 401, 403, 404])
async def test_permanent_failure_fails_at_once(settings, mongo_client, db, stub_llm, arq_pool, status):
    stub_llm.failures = [Failure(status)]
    await a_session(db, arq_pool)
    await drain_queue(settings, mongo_client)
    assert len(stub_llm.extraction_requests) == 1
    [dead] = await db[FAILED_JOBS].find({}).to_list(None)
    assert dead["tries"] == 1 and str(status) in dead["error"]


async def test_broken_output_gets_one_repair_attempt(settings, mongo_client, db, stub_llm, arq_pool):
    stub_llm.failures = [Failure(200, tool_input={"points": [{"kind": "wish", "content": "x", "importance": 2}]})]
    await a_session(db, arq_pool)
    await drain_queue(settings, mongo_client)
    first, repair = stub_llm.extraction_requests
    feedback = repair["messages"][-1]["content"][0]
    assert feedback["type"] == "tool_result" and feedback["is_error"] is True and "schema" in feedback["content"]
    assert await db[SESSION_CONTEXTS].count_documents({}) == 1


async def test_output_still_broken_after_the_repair_is_a_dead_letter_without_retries(
    settings, mongo_client, db, stub_llm, arq_pool
):
    stub_llm.failures = [Failure(200, tool_input="not an object")] * 2
    await a_session(db, arq_pool)
    await drain_queue(settings, mongo_client)
    assert len(stub_llm.extraction_requests) == 2
    [dead] = await db[FAILED_JOBS].find({}).to_list(None)
    assert dead["tries"] == 1 and "LLMOutputError" in dead["error"]


async def test_a_job_that_runs_past_its_time_is_retried(redis_url, mongo_client, stub_llm, arq_pool):
    settings = make_settings(
        redis_url, llm_provider="anthropic", anthropic_api_key="k", anthropic_base_url=stub_llm.url, job_timeout_seconds=0.3
    )
    db = mongo_client[settings.mongodb_db_name]
    stub_llm.failures = [Failure(200, delay=1.0)]
    job_id = await a_session(db, arq_pool)
    await drain_queue(settings, mongo_client)
    info = await Job(job_id, arq_pool).result_info()
    assert info.success and info.job_try == 2
    assert await db[SESSION_CONTEXTS].count_documents({}) == 1


async def test_job_called_with_arguments_it_does_not_take_is_a_dead_letter_and_the_worker_goes_on(
    settings, mongo_client, db, stub_llm, arq_pool
):
    await arq_pool.enqueue_job("extract_session_context", "u1", "s1", "from-an-old-deploy", _job_id="old")
    await arq_pool.enqueue_job("summarize_sessions", user="u1", _job_id="renamed-kwarg")
    good = await a_session(db, arq_pool, session_id="s2")
    runner = await drain_queue(settings, mongo_client)
    assert runner.jobs_failed == 2
    errors = sorted(d["error"] for d in await db[FAILED_JOBS].find({}).to_list(None))
    assert all("does not take these arguments" in e for e in errors) and len(errors) == 2
    assert (await Job(good, arq_pool).result_info()).success


def test_backoff_is_exponential_with_full_jitter_and_honors_retry_after():
    settings = make_settings("redis://unused", retry_base_seconds=2, retry_cap_seconds=60)
    rng = random.Random(7)
    for job_try, ceiling in [(1, 2), (2, 4), (3, 8), (6, 60), (10, 60)]:
        delays = [backoff_seconds(job_try, settings, rng=rng) for _ in range(500)]
        assert 0 <= min(delays) and max(delays) <= ceiling
        assert max(delays) > ceiling * 0.9  # full jitter spans the whole range
    assert backoff_seconds(1, settings, retry_after=30, rng=rng) == 30
    assert backoff_seconds(1, settings, retry_after=600, rng=rng) == 60  # capped


@pytest.mark.parametrize(
    ("exc", "transient"),
    [
        (LLMTransientError("429"), True),
        (ServerSelectionTimeoutError("mongo down"), True),
        (AutoReconnect("lost primary"), True),
        (TimeoutError(), True),
        (LLMPermanentError("400"), False),
        (ValueError("bug"), False),
    ],
)
def test_what_counts_as_transient(exc, transient):
    assert is_transient(exc) is transient
