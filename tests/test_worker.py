"""The worker process's shape: one Motor client, many jobs in flight on one loop, no bridging."""

from __future__ import annotations

import re
from pathlib import Path

from arq import Worker

import shared.process.resources
from shared.store.messages import store_message
from shared.store.mongo import SESSION_CONTEXTS
from worker.arq_options import worker_options

ROOT = Path(__file__).resolve().parent.parent


async def test_many_jobs_share_one_motor_client_and_run_concurrently(settings, mongo_client, db, stub_llm, arq_pool, monkeypatch):
    made = []

    def counting_client(s):
        made.append(s)
        return mongo_client  # the test's database, so the jobs find their messages

    monkeypatch.setattr(shared.process.resources, "create_mongo_client", counting_client)
    stub_llm.hold_until_in_flight = 40  # no answer until all 40 are open (or 30 s: then the assert below fails)
    sessions = [f"session-{i}" for i in range(40)]
    for session_id in sessions:
        user_id = f"user-of-{session_id}"  # one session each: no summary is due
        await store_message(db, user_id, session_id, "user", f"I want to finish task {session_id}")
        await store_message(db, user_id, session_id, "assistant", "Good.")
        await arq_pool.enqueue_job("extract_session_context", user_id, session_id, _job_id=session_id)

    options = worker_options(settings)
    # Nothing injected: the worker makes its own client (memory:// alone, said on purpose).
    options["ctx"] = {"settings": settings.model_copy(update={"allow_in_memory_mongodb": True})}
    runner = Worker(**options, burst=True, handle_signals=False)
    await runner.main()
    await runner.close()

    assert len(made) == 1
    # 40 extractions, each refreshing its user's recall index itself (no job of its own).
    assert runner.jobs_complete == 40 and runner.jobs_failed == 0
    assert await db[SESSION_CONTEXTS].count_documents({}) == 40
    # All 40 LLM calls were open at once on the worker's one event loop.
    assert stub_llm.max_in_flight == 40


def test_worker_settings_is_what_the_arq_cli_loads(monkeypatch, redis_url):
    monkeypatch.setenv("WORKER_MAX_JOBS", "321")
    # Importing it runs the worker's start-up checks: a reachable Redis, memory:// on purpose.
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("ALLOW_IN_MEMORY_MONGODB", "true")
    import importlib

    import worker.settings

    module = importlib.reload(worker.settings)
    settings_cls = module.WorkerSettings
    assert [f.__name__ for f in settings_cls.functions] == [
        "extract_session_context",
        "summarize_sessions",
        "ping",
        "generate_reflection",
        "rebuild_recall_cache",
    ]
    assert sorted(c.name for c in settings_cls.cron_jobs) == [
        "cleanup_streams",
        "decay_memories",
        "detect_communities",
        "generate_reflections",
        "prune_memories",
        "sweep_sessions",
    ]
    assert settings_cls.max_jobs == 321
    assert settings_cls.job_timeout >= 60
    assert settings_cls.on_startup is worker.resources.startup and settings_cls.on_shutdown is worker.resources.shutdown


FORBIDDEN = re.compile(
    r"asyncio\.run\(|run_until_complete\(|new_event_loop\(|async_to_sync|asgiref|^\s*(import|from)\s+celery", re.M
)


def test_no_event_loop_bridging_or_cross_imports_in_product_code():
    offences = []
    for package in ("service", "worker", "shared"):
        for path in (ROOT / package).rglob("*.py"):
            text = path.read_text()
            # A command-line entry point starts its process's one loop; that is not bridging.
            if path.name != "__main__.py":
                offences += [f"{path.relative_to(ROOT)}: {m.group(0)}" for m in FORBIDDEN.finditer(text)]
            other = {"service": "worker", "worker": "service", "shared": "service|worker"}[package]
            offences += [
                f"{path.relative_to(ROOT)} imports {m.group(0).strip()}"
                for m in re.finditer(rf"^\s*(from|import)\s+({other})\b.*$", text, re.M)
            ]
    assert offences == []
