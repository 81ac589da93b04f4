"""What the dashboard's rows and sections stand on (issue 24 items 7 and 8), through the
admin API: the queue view per queue, ping counted, and requeueing a job from its row."""

from __future__ import annotations

from arq.jobs import Job

from shared.store.users import ADMIN, grant_role
from tests.support.running_worker import running_worker, wait_for


async def an_admin(api, db):
    login = await api.new_user()
    assert await grant_role(db, login.email, ADMIN)
    return login


async def queue_sections(api, admin) -> dict[str, dict[str, dict]]:
    view = (await api.http.get("/api/v1/admin/queue", headers=admin.headers)).json()
    return {s["kind"]: {f["function"]: f for f in s["functions"]} for s in view["queues"]}


async def test_the_chat_queue_and_the_background_queue_are_apart_and_ping_is_counted(api, db, settings, mongo_client, arq_pool):
    admin, user = await an_admin(api, db), await api.new_user()
    await api.chat(user, "I want to learn Spanish", "I will practise every morning")
    await api.logout(user)
    await arq_pool.enqueue_job("ping")
    sections = await queue_sections(api, admin)
    assert "generate_reply" in sections["chat"] and "generate_reply" not in sections["background"]
    assert sections["background"]["extract_session_context"]["queued"] == 1
    assert sections["background"]["ping"]["queued"] == 1
    view = (await api.http.get("/api/v1/admin/queue", headers=admin.headers)).json()
    assert [(s["kind"], s["queue_name"]) for s in view["queues"]] == [
        ("chat", settings.chat_queue_name),
        ("background", settings.queue_name),
    ]

    async with running_worker(settings, mongo_client):

        async def ping_counted():
            return (await queue_sections(api, admin))["background"].get("ping", {}).get("completed_last_hour") == 1

        await wait_for(ping_counted)
    listed = (await api.http.get("/api/v1/admin/jobs?function=ping", headers=admin.headers)).json()["jobs"]
    assert [j["status"] for j in listed] == ["complete"]


async def test_a_cancelled_job_is_requeued_from_its_row_and_runs(api, db, settings, mongo_client, arq_pool):
    admin = await an_admin(api, db)
    await arq_pool.enqueue_job("ping", _job_id="ping:later", _defer_by=3600)
    from service.routes import jobs

    jobs.CANCEL_WAIT_SECONDS = 0.2  # no background worker yet: the abort waits for one
    try:
        assert (await api.http.delete("/api/v1/jobs/ping:later", headers=admin.headers)).status_code == 202
    finally:
        jobs.CANCEL_WAIT_SECONDS = 5.0
    # Not finished yet: nothing to requeue.
    refused = await api.http.post("/api/v1/admin/jobs/ping:later/requeue", headers=admin.headers)
    assert refused.status_code == 409, refused.text
    async with running_worker(settings, mongo_client):

        async def listed_cancelled():
            listed = (await api.http.get("/api/v1/admin/jobs?status=cancelled", headers=admin.headers)).json()["jobs"]
            return [j["job_id"] for j in listed] == ["ping:later"]

        await wait_for(listed_cancelled)  # listed although no worker ever started it
        requeued = await api.http.post("/api/v1/admin/jobs/ping:later/requeue", headers=admin.headers)
        assert requeued.status_code == 202, requeued.text
        new_id = requeued.json()["job_id"]
        assert new_id.startswith("rerun:ping:later:")
        assert await Job(new_id, arq_pool).result(timeout=10) == "pong"


async def test_a_dead_lettered_job_is_requeued_through_its_dead_letter(api, db, settings, mongo_client, arq_pool):
    admin = await an_admin(api, db)
    # Arguments the function does not take: it fails at once, for good.
    dead = await arq_pool.enqueue_job("extract_session_context", "u", "s", "an extra argument", _job_id="x:dead")
    assert dead is not None
    async with running_worker(settings, mongo_client):

        async def dead_lettered():
            body = await api.http.get("/api/v1/admin/jobs?status=dead_lettered", headers=admin.headers)
            return [j["job_id"] for j in body.json()["jobs"]] == ["x:dead"]

        await wait_for(dead_lettered)
    requeued = await api.http.post("/api/v1/admin/jobs/x:dead/requeue", headers=admin.headers)
    assert requeued.status_code == 202 and requeued.json()["job_id"].startswith("requeue:"), requeued.text
    [letter] = (await api.http.get("/api/v1/admin/failed-jobs", headers=admin.headers)).json()["failed_jobs"]
    assert letter["requeued_at"] is not None


async def test_requeue_from_a_row_refuses_what_it_must(api, db):
    admin, user = await an_admin(api, db), await api.new_user()
    replies = await api.chat(user, "hello")
    reply_job = f"generate_reply:{replies[0][0]['reply_id']}"
    answer = await api.http.post(f"/api/v1/admin/jobs/{reply_job}/requeue", headers=admin.headers)
    assert answer.status_code == 409 and "retried by its user" in answer.json()["detail"]
    assert (await api.http.post("/api/v1/admin/jobs/no-such-job/requeue", headers=admin.headers)).status_code == 404
    assert (await api.http.post("/api/v1/admin/jobs/no-such-job/requeue", headers=user.headers)).status_code == 403
