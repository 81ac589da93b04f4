"""Sessions that end without logout or socket close still reach memory, once; extractions
that find nothing store nothing, and are not read again."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from arq.jobs import Job
from bson import ObjectId

from shared.process.settings import SettingsError, load_settings
from shared.queue.jobs import enqueue_extraction, extract_job_id
from shared.store.mongo import CHAT_MESSAGES, EMPTY_EXTRACTIONS, FAILED_JOBS, SESSION_CONTEXTS, SESSIONS, SUMMARIES
from tests.support.job_ctx import job_ctx
from tests.support.settings import make_settings
from tests.support.worker import drain_queue
from worker.sweep import sweep_sessions

MINUTE = timedelta(minutes=1)


async def open_session(
    db, name: str, *, last_said: timedelta, expires_in: timedelta = timedelta(hours=12), revoked: bool = False
) -> str:
    """A login session `name` whose user said one thing and got one answer, the answer `last_said` ago."""
    now = datetime.now(UTC)
    await db[SESSIONS].insert_one(
        {
            "_id": name,
            "user_id": f"user-{name}",
            "created_at": now - timedelta(hours=1),
            "expires_at": now + expires_in,
            "revoked_at": now if revoked else None,
        }
    )
    for offset, role, content in ((1, "user", f"I want to remember {name}"), (0, "assistant", "Noted.")):
        await db[CHAT_MESSAGES].insert_one(
            {
                "_id": ObjectId(),
                "user_id": f"user-{name}",
                "session_id": name,
                "role": role,
                "content": content,
                "timestamp": now - last_said - offset * MINUTE,
            }
        )
    return name


def extracted_sessions(stub_llm) -> list[str]:
    """Which sessions reached the LLM, by the words each one's user said."""
    return [r["messages"][0]["content"].split("I want to remember ")[1].split("\n")[0] for r in stub_llm.extraction_requests]


async def extract_now(db, arq_pool, settings, mongo_client, session_id: str) -> None:
    await enqueue_extraction(db, arq_pool, 1.0, f"user-{session_id}", session_id)
    await drain_queue(settings, mongo_client)


async def test_sweep_extracts_ended_sessions_once_and_leaves_the_rest(settings, mongo_client, db, stub_llm, arq_pool):
    ctx = job_ctx(settings, db, arq_pool)
    idle = await open_session(db, "idle", last_said=40 * MINUTE)
    expired = await open_session(db, "expired", last_said=2 * MINUTE, expires_in=-MINUTE)
    active = await open_session(db, "active", last_said=2 * MINUTE)
    covered = await open_session(db, "covered", last_said=40 * MINUTE)
    revoked = await open_session(db, "revoked", last_said=40 * MINUTE, revoked=True)
    for session_id in (covered, revoked):  # their socket close or logout was extracted already
        await extract_now(db, arq_pool, settings, mongo_client, session_id)
    stub_llm.reset_counters()

    first = await sweep_sessions(ctx)
    second = await sweep_sessions(ctx)  # before any worker ran: the same job ids
    assert first["submitted"] == 2 and second["submitted"] == 2 and first["examined"] == 5
    await drain_queue(settings, mongo_client)
    assert await sweep_sessions(ctx) == {"examined": 5, "submitted": 0, "batch_full": False}
    await drain_queue(settings, mongo_client)

    assert sorted(extracted_sessions(stub_llm)) == sorted([idle, expired])
    assert await db[SESSION_CONTEXTS].count_documents({"session_id": {"$in": [idle, expired]}}) == 2
    assert await db[SESSION_CONTEXTS].count_documents({"session_id": active}) == 0


async def test_sweep_is_bounded_per_run_and_skips_dead_letters(redis_url, mongo_client, stub_llm, arq_pool):
    settings = make_settings(
        redis_url, llm_provider="anthropic", anthropic_api_key="k", anthropic_base_url=stub_llm.url, session_sweep_batch=2
    )
    db = mongo_client[settings.mongodb_db_name]
    ctx = job_ctx(settings, db, arq_pool)
    sessions = [await open_session(db, f"s{n}", last_said=(50 - n) * MINUTE) for n in range(3)]
    failed = await open_session(db, "failed", last_said=60 * MINUTE)
    newest = await db[CHAT_MESSAGES].find_one({"session_id": failed, "role": "assistant"})
    await db[FAILED_JOBS].insert_one(
        {
            "function": "extract_session_context",
            "job_id": extract_job_id(failed, str(newest["_id"])),
            "args": ["user-failed", failed],
            "resolved_at": None,
        }
    )

    assert (await sweep_sessions(ctx))["submitted"] == 2
    await drain_queue(settings, mongo_client)
    assert extracted_sessions(stub_llm) == sessions[:2]  # oldest first
    assert (await sweep_sessions(ctx))["submitted"] == 1
    await drain_queue(settings, mongo_client)
    assert extracted_sessions(stub_llm) == sessions  # the dead-lettered one waits for an operator


async def test_zero_points_store_nothing_count_nothing_and_are_not_read_again(settings, mongo_client, db, stub_llm, arq_pool):
    ctx = job_ctx(settings, db, arq_pool)
    user = "user-quiet"
    await db[SESSION_CONTEXTS].insert_many(  # one short of the summary threshold
        [
            {"user_id": user, "session_id": f"old-{n}", "summary_id": None, "context_points": [], "created_at": datetime.now(UTC)}
            for n in range(settings.summarize_threshold - 1)
        ]
    )
    quiet = await open_session(db, "quiet", last_said=40 * MINUTE)
    await db[CHAT_MESSAGES].update_many({"session_id": quiet}, {"$set": {"user_id": user}})
    stub_llm.points = []  # the model finds nothing worth keeping

    job_id = await enqueue_extraction(db, arq_pool, 1.0, user, quiet)
    await drain_queue(settings, mongo_client)
    assert await Job(job_id, arq_pool).result(timeout=5) == {"success": True, "context_id": None, "reason": "no_points"}
    assert await db[SESSION_CONTEXTS].count_documents({"session_id": quiet}) == 0
    assert await db[SUMMARIES].count_documents({}) == 0 and stub_llm.summary_requests == []
    mark = await db[EMPTY_EXTRACTIONS].find_one({"session_id": quiet})
    assert mark["reason"] == "no_points" and mark["covered"]["message_count"] == 2

    # Neither a fresh enqueue nor the sweep reads those messages again.
    await arq_pool.enqueue_job("extract_session_context", user, quiet, _job_id="again")
    await drain_queue(settings, mongo_client)
    assert (await Job("again", arq_pool).result(timeout=5))["reason"] == "up_to_date"
    assert (await sweep_sessions(ctx))["submitted"] == 0
    assert len(stub_llm.extraction_requests) == 1

    # A new message moves past the watermark: the session is read again.
    await db[CHAT_MESSAGES].insert_one(
        {
            "user_id": user,
            "session_id": quiet,
            "role": "user",
            "content": "I will rest",
            "timestamp": datetime.now(UTC) - 35 * MINUTE,
        }
    )
    stub_llm.points = None
    assert (await sweep_sessions(ctx))["submitted"] == 1
    await drain_queue(settings, mongo_client)
    assert len(stub_llm.extraction_requests) == 2
    assert await db[SESSION_CONTEXTS].count_documents({"session_id": quiet}) == 1


async def test_points_the_user_already_has_elsewhere_store_no_empty_context(settings, mongo_client, db, stub_llm, arq_pool):
    first = await open_session(db, "first", last_said=40 * MINUTE)
    await extract_now(db, arq_pool, settings, mongo_client, first)
    again = await open_session(db, "again", last_said=40 * MINUTE)
    await db[CHAT_MESSAGES].update_many({"session_id": again}, {"$set": {"user_id": "user-first"}})
    await db[CHAT_MESSAGES].update_one({"session_id": again, "role": "user"}, {"$set": {"content": "I want to remember first"}})

    job_id = await enqueue_extraction(db, arq_pool, 1.0, "user-first", again)
    await drain_queue(settings, mongo_client)
    assert (await Job(job_id, arq_pool).result(timeout=5))["reason"] == "no_new_points"
    assert await db[SESSION_CONTEXTS].count_documents({"session_id": again}) == 0
    [context] = await db[SESSION_CONTEXTS].find({}).to_list(None)
    assert context["context_points"][0]["mentions"] == 2  # reinforced instead


def test_a_lookback_shorter_than_the_idle_window_fails_at_start(monkeypatch):
    monkeypatch.setenv("SESSION_IDLE_MINUTES", "90")
    monkeypatch.setenv("SESSION_SWEEP_LOOKBACK_HOURS", "1")
    with pytest.raises(SettingsError, match="SESSION_SWEEP_LOOKBACK_HOURS must span more than SESSION_IDLE_MINUTES"):
        load_settings(_env_file=None)
