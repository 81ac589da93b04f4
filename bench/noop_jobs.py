"""4. No-op jobs through one worker: how fast arq and Redis move jobs, beside raw Redis.

Enqueues N `ping` jobs as fast as one client can (64 enqueues in flight) into a running
worker, then waits for every result. Redis round trips per job come from Redis's own
command counter (INFO stats), less the commands this script's polling sent.
"""

from __future__ import annotations

import asyncio
import re
import subprocess
import time
from typing import Any

from arq import create_pool
from arq.connections import RedisSettings

from bench.harness import Stack, wait_worker_ready


def redis_benchmark(port: int, requests: int) -> dict[str, float]:
    """Requests per second of plain SET and ZADD on the same server, one connection at a time in flight per client."""
    out = subprocess.run(
        ["redis-benchmark", "-h", "127.0.0.1", "-p", str(port), "-q", "-n", str(requests), "-c", "50", "-t", "set,zadd"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return {name.lower(): float(rps) for name, rps in re.findall(r"^(\w+): ([\d.]+) requests per second", out, re.M)}


async def run(stack: Stack, jobs: int) -> dict[str, Any]:
    await stack.worker()
    await wait_worker_ready(stack.redis.url)
    pool = await create_pool(RedisSettings.from_dsn(stack.redis.url))
    try:
        before = int((await pool.info("stats"))["total_commands_processed"])
        gate = asyncio.Semaphore(64)

        async def enqueue() -> None:
            async with gate:
                await pool.enqueue_job("ping")

        started = time.perf_counter()
        await asyncio.gather(*(enqueue() for _ in range(jobs)))
        enqueued = time.perf_counter() - started
        polls = 0
        while await pool.zcard("arq:queue") > 0:
            polls += 1
            await asyncio.sleep(0.01)
        done = time.perf_counter() - started
        # The info calls and polls below are this script's, not the jobs'.
        after = int((await pool.info("stats"))["total_commands_processed"])
        own_commands = polls + 2
    finally:
        await pool.aclose()
    return {
        "jobs": jobs,
        "enqueue_per_s": jobs / enqueued,
        "complete_per_s": jobs / done,
        "redis_commands_per_job": (after - before - own_commands) / jobs,
        "redis_benchmark": redis_benchmark(stack.redis.port, max(10_000, jobs * 4)),
    }
