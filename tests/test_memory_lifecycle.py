"""Summaries, decay, prune, reinforcement and recall, with time passed in explicitly."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest
from arq import Worker
from bson import ObjectId

from shared.llm.anthropic_provider import AnthropicProvider
from shared.memory import point_key
from shared.messages import store_message
from shared.mongo import SESSION_CONTEXTS, SUMMARIES
from tests.conftest import make_settings
from tests.support.worker import drain_queue
from worker.arq_options import cron_jobs, worker_options
from worker.decay import decay_memories, prune_memories
from worker.summarize import summarize_sessions

T0 = datetime(2026, 1, 1, 2, 0, tzinfo=UTC)
DAY = timedelta(days=1)


def context_doc(user_id: str, n: int, *, created_at: datetime = T0, strength: float = 1.0, **extra):
    point = {"kind": "goal", "content": f"goal number {n}", "importance": 0.5}
    doc = {
        "_id": ObjectId(),
        "user_id": user_id,
        "session_id": f"{user_id}-s{n:02d}",
        "context_points": [{**point, "key": point_key(point["kind"], point["content"]), "mentions": 1}],
        "covered": {"last_message_id": f"m{n}", "last_at": created_at, "message_count": 2},
        "strength": strength,
        "decayed_at": created_at,
        "expires_at": None,
        "created_at": created_at,
        "updated_at": created_at,
        "summary_id": None,
        "summarized_at": None,
    }
    doc.update(extra)
    return doc


async def add_contexts(db, user_id: str, count: int, start: datetime = T0) -> list[dict]:
    docs = [context_doc(user_id, n, created_at=start + n * timedelta(hours=1)) for n in range(count)]
    await db[SESSION_CONTEXTS].insert_many(docs)
    return docs


@pytest.fixture
def ctx(db, settings, arq_pool):
    llm = AnthropicProvider(settings)
    return {"db": db, "settings": settings, "llm": llm, "redis": arq_pool}


# Summaries ---------------------------------------------------------------------------


async def test_twentieth_context_folds_the_oldest_fifteen_into_one_summary(api, settings, mongo_client, db, stub_llm):
    login = await api.new_user()
    older = await add_contexts(db, login.user_id, 19)
    await api.chat(login, "I will cook at home twice a week")  # the 20th session, extracted now
    await drain_queue(settings, mongo_client)  # runs the extraction and the summary it enqueues

    assert len(stub_llm.summary_requests) == 1
    [summary] = await db[SUMMARIES].find({}).to_list(None)
    assert summary["status"] == "done" and summary["text"] == "Stub text drawn from 15 request texts."
    assert summary["covered_session_ids"] == [d["session_id"] for d in older[:15]]
    assert summary["period"] == {"start": older[0]["created_at"], "end": older[14]["created_at"]}
    assert "goal number 0" in summary["key_points"]
    marked = await db[SESSION_CONTEXTS].find({"summary_id": summary["_id"]}).to_list(None)
    assert sorted(d["session_id"] for d in marked) == summary["covered_session_ids"]
    assert await db[SESSION_CONTEXTS].count_documents({"summary_id": None}) == 5

    memory = await api.memory(login)
    assert [s["id"] for s in memory["summaries"]] == [str(summary["_id"])]
    assert memory["summaries"][0]["covered_session_ids"] == summary["covered_session_ids"]


async def test_a_burst_of_extractions_yields_one_summarization(settings, mongo_client, db, stub_llm, arq_pool):
    for n in range(25):
        session_id = f"burst-{n}"
        await store_message(db, "burst-user", session_id, "user", f"I want to do thing {n}")
        await store_message(db, "burst-user", session_id, "assistant", "ok")
        await arq_pool.enqueue_job("extract_session_context", "burst-user", session_id)
    await drain_queue(settings, mongo_client)
    assert len(stub_llm.extraction_requests) == 25
    assert len(stub_llm.summary_requests) == 1
    assert await db[SUMMARIES].count_documents({}) == 1


async def test_concurrent_runs_never_cover_a_context_twice(ctx, db, stub_llm):
    stub_llm.latency = 0.2
    await add_contexts(db, "u", 40)
    outcomes = await asyncio.gather(*(summarize_sessions(ctx, "u") for _ in range(3)))
    summaries = await db[SUMMARIES].find({"status": "done"}).to_list(None)
    covered = [cid for s in summaries for cid in s["covered_context_ids"]]
    assert len(covered) == len(set(covered)) == 35  # each context once, the newest 5 left out
    assert sum(o["covered"] for o in outcomes) == 35
    assert await db[SUMMARIES].count_documents({"status": "pending"}) == 0
    # Safe to re-run: nothing left to fold, nothing written.
    assert (await summarize_sessions(ctx, "u"))["reason"] == "nothing_to_summarize"
    assert await db[SUMMARIES].count_documents({}) == len(summaries)


async def test_a_run_that_died_after_claiming_is_resumed(ctx, db, stub_llm):
    docs = await add_contexts(db, "u", 3)
    stale = ObjectId()
    await db[SUMMARIES].insert_one({"_id": stale, "user_id": "u", "status": "pending", "lease_until": T0, "created_at": T0})
    await db[SESSION_CONTEXTS].update_many({"_id": {"$in": [d["_id"] for d in docs[:2]]}}, {"$set": {"summary_id": stale}})
    outcome = await summarize_sessions(ctx, "u")
    assert outcome == {"success": True, "summary_id": str(stale), "covered": 2, "reason": "summarized"}
    assert (await db[SUMMARIES].find_one({"_id": stale}))["status"] == "done"


async def test_offline_provider_summarizes_too(redis_url, mongo_client):
    from shared.llm.offline import OfflineProvider

    settings = make_settings(redis_url, llm_provider="offline")
    db = mongo_client[settings.mongodb_db_name]
    await add_contexts(db, "u", 8)
    outcome = await summarize_sessions({"db": db, "settings": settings, "llm": OfflineProvider()}, "u")
    summary = await db[SUMMARIES].find_one({})
    assert outcome["covered"] == 3
    assert summary["key_points"] == ["goal: goal number 0", "goal: goal number 1", "goal: goal number 2"]
    assert summary["text"].startswith("[offline coach] 3 sessions")


# Decay and prune ----------------------------------------------------------------------


async def strengths(db, collection=SESSION_CONTEXTS) -> list[float]:
    return [d["strength"] for d in await db[collection].find({}).sort("created_at", 1).to_list(None)]


async def test_decay_one_day_thirty_days_and_catch_up(ctx, db):
    await db[SESSION_CONTEXTS].insert_many([context_doc("u", 1), context_doc("u", 2)])
    await db[SUMMARIES].insert_one({"user_id": "u", "status": "done", "strength": 1.0, "decayed_at": T0, "created_at": T0})

    await decay_memories(ctx, now=T0 + DAY)
    assert await strengths(db) == pytest.approx([0.95, 0.95], abs=1e-9)
    for day in range(2, 31):
        await decay_memories(ctx, now=T0 + day * DAY)
    assert await strengths(db) == pytest.approx([0.95**30] * 2, abs=1e-9)
    assert 0.95**30 == pytest.approx(0.2146, abs=1e-4)
    assert await strengths(db, SUMMARIES) == pytest.approx([0.95**30], abs=1e-9)

    # Three missed days, then one run: caught up exactly.
    await decay_memories(ctx, now=T0 + 33 * DAY)
    assert await strengths(db) == pytest.approx([0.95**33] * 2, abs=1e-9)


async def test_decay_deletes_expired_and_faded_summarized_contexts(ctx, db):
    summary_id = ObjectId()
    await db[SESSION_CONTEXTS].insert_many(
        [
            context_doc("u", 1, expires_at=T0 + DAY),  # expires
            context_doc("u", 2, expires_at=T0 + 10 * DAY),  # does not
            context_doc("u", 3, strength=0.05, summary_id=summary_id, summarized_at=T0),  # faded, summarized
            context_doc("u", 4, strength=0.05),  # faded, but no summary holds it
        ]
    )
    await db[SUMMARIES].insert_many(
        [
            {"user_id": "u", "strength": 1.0, "decayed_at": T0, "expires_at": T0 + DAY, "created_at": T0},
            {"user_id": "u", "strength": 1.0, "decayed_at": T0, "expires_at": None, "created_at": T0},
        ]
    )
    result = await decay_memories(ctx, now=T0 + 2 * DAY)
    left = sorted(d["session_id"] for d in await db[SESSION_CONTEXTS].find({}).to_list(None))
    assert left == ["u-s02", "u-s04"]
    assert await db[SUMMARIES].count_documents({}) == 1
    assert result[SESSION_CONTEXTS] == {"decayed": 4, "expired": 1, "faded": 1}


async def test_decay_switched_off_changes_nothing(redis_url, mongo_client):
    settings = make_settings(redis_url, enable_memory_decay=False)
    db = mongo_client[settings.mongodb_db_name]
    await db[SESSION_CONTEXTS].insert_one(context_doc("u", 1, expires_at=T0))
    assert (await decay_memories({"db": db, "settings": settings}, now=T0 + 5 * DAY))["skipped"] is True
    assert await strengths(db) == [1.0]


async def test_prune_deletes_only_old_contexts_a_summary_covers(ctx, db, redis_url, mongo_client):
    now = T0 + 200 * DAY
    await db[SESSION_CONTEXTS].insert_many(
        [
            context_doc("u", 1, summary_id=ObjectId(), summarized_at=T0),  # old, covered: pruned
            context_doc("u", 2),  # old, no summary: kept
            context_doc("u", 3, created_at=now - 10 * DAY, summary_id=ObjectId(), summarized_at=now),  # young: kept
            context_doc("u", 4, summary_id=ObjectId(), summarized_at=None),  # claimed, summary unfinished: kept
        ]
    )
    assert await prune_memories(ctx, now=now) == {"skipped": False, "pruned": 1}
    assert sorted(d["session_id"] for d in await db[SESSION_CONTEXTS].find({}).to_list(None)) == ["u-s02", "u-s03", "u-s04"]

    off = make_settings(redis_url, memory_retention_days=0)
    assert (await prune_memories({"db": db, "settings": off}, now=now + 1000 * DAY))["skipped"] is True
    assert await db[SESSION_CONTEXTS].count_documents({}) == 3


async def test_each_cron_fires_once_across_three_workers(settings, mongo_client, arq_pool, db):
    await db[SESSION_CONTEXTS].insert_one(context_doc("u", 1, created_at=datetime(2025, 1, 1, tzinfo=UTC)))
    workers = []
    for _ in range(3):
        options = worker_options(settings)
        options["ctx"] = {"settings": settings, "mongo_client": mongo_client}
        workers.append(Worker(**options, redis_pool=arq_pool, burst=True, handle_signals=False))
    # Each worker's scheduler looks at the clock just before and just after 02:00 UTC.
    before, at = datetime(2025, 6, 1, 1, 59, 59, tzinfo=UTC), datetime(2025, 6, 1, 2, 0, 0, 100_000, tzinfo=UTC)
    for w in workers:
        await w.run_cron(before, delay=0.5)
    for w in workers:
        await w.run_cron(at, delay=0.5)
    queued = [job.function for job in await arq_pool.queued_jobs()]
    assert queued == ["decay_memories"]
    runner = Worker(**{**worker_options(settings), "ctx": {"settings": settings, "mongo_client": mongo_client}}, burst=True, handle_signals=False)
    await runner.main()
    await runner.close()
    assert runner.jobs_complete == 1
    assert (await db[SESSION_CONTEXTS].find_one({}))["decayed_at"] > datetime(2025, 1, 2, tzinfo=UTC)


def test_crons_are_declared_for_02_and_03_utc_and_hourly():
    decay, prune, sweep, reflect, communities = cron_jobs()
    assert (decay.name, decay.hour, decay.minute, decay.unique) == ("decay_memories", 2, 0, True)
    assert (prune.name, prune.hour, prune.minute, prune.unique) == ("prune_memories", 3, 0, True)
    assert (sweep.name, sweep.hour, sweep.minute, sweep.unique) == ("sweep_sessions", None, 17, True)
    assert (reflect.name, reflect.hour, reflect.minute, reflect.unique) == ("generate_reflections", None, 41, True)
    assert (communities.name, communities.hour, communities.minute, communities.unique) == ("detect_communities", 4, 0, True)


async def test_operator_enqueues_a_job_by_name_from_the_command_line(settings, arq_pool, mongo_client, db):
    await db[SESSION_CONTEXTS].insert_one(context_doc("u", 1))
    env = {**os.environ, "REDIS_URL": settings.redis_url, "QUEUE_NAME": settings.queue_name}
    done = subprocess.run(
        [sys.executable, "-m", "worker", "enqueue", "decay_memories", "--now", (T0 + 2 * DAY).isoformat()],
        env=env, capture_output=True, text=True, timeout=30,
    )
    assert done.returncode == 0, done.stderr
    [job] = await arq_pool.queued_jobs()
    assert job.job_id == done.stdout.strip() and job.function == "decay_memories"
    await drain_queue(settings, mongo_client)
    assert await strengths(db) == pytest.approx([0.95**2], abs=1e-9)

    bad = subprocess.run([sys.executable, "-m", "worker", "enqueue", "no_such_job"], env=env, capture_output=True, text=True, timeout=30)
    from worker.__main__ import JOB_NAMES

    assert bad.returncode != 0 and bad.stderr.strip() == f"unknown job 'no_such_job': one of {', '.join(JOB_NAMES)}"
    assert {"extract_session_context", "decay_memories", "sweep_sessions"} <= set(JOB_NAMES)


# Reinforcement and recall ----------------------------------------------------------------


async def test_a_point_said_again_reinforces_instead_of_duplicating(api, settings, mongo_client, db, stub_llm):
    login = await api.new_user()
    await api.chat(login, "I want to run a marathon")
    await drain_queue(settings, mongo_client)
    first = await db[SESSION_CONTEXTS].find_one({})
    await db[SESSION_CONTEXTS].update_one({"_id": first["_id"]}, {"$set": {"strength": 0.4}})

    again = await api.login(login.email, login.password, login.user_id)
    await api.chat(again, "i want to   run a MARATHON!", "I prefer trails")
    await drain_queue(settings, mongo_client)

    first = await db[SESSION_CONTEXTS].find_one({"session_id": login.session_id})
    [point] = first["context_points"]
    assert point["mentions"] == 2 and first["strength"] == 1.0
    assert point["last_seen_at"] > point["first_seen_at"]
    second = await db[SESSION_CONTEXTS].find_one({"session_id": again.session_id})
    assert [p["content"] for p in second["context_points"]] == ["I prefer trails"]


async def test_recall_puts_summary_and_strongest_points_in_the_prompt_as_data(api, db, stub_llm, redis_url):
    login = await api.new_user()
    now = datetime.now(UTC)
    strong = context_doc(login.user_id, 1, created_at=now, strength=1.0)
    strong["context_points"][0].update(content="Finish the thesis by June", importance=0.9)
    weak = context_doc(login.user_id, 2, created_at=now, strength=0.1)
    weak["context_points"][0].update(content="Likes green tea", importance=1.0)  # 0.1 x 1.0 = 0.1
    middle = context_doc(login.user_id, 3, created_at=now, strength=0.8)
    middle["context_points"][0].update(content="Runs on Sundays", importance=0.5)  # 0.4
    await db[SESSION_CONTEXTS].insert_many([weak, middle, strong])
    await db[SUMMARIES].insert_one(
        {
            "user_id": login.user_id, "status": "done", "text": "Doctoral student under deadline pressure.",
            "key_points": [], "covered_session_ids": [], "period": {"start": now, "end": now},
            "strength": 1.0, "decayed_at": now, "created_at": now,
        }
    )

    await api.chat(login, "How should I plan this week?")
    [request] = stub_llm.chat_requests
    instructions, data = request["system"].split("\n<memory>\n")
    assert "Doctoral student under deadline pressure." in data
    order = [data.index(text) for text in ("Finish the thesis by June", "Runs on Sundays", "Likes green tea")]
    assert order == sorted(order)
    assert "thesis" not in instructions

    memory = await api.memory(login)
    scores = {c["points"][0]["content"]: c["points"][0]["score"] for c in memory["contexts"]}
    assert scores["Finish the thesis by June"] == pytest.approx(0.9, abs=1e-6)
    assert scores["Likes green tea"] == pytest.approx(0.1, abs=1e-6)


async def test_recall_limit_is_a_setting(db, redis_url):
    from shared.recall import recall

    settings = make_settings(redis_url, recall_points=2)
    now = datetime.now(UTC)
    await db[SESSION_CONTEXTS].insert_many([context_doc("u", n, created_at=now) for n in range(5)])
    assert len((await recall(db, "u", settings)).points) == 2


async def test_memory_shows_current_strength(api, db):
    login = await api.new_user()
    three_days_ago = datetime.now(UTC) - 3 * DAY
    await db[SESSION_CONTEXTS].insert_one(context_doc(login.user_id, 1, created_at=three_days_ago))
    [context] = (await api.memory(login))["contexts"]
    assert context["strength"] == pytest.approx(0.95**3, abs=1e-4)
    assert context["score"] == pytest.approx(0.95**3 * 0.5, abs=1e-4)


async def test_offline_reply_draws_on_recalled_memory(redis_url, mongo_client):
    from service.app import create_app
    from tests.support.client import Api, reply_text
    from tests.support.servers import serve_app

    settings = make_settings(redis_url, llm_provider="offline")
    db = mongo_client[settings.mongodb_db_name]
    async with serve_app(create_app(settings, mongo_client=mongo_client)) as url, Api(url) as api:
        login = await api.new_user()
        doc = context_doc(login.user_id, 1, created_at=datetime.now(UTC))
        doc["context_points"][0].update(content="Run a marathon in May")
        await db[SESSION_CONTEXTS].insert_one(doc)
        [frames] = await api.chat(login, "hello")
        assert 'I remember your goal: "Run a marathon in May"' in reply_text(frames)
