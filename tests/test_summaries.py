"""Summaries: the threshold, one job per burst, claims that never overlap, resuming a dead run."""

from __future__ import annotations

import asyncio

from bson import ObjectId

from shared.store.messages import store_message
from shared.store.mongo import SESSION_CONTEXTS, SUMMARIES
from tests.support.job_ctx import job_ctx
from tests.support.memory_docs import T0, add_contexts
from tests.support.settings import make_settings
from tests.support.worker import drain_queue
from worker.summarize import summarize_sessions

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


async def test_offline_provider_summarizes_too(redis_url, mongo_client, arq_pool):
    from shared.llm.offline import OfflineProvider

    settings = make_settings(redis_url, llm_provider="offline")
    db = mongo_client[settings.mongodb_db_name]
    await add_contexts(db, "u", 8)
    outcome = await summarize_sessions(job_ctx(settings, db, arq_pool, llm=OfflineProvider()), "u")
    summary = await db[SUMMARIES].find_one({})
    assert outcome["covered"] == 3
    assert summary["key_points"] == ["goal: goal number 0", "goal: goal number 1", "goal: goal number 2"]
    assert summary["text"].startswith("[offline coach] 3 sessions")
