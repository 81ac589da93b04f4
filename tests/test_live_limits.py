"""Limits changed at run time (issue 24 item 9): `GET/PUT /api/v1/admin/limits`, stored in
Redis, followed by other service processes and by a worker process, each change recorded.

Each "process" here is a process's own reading of the limits: a second app on the same
Redis, a LiveLimits of the test's own, or a real worker process started from the CLI.
"""

from __future__ import annotations

import json
import subprocess

import pytest
from arq.jobs import Job, JobStatus
from redis.asyncio import Redis

from service.app import create_app
from shared.llm.limiter import LLMLimiter
from shared.process import clock
from shared.redis_structures.live_limits import LIMITS_KEY, LimitsChange, LiveLimits
from shared.store.llm_usage import LLMUsageRecord, record_usage
from shared.store.messages import store_message
from shared.store.users import ADMIN, grant_role
from tests.support.client import Api
from tests.support.processes import start_seeded_worker
from tests.support.running_worker import wait_for
from tests.support.servers import serve_app

LIMITS = "/api/v1/admin/limits"


async def an_admin(api, db):
    login = await api.new_user()
    assert await grant_role(db, login.email, ADMIN)
    return login


async def test_limits_start_from_the_environment_and_each_change_is_recorded(api, db, settings, redis_url):
    admin = await an_admin(api, db)
    first = (await api.http.get(LIMITS, headers=admin.headers)).json()
    environment = {
        "chat_messages_per_minute": settings.chat_messages_per_minute,
        "llm_requests_per_minute": settings.llm_requests_per_minute,
        "llm_tokens_per_minute": settings.llm_tokens_per_minute,
        "user_daily_token_budget": settings.user_daily_token_budget,
    }
    assert first == {"limits": environment, "starting": environment, "changes": []}

    changed = await api.http.put(LIMITS, headers=admin.headers, json={"chat_messages_per_minute": 3})
    assert changed.status_code == 200, changed.text
    body = changed.json()
    assert body["limits"] == environment | {"chat_messages_per_minute": 3}
    assert body["starting"] == environment
    [record] = body["changes"]
    assert record["changed_by"] == admin.user_id and record["changed_by_email"] == admin.email
    assert record["fields"] == [{"field": "chat_messages_per_minute", "old": environment["chat_messages_per_minute"], "new": 3}]

    # A second change records what it replaced: the first change's value, not the environment's.
    await api.http.put(LIMITS, headers=admin.headers, json={"chat_messages_per_minute": 5, "user_daily_token_budget": 900})
    again = (await api.http.get(LIMITS, headers=admin.headers)).json()
    assert again["limits"] == environment | {"chat_messages_per_minute": 5, "user_daily_token_budget": 900}
    assert [c["fields"] for c in again["changes"]][0] == [
        {"field": "chat_messages_per_minute", "old": 3, "new": 5},
        {"field": "user_daily_token_budget", "old": environment["user_daily_token_budget"], "new": 900},
    ]
    async with Redis.from_url(redis_url) as redis:
        assert await redis.hgetall(LIMITS_KEY) == {b"chat_messages_per_minute": b"5", b"user_daily_token_budget": b"900"}


async def test_a_bad_limit_is_422_naming_the_field_and_nothing_changes(api, db):
    admin = await an_admin(api, db)
    before = (await api.http.get(LIMITS, headers=admin.headers)).json()
    for body, field in [
        ({"chat_messages_per_minute": 0}, "chat_messages_per_minute"),
        ({"llm_requests_per_minute": -1}, "llm_requests_per_minute"),
        ({"llm_tokens_per_minute": 2.5}, "llm_tokens_per_minute"),
        ({"user_daily_token_budget": "lots"}, "user_daily_token_budget"),
        ({"user_daily_token_budget": 10**12}, "user_daily_token_budget"),
        ({"chat_messages_per_minute": 4, "max_sockets_per_user": 1}, "max_sockets_per_user"),
        ({}, "body"),
    ]:
        response = await api.http.put(LIMITS, headers=admin.headers, json=body)
        assert response.status_code == 422, (body, response.text)
        assert field in response.json()["detail"] and field in [e["field"] for e in response.json()["errors"]], body
    assert (await api.http.get(LIMITS, headers=admin.headers)).json() == before


async def test_only_an_admin_reads_or_changes_the_limits(api, db):
    user = await api.new_user()
    assert (await api.http.get(LIMITS, headers=user.headers)).status_code == 403
    assert (await api.http.put(LIMITS, headers=user.headers, json={"chat_messages_per_minute": 1})).status_code == 403
    assert (await api.http.get(LIMITS)).status_code == 401
    assert (await api.http.put(LIMITS, json={"chat_messages_per_minute": 1})).status_code == 401
    admin = await an_admin(api, db)
    assert (await api.http.get(LIMITS, headers=admin.headers)).json()["changes"] == []


async def post_message(api: Api, login, content: str):
    return await api.http.post("/api/v1/chat/messages", headers=login.headers, json={"content": content})


async def test_a_lowered_chat_limit_refuses_sooner_on_another_service_process(settings, mongo_client, db):
    """Process B has read the limit (20) before the admin lowers it to 2 on process A; B's
    next messages are refused once its reading is refreshed, long before 20."""
    quick = settings.model_copy(update={"limits_refresh_seconds": 0.2})
    async with (
        serve_app(create_app(quick, mongo_client=mongo_client)) as url_a,
        serve_app(create_app(quick, mongo_client=mongo_client)) as url_b,
        Api(url_a) as a,
        Api(url_b) as b,
    ):
        admin, user = await an_admin(a, db), await b.new_user()
        assert (await post_message(b, user, "first")).status_code == 202  # B has read the limit now
        assert (await a.http.put(LIMITS, headers=admin.headers, json={"chat_messages_per_minute": 2})).status_code == 200

        async def refused_for_the_rate():
            response = await post_message(b, user, "again")  # no worker: `busy` until refused, each one counted
            return response if response.status_code == 429 else None

        # 15 messages at most (fewer than the old 20): B must refuse one of them.
        refused = await wait_for(refused_for_the_rate, seconds=3, every=0.2)
    assert "more than 2 messages a minute" in refused.json()["detail"]


async def test_a_budget_set_at_run_time_refuses_a_user_over_it(api, db):
    admin, user = await an_admin(api, db), await api.new_user()
    usage = LLMUsageRecord(
        purpose="chat", model="m", user_id=user.user_id, input_tokens=40, output_tokens=20, latency_seconds=0.1, at=clock.now()
    )
    await record_usage(db, usage)
    assert (await api.http.put(LIMITS, headers=admin.headers, json={"user_daily_token_budget": 50})).status_code == 200
    refused = await post_message(api, user, "one more thing")
    assert refused.status_code == 429 and "budget" in refused.json()["detail"], refused.text
    assert await db["chat_messages"].count_documents({"user_id": user.user_id}) == 0


async def test_another_process_follows_a_change_within_its_refresh_and_keeps_its_reading_with_redis_gone(settings, redis_url):
    quick = settings.model_copy(update={"limits_refresh_seconds": 0.1, "redis_timeout_seconds": 0.2})
    async with Redis.from_url(redis_url) as redis:
        admin_side, other = LiveLimits(redis, quick), LiveLimits(redis, quick)
        assert (await other.current()).llm_requests_per_minute == settings.llm_requests_per_minute
        before, after = await admin_side.change(LimitsChange(llm_requests_per_minute=7))
        assert (before.llm_requests_per_minute, after.llm_requests_per_minute) == (settings.llm_requests_per_minute, 7)

        async def followed():
            return (await other.current()).llm_requests_per_minute == 7

        await wait_for(followed, seconds=5, every=0.05)
    gone = Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2)  # nothing listens on port 1
    reader = LiveLimits(gone, quick)
    reader._known = after  # what it read while Redis was there
    assert await reader.current() == after
    try:
        await reader.current(strict=True, fresh=True)
    except OSError:
        pass
    except Exception as exc:  # redis-py's ConnectionError
        assert "Connect" in type(exc).__name__, exc
    else:
        raise AssertionError("a strict reading with Redis gone must raise")
    await gone.aclose()


async def test_the_llm_limiter_follows_a_change_made_through_the_api(api, db, settings, redis_url):
    admin = await an_admin(api, db)
    quick = settings.model_copy(update={"llm_max_wait_seconds": 0, "llm_chat_reserved_share": 0})
    async with Redis.from_url(redis_url) as redis:
        limiter = LLMLimiter(redis, quick)  # its own reading, as in a worker process
        for _ in range(3):  # unlimited from the environment
            async with limiter.admit("chat", 10):
                pass
        assert (await api.http.put(LIMITS, headers=admin.headers, json={"llm_requests_per_minute": 1})).status_code == 200
        fresh = LLMLimiter(redis, quick)
        async with fresh.admit("chat", 10):
            pass
        from shared.llm import LLMRateLimited

        try:
            async with fresh.admit("chat", 10):
                raise AssertionError("a second call in the window must be refused")
        except LLMRateLimited:
            pass


@pytest.mark.slow  # a real worker process
async def test_a_worker_process_follows_a_limit_changed_through_the_api(api, db, settings, stub_llm, arq_pool, tmp_path):
    """A real worker process: after the admin sets LLM_REQUESTS_PER_MINUTE to 1, of two
    extractions it makes one LLM call and defers the other (unlimited, it would run both)."""
    admin = await an_admin(api, db)
    for n in (1, 2):
        await store_message(db, f"u{n}", f"s{n}", "user", f"I want to finish task {n}")
        await store_message(db, f"u{n}", f"s{n}", "assistant", "Good.")
    docs = await db["chat_messages"].find({}, {"_id": 0}).to_list(None)
    seed = tmp_path / "messages.json"
    seed.write_text(json.dumps([d | {"timestamp": d["timestamp"].isoformat()} for d in docs]))
    extra = {"LLM_MAX_WAIT_SECONDS": "0", "LLM_CHAT_RESERVED_SHARE": "0", "LIMITS_REFRESH_SECONDS": "0.2"}
    log = open(tmp_path / "worker.log", "wb")
    worker = start_seeded_worker(settings, stub_llm.url, seed, stdout=log, **extra)
    try:
        assert (await api.http.put(LIMITS, headers=admin.headers, json={"llm_requests_per_minute": 1})).status_code == 200
        jobs = [Job(f"x-{n}", arq_pool) for n in (1, 2)]
        for n in (1, 2):
            await arq_pool.enqueue_job("extract_session_context", f"u{n}", f"s{n}", _job_id=f"x-{n}")

        async def one_ran_one_deferred():
            assert worker.poll() is None, (tmp_path / "worker.log").read_text()
            statuses = sorted([(await job.status()).value for job in jobs])
            return statuses == sorted([JobStatus.complete.value, JobStatus.deferred.value])

        await wait_for(one_ran_one_deferred, seconds=30, every=0.1)
        assert len(stub_llm.extraction_requests) == 1
    finally:
        worker.terminate()
        try:
            worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()
        log.close()
