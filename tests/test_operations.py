"""The admin's views of the background work, /metrics, and the worker's metrics listener,
against real Redis, a real arq worker and the stub LLM."""

from __future__ import annotations

import httpx

from shared.store.users import ADMIN, grant_role
from tests.support.running_worker import running_worker, wait_for
from tests.support.stub_llm import Failure
from worker.metrics_listener import metrics_listener

ADMIN_GETS = [
    "/api/v1/admin/queue",
    "/api/v1/admin/workers",
    "/api/v1/admin/jobs",
    "/api/v1/admin/crons",
    "/api/v1/admin/activity",
]


async def an_admin(api, db):
    login = await api.new_user()
    assert await grant_role(db, login.email, ADMIN)
    return login


async def logged_out_job(api, login, *lines: str) -> str:
    await api.chat(login, *lines)
    return (await api.logout(login))["job_id"]


async def test_non_admins_are_refused_every_operations_view(api):
    user = await api.new_user()
    for path in ADMIN_GETS:
        assert (await api.http.get(path, headers=user.headers)).status_code == 403, path
        assert (await api.http.get(path)).status_code == 401, path
    assert (await api.http.post("/api/v1/admin/crons/decay_memories/run", headers=user.headers)).status_code == 403


async def test_queue_workers_jobs_and_activity_follow_the_work(api, db, settings, mongo_client, stub_llm):
    admin = await an_admin(api, db)
    user = await api.new_user()
    first = await logged_out_job(api, user, "I want to sleep more", "I will be in bed by eleven")

    queue = (await api.http.get("/api/v1/admin/queue", headers=admin.headers)).json()
    [extraction] = [f for f in queue["functions"] if f["function"] == "extract_session_context"]
    assert extraction["queued"] == 1 and extraction["in_progress"] == 0 and extraction["oldest_queued_age_seconds"] >= 0
    assert queue["dead_letters_open"] == 0 and queue["outbox_size"] == 0
    # The `api` fixture's chat worker is the only one: no background worker yet.
    workers = (await api.http.get("/api/v1/admin/workers", headers=admin.headers)).json()["workers"]
    assert [w["queue_name"] for w in workers] == [settings.chat_queue_name]
    waiting = (await api.http.get("/api/v1/admin/jobs?status=queued", headers=admin.headers)).json()["jobs"]
    # (The chats missed the recall cache, which queues a cache rebuild: not ours to count.)
    assert [j["job_id"] for j in waiting if j["function"] != "rebuild_recall_cache"] == [first]

    # One job completes, one fails for good (the LLM answers 400).
    second_user = await api.new_user()
    await api.chat(second_user, "I want to stop smoking", "I will throw the packs away")
    stub_llm.failures.append(Failure(status=400, body='{"type":"error","error":{"type":"invalid_request_error","message":"no"}}'))
    async with running_worker(settings, mongo_client) as worker:
        failed_id = (await api.logout(second_user))["job_id"]
        await wait_for(lambda: _all_finished(api, admin, [first, failed_id]))
        workers = (await api.http.get("/api/v1/admin/workers", headers=admin.headers)).json()["workers"]
        [seen] = [w for w in workers if w["queue_name"] == settings.queue_name]
        assert seen["worker_id"] == worker.worker_id and seen["stale"] is False and seen["pid"] > 0

    by_status = {}
    for status in ("complete", "dead_lettered"):
        path = f"/api/v1/admin/jobs?status={status}&function=extract_session_context&limit=10"
        listed = (await api.http.get(path, headers=admin.headers)).json()["jobs"]
        by_status[status] = [j["job_id"] for j in listed]
    # Every complete job of any function (the extraction and the recall-cache rebuilds).
    all_complete = (await api.http.get("/api/v1/admin/jobs?status=complete&limit=200", headers=admin.headers)).json()["jobs"]
    # The first extraction may have been picked up before the failure was scripted; which one
    # failed is the stub's first request, so check the pair rather than the order.
    assert sorted(by_status["complete"] + by_status["dead_lettered"]) == sorted([first, failed_id])
    assert len(by_status["dead_lettered"]) == 1
    only_extractions = (await api.http.get("/api/v1/admin/jobs?function=summarize_sessions", headers=admin.headers)).json()
    assert only_extractions == {"jobs": []}

    queue = (await api.http.get("/api/v1/admin/queue", headers=admin.headers)).json()
    [extraction] = [f for f in queue["functions"] if f["function"] == "extract_session_context"]
    assert (extraction["queued"], extraction["completed_last_hour"], extraction["failed_last_hour"]) == (0, 1, 1)
    assert queue["dead_letters_open"] == 1
    minutes = (await api.http.get("/api/v1/admin/activity", headers=admin.headers)).json()["minutes"]
    assert len(minutes) == 60 and sum(m["complete"] for m in minutes) == len(all_complete) >= 1
    assert sum(m["failed"] for m in minutes) == 1

    for bad in ("status=finished", "limit=0", "limit=201", "limit=x"):
        assert (await api.http.get(f"/api/v1/admin/jobs?{bad}", headers=admin.headers)).status_code == 422, bad


async def _all_finished(api, admin, job_ids):
    listed = (await api.http.get("/api/v1/admin/jobs?limit=50", headers=admin.headers)).json()["jobs"]
    done = {j["job_id"] for j in listed if j["status"] in ("complete", "dead_lettered", "failed")}
    return set(job_ids) <= done


async def test_run_a_cron_now_and_follow_it(api, db, settings, mongo_client):
    admin = await an_admin(api, db)
    crons = (await api.http.get("/api/v1/admin/crons", headers=admin.headers)).json()["crons"]
    from worker.arq_options import cron_jobs

    assert {c["name"] for c in crons} == {c.name for c in cron_jobs()} >= {"decay_memories", "prune_memories", "sweep_sessions"}
    assert all(c["next_run_at"] for c in crons)
    assert (await api.http.post("/api/v1/admin/crons/no_such_cron/run", headers=admin.headers)).status_code == 404
    started = await api.http.post("/api/v1/admin/crons/decay_memories/run", headers=admin.headers)
    assert started.status_code == 202, started.text
    job_id = started.json()["job_id"]
    async with running_worker(settings, mongo_client):
        done = await wait_for(lambda: _complete(api, admin, job_id))
    assert done["function"] == "decay_memories"


async def _complete(api, login, job_id):
    body = (await api.http.get(f"/api/v1/jobs/{job_id}", headers=login.headers)).json()
    return body if body["status"] == "complete" else None


async def test_admin_may_read_and_cancel_a_users_job(api, db):
    admin, user, other = await an_admin(api, db), await api.new_user(), await api.new_user()
    job_id = await logged_out_job(api, user, "I want to read more", "I will read ten pages a day")
    # Reading and cancelling are for the owner or an admin (who sees every job on the
    # dashboard); another user gets 404. No worker runs, so the abort is registered and not
    # yet confirmed: 202, still queued.
    assert (await api.http.get(f"/api/v1/jobs/{job_id}", headers=other.headers)).status_code == 404
    read = await api.http.get(f"/api/v1/jobs/{job_id}", headers=admin.headers)
    assert read.status_code == 200 and read.json()["job_id"] == job_id
    from service.routes import jobs

    jobs.CANCEL_WAIT_SECONDS = 0.2
    try:
        response = await api.http.delete(f"/api/v1/jobs/{job_id}", headers=admin.headers)
    finally:
        jobs.CANCEL_WAIT_SECONDS = 5.0
    assert response.status_code == 202 and response.json()["status"] == "queued"


async def test_admin_reads_a_job_nobody_was_handed(api, db, arq_pool):
    # A cron's or a ping's job: the dashboard lists it, so its id must open for an admin.
    admin, user = await an_admin(api, db), await api.new_user()
    job = await arq_pool.enqueue_job("ping")
    read = await api.http.get(f"/api/v1/jobs/{job.job_id}", headers=admin.headers)
    assert read.status_code == 200 and read.json()["status"] == "queued" and read.json()["function"] == "ping"
    assert (await api.http.get(f"/api/v1/jobs/{job.job_id}", headers=user.headers)).status_code == 404
    assert (await api.http.get("/api/v1/jobs/no-such-job", headers=admin.headers)).status_code == 404


async def test_metrics_on_the_service_and_on_a_worker_listener(api, db, settings, mongo_client):
    admin = await an_admin(api, db)  # /metrics is not public by default (tests/test_metrics_access.py)
    user = await api.new_user()
    job_id = await logged_out_job(api, user, "I want to cook at home", "I will plan meals on Sunday")
    scrape = await api.http.get("/metrics", headers=admin.headers)
    assert scrape.status_code == 200 and scrape.headers["content-type"].startswith("text/plain")
    text = scrape.text
    assert 'coach_queue_jobs{function="extract_session_context",state="queued"} 1.0' in text
    assert "coach_outbox_jobs 0.0" in text and "coach_dead_letters_open 0.0" in text
    assert 'coach_metrics_source_up{source="redis"} 1.0' in text
    assert "coach_websocket_connections" in text
    async with running_worker(settings, mongo_client):
        user = await api.login(user.email, user.password, user.user_id)
        await wait_for(lambda: _complete(api, user, job_id))
    text = (await api.http.get("/metrics", headers=admin.headers)).text
    assert 'coach_jobs_completed_total{function="extract_session_context"}' in text
    assert 'coach_job_duration_seconds_count{function="extract_session_context"}' in text
    assert 'coach_llm_calls_total{outcome="ok",purpose="extraction"}' in text
    assert 'coach_llm_tokens_total{direction="input",purpose="extraction"}' in text
    # Bounded labels: no user or session id anywhere.
    assert user.user_id not in text and user.session_id not in text

    listener_settings = settings.model_copy(update={"worker_metrics_port": _free_port()})
    with metrics_listener(listener_settings) as port:
        async with httpx.AsyncClient() as http:
            worker_scrape = await http.get(f"http://127.0.0.1:{port}/metrics")
    assert worker_scrape.status_code == 200 and "coach_jobs_started_total" in worker_scrape.text
    with metrics_listener(settings.model_copy(update={"worker_metrics_port": None})) as port:
        assert port is None


def _free_port() -> int:
    from allinone.redis_process import free_port

    return free_port()
