"""2. Extraction under LLM latency: N jobs through one worker process while the LLM takes seconds.

The worker is the real arq worker with our options (WORKER_MAX_JOBS=500); its in-memory
database is seeded with the sessions' messages (tests/support/seeded_worker.py), because
an in-process MongoDB stand-in cannot be shared between processes.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from arq import create_pool
from arq.connections import RedisSettings

from bench.harness import Stack, peak_rss_mb, wait_worker_ready


def seed_messages(sessions: int) -> list[dict[str, Any]]:
    now = datetime.now(UTC).isoformat()
    messages = []
    for n in range(sessions):
        for role, content in (("user", f"I want to reach goal {n}"), ("assistant", "Let's plan it.")):
            messages.append(
                {"user_id": f"user-{n}", "session_id": f"session-{n}", "role": role, "content": content, "timestamp": now}
            )
    return messages


async def run(stack: Stack, jobs: int, llm_latency: float) -> dict[str, Any]:
    stub = await stack.stub_llm(llm_latency)
    seed = Path(tempfile.mkdtemp(prefix="bench-seed-")) / "messages.json"
    seed.write_text(json.dumps(seed_messages(jobs)))
    worker = await stack.worker("-m", "tests.support.seeded_worker", str(seed), ANTHROPIC_BASE_URL=stub)
    await wait_worker_ready(stack.redis.url)
    pool = await create_pool(RedisSettings.from_dsn(stack.redis.url))
    try:
        started = time.perf_counter()
        for n in range(jobs):
            await pool.enqueue_job("extract_session_context", f"user-{n}", f"session-{n}")
        while True:  # done when every job has left the queue and stored its result
            if await pool.zcard("arq:queue") == 0 and len(await pool.keys("arq:result:*")) >= jobs:
                break
            await asyncio.sleep(0.02)
        drain = time.perf_counter() - started
        rss = peak_rss_mb(worker.pid)
    finally:
        await pool.aclose()
    async with httpx.AsyncClient() as http:
        stats = (await http.get(f"{stub}/_stub/stats")).json()
    return {
        "jobs": jobs,
        "llm_latency_s": llm_latency,
        "drain_s": drain,
        "jobs_per_s": jobs / drain,
        "max_in_flight": stats["max_in_flight"],
        "llm_calls": stats["extractions"],
        "peak_rss_mb": rss,
    }
