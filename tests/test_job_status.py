"""GET and DELETE /api/v1/jobs/{id}: a caller follows and cancels the jobs handed to them,
against real Redis, a real arq worker and the stub LLM over HTTP."""

from __future__ import annotations

from tests.support.running_worker import running_worker, wait_for
from tests.support.stub_llm import Failure

FIELDS = {"job_id", "function", "status", "enqueued_at", "started_at", "finished_at", "tries", "result"}


async def chatted_and_logged_out(api, login) -> str:
    await api.chat(login, "I want to run a marathon", "I will train three times a week")
    return (await api.logout(login))["job_id"]


async def status_of(api, login, job_id: str):
    return await api.http.get(f"/api/v1/jobs/{job_id}", headers=login.headers)


async def test_logout_job_is_followed_by_its_owner_only_until_complete(api, settings, mongo_client):
    owner, other = await api.new_user(), await api.new_user()
    job_id = await chatted_and_logged_out(api, owner)
    owner = await api.login(owner.email, owner.password, owner.user_id)  # logout ended the first token

    queued = await status_of(api, owner, job_id)
    assert queued.status_code == 200, queued.text
    assert set(queued.json()) == FIELDS
    assert queued.json()["status"] == "queued" and queued.json()["function"] == "extract_session_context"
    # Another user, and an id never handed out, get the same 404: ids cannot be probed.
    assert (await status_of(api, other, job_id)).status_code == 404
    assert (await status_of(api, other, "no-such-job")).status_code == 404
    assert (await api.http.delete(f"/api/v1/jobs/{job_id}", headers=other.headers)).status_code == 404
    assert (await api.http.get(f"/api/v1/jobs/{job_id}")).status_code == 401

    async with running_worker(settings, mongo_client):
        done = await wait_for(lambda: _finished(api, owner, job_id))
    assert done["status"] == "complete"
    assert done["tries"] == 1 and done["started_at"] and done["finished_at"] and done["enqueued_at"]
    assert done["result"]["success"] is True and done["result"]["reason"] == "extracted"
    # A finished job cannot be cancelled.
    assert (await api.http.delete(f"/api/v1/jobs/{job_id}", headers=owner.headers)).status_code == 409


async def _finished(api, login, job_id):
    body = (await status_of(api, login, job_id)).json()
    return body if body["status"] not in ("queued", "deferred", "in_progress") else None


async def test_cancel_stops_a_running_job_and_its_status_says_cancelled(api, settings, mongo_client, stub_llm, db):
    owner = await api.new_user()
    await api.chat(owner, "I want to learn Spanish", "I will practise every morning")
    stub_llm.latency = 30  # the extraction's LLM call hangs: the job is running when we cancel
    job_id = (await api.logout(owner))["job_id"]
    owner = await api.login(owner.email, owner.password, owner.user_id)
    async with running_worker(settings, mongo_client) as worker:
        await wait_for(lambda: _status_is(api, owner, job_id, "in_progress"))
        assert stub_llm.in_flight == 1
        cancelled = await api.http.delete(f"/api/v1/jobs/{job_id}", headers=owner.headers)
        assert cancelled.status_code == 200, cancelled.text
        assert cancelled.json()["status"] == "cancelled"
        # The job stopped: nothing runs on the worker, arq counts it failed, nothing stored.
        # (The stub itself sleeps on; it does not notice the client hanging up.)
        await wait_for(lambda: _true(not worker.job_tasks))
        # (A chat that missed the recall cache queued a cache rebuild: that may complete.)
        assert worker.jobs_failed == 1
    assert (await status_of(api, owner, job_id)).json()["status"] == "cancelled"
    assert await db["session_contexts"].count_documents({}) == 0


async def _status_is(api, login, job_id, status):
    return (await status_of(api, login, job_id)).json()["status"] == status


async def _true(value):
    return value


async def test_a_job_that_fails_for_good_reads_dead_lettered(api, settings, mongo_client, stub_llm):
    owner = await api.new_user()
    await api.chat(owner, "I keep putting off my tax return", "I will do it on Sunday")
    stub_llm.failures.append(Failure(status=400, body='{"type":"error","error":{"type":"invalid_request_error","message":"no"}}'))
    job_id = (await api.logout(owner))["job_id"]
    owner = await api.login(owner.email, owner.password, owner.user_id)
    async with running_worker(settings, mongo_client):
        done = await wait_for(lambda: _finished(api, owner, job_id))
    assert done["status"] == "dead_lettered"
    assert "LLMPermanentError" in done["result"] or "400" in done["result"]


async def test_a_job_waiting_in_the_outbox_reads_queued(api, db, settings):
    from shared.store.job_owners import record_job_owner
    from shared.store.outbox import OUTBOX

    owner = await api.new_user()
    await db[OUTBOX].insert_one({"_id": "extract_session_context:s:m", "function": "extract_session_context", "args": []})
    await record_job_owner(db, "extract_session_context:s:m", owner.user_id)
    body = (await status_of(api, owner, "extract_session_context:s:m")).json()
    assert body["status"] == "queued" and body["function"] is None
    refused = await api.http.delete("/api/v1/jobs/extract_session_context:s:m", headers=owner.headers)
    assert refused.status_code == 409 and "outbox" in refused.json()["detail"]


async def test_cancel_a_deferred_job_before_it_starts(api, db, settings, mongo_client, arq_pool):
    from shared.store.job_owners import record_job_owner

    owner = await api.new_user()
    await arq_pool.enqueue_job("summarize_sessions", owner.user_id, _job_id="summarize_sessions:later", _defer_by=3600)
    await record_job_owner(db, "summarize_sessions:later", owner.user_id)
    assert (await status_of(api, owner, "summarize_sessions:later")).json()["status"] == "deferred"
    async with running_worker(settings, mongo_client) as worker:
        cancelled = await api.http.delete("/api/v1/jobs/summarize_sessions:later", headers=owner.headers)
        assert cancelled.status_code == 200, cancelled.text
        assert cancelled.json()["status"] == "cancelled"
    assert worker.jobs_complete == 0  # it never ran
