"""The memory crons: decay, expiry, prune, and each cron firing once across workers."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime

import pytest
from arq import Worker
from bson import ObjectId

from shared.store.mongo import SESSION_CONTEXTS, SUMMARIES
from tests.support.job_ctx import changed, job_ctx
from tests.support.memory_docs import DAY, T0, context_doc
from tests.support.settings import make_settings
from tests.support.worker import drain_queue
from worker.arq_options import cron_jobs, worker_options
from worker.decay import decay_memories, prune_memories

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


async def test_decay_switched_off_changes_nothing(redis_url, mongo_client, arq_pool):
    settings = make_settings(redis_url, enable_memory_decay=False)
    db = mongo_client[settings.mongodb_db_name]
    await db[SESSION_CONTEXTS].insert_one(context_doc("u", 1, expires_at=T0))
    assert (await decay_memories(job_ctx(settings, db, arq_pool), now=T0 + 5 * DAY))["skipped"] is True
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
    assert (await prune_memories(changed(ctx, settings=off), now=now + 1000 * DAY))["skipped"] is True
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
    runner = Worker(
        **{**worker_options(settings), "ctx": {"settings": settings, "mongo_client": mongo_client}},
        burst=True,
        handle_signals=False,
    )
    await runner.main()
    await runner.close()
    assert runner.jobs_complete == 1
    assert (await db[SESSION_CONTEXTS].find_one({}))["decayed_at"] > datetime(2025, 1, 2, tzinfo=UTC)


def test_crons_are_declared_for_02_and_03_utc_and_hourly():
    decay, prune, sweep, reflect, communities, streams = cron_jobs()
    assert (decay.name, decay.hour, decay.minute, decay.unique) == ("decay_memories", 2, 0, True)
    assert (prune.name, prune.hour, prune.minute, prune.unique) == ("prune_memories", 3, 0, True)
    assert (sweep.name, sweep.hour, sweep.minute, sweep.unique) == ("sweep_sessions", None, 17, True)
    assert (reflect.name, reflect.hour, reflect.minute, reflect.unique) == ("generate_reflections", None, 41, True)
    assert (communities.name, communities.hour, communities.minute, communities.unique) == ("detect_communities", 4, 0, True)
    assert (streams.name, streams.hour, streams.minute, streams.unique) == ("cleanup_streams", None, 53, True)


@pytest.mark.slow  # a product process (python -m ...)
async def test_operator_enqueues_a_job_by_name_from_the_command_line(settings, arq_pool, mongo_client, db):
    await db[SESSION_CONTEXTS].insert_one(context_doc("u", 1))
    env = {**os.environ, "REDIS_URL": settings.redis_url, "QUEUE_NAME": settings.queue_name}
    done = subprocess.run(
        [sys.executable, "-m", "worker", "enqueue", "decay_memories", "--now", (T0 + 2 * DAY).isoformat()],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0, done.stderr
    [job] = await arq_pool.queued_jobs()
    assert job.job_id == done.stdout.strip() and job.function == "decay_memories"
    await drain_queue(settings, mongo_client)
    assert await strengths(db) == pytest.approx([0.95**2], abs=1e-9)

    bad = subprocess.run(
        [sys.executable, "-m", "worker", "enqueue", "no_such_job"], env=env, capture_output=True, text=True, timeout=30
    )
    from worker.__main__ import JOB_NAMES

    assert bad.returncode != 0 and bad.stderr.strip() == f"unknown job 'no_such_job': one of {', '.join(JOB_NAMES)}"
    assert {"extract_session_context", "decay_memories", "sweep_sessions"} <= set(JOB_NAMES)
