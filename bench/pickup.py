"""3. Pickup latency: from enqueue to the moment an idle worker starts the job.

One `ping` job at a time into an idle worker; arq records both times on the job itself
(enqueue_time and start_time, millisecond resolution).
"""

from __future__ import annotations

from typing import Any

from arq import create_pool
from arq.connections import RedisSettings
from arq.jobs import Job

from bench.harness import Stack, percentiles, wait_worker_ready


async def run(stack: Stack, jobs: int, poll_delay: float) -> dict[str, Any]:
    await stack.worker(WORKER_POLL_DELAY_SECONDS=str(poll_delay))
    await wait_worker_ready(stack.redis.url)
    pool = await create_pool(RedisSettings.from_dsn(stack.redis.url))
    pickups = []
    try:
        for _ in range(jobs):
            job = await pool.enqueue_job("ping")
            await job.result(timeout=10, poll_delay=0.005)
            info = await Job(job.job_id, pool).result_info()
            pickups.append((info.start_time - info.enqueue_time).total_seconds() * 1000)
    finally:
        await pool.aclose()
    return {"poll_delay_s": poll_delay, "pickup": percentiles(pickups), "samples": pickups}
