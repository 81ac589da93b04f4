"""3. Pickup latency: from enqueue to the moment an idle worker starts the job.

One `ping` job at a time into an idle worker; arq records both times on the job itself
(enqueue_time and start_time, millisecond resolution). Enqueued as the product enqueues
(shared/queue/arq_adapter/enqueue.py: with a nudge that wakes the worker), and again with
arq's plain enqueue (no nudge: what a lost nudge costs, the worker's next poll).

    python -m bench.pickup [JOBS]      # one run of this figure alone, printed
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

from arq.jobs import Job

from bench.harness import Stack, percentiles, wait_worker_ready
from shared.queue.arq_adapter.enqueue import enqueue
from shared.queue.arq_adapter.pool import open_pool_at


async def pickup_ms(pool: Any, nudged: bool) -> float:
    job_id = await enqueue(pool, "ping") if nudged else (await pool.enqueue_job("ping")).job_id
    job = Job(job_id, pool)
    await job.result(timeout=10, poll_delay=0.005)
    info = await job.result_info()
    assert info is not None
    return float((info.start_time - info.enqueue_time).total_seconds() * 1000)


async def run(stack: Stack, jobs: int, poll_delay: float) -> dict[str, Any]:
    assert stack.redis is not None
    await stack.worker(WORKER_POLL_DELAY_SECONDS=str(poll_delay))
    await wait_worker_ready(stack.redis.url)
    pool = await open_pool_at(stack.redis.url)
    try:
        nudged = [await pickup_ms(pool, nudged=True) for _ in range(jobs)]
        polled = [await pickup_ms(pool, nudged=False) for _ in range(jobs)]
    finally:
        await pool.aclose()
    return {
        "poll_delay_s": poll_delay,
        "pickup": percentiles(nudged),
        "pickup_without_nudge": percentiles(polled),
        "samples": nudged,
    }


async def alone(jobs: int) -> dict[str, Any]:
    async with Stack() as stack:
        result = await run(stack, jobs, 0.02)
    return {k: v for k, v in result.items() if k != "samples"}


if __name__ == "__main__":
    print(json.dumps(asyncio.run(alone(int(sys.argv[1]) if len(sys.argv) > 1 else 100)), indent=2))
