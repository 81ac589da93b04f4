"""Job status and metrics with 10,000 jobs in Redis: `GET /api/v1/jobs/{id}` latency and
the time of one `/metrics` scrape (which reads every queued job's definition).

    python -m bench.operations                 # 10,000 jobs, written to docs/benchmarks.md
    python -m bench.operations --jobs 200 --out /tmp/x

The service runs as its own process (uvicorn, one worker process, the in-memory MongoDB
stand-in); no arq worker runs, so the jobs stay in Redis: 9 in 10 queued, 1 in 10 deferred,
spread over the job functions. Requests are sequential, one connection: latency, not load.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import time
from pathlib import Path
from typing import Any

import httpx
from arq import create_pool
from arq.connections import RedisSettings

from bench import sections
from bench.harness import Stack, machine, percentiles

BEGIN, END = "<!-- operations: written by python -m bench.operations -->", "<!-- /operations -->"
FUNCTIONS = ("extract_session_context", "summarize_sessions", "decay_memories")


async def fill_redis(redis_url: str, jobs: int) -> None:
    pool = await create_pool(RedisSettings.from_dsn(redis_url))
    try:
        gate = asyncio.Semaphore(64)

        async def enqueue(i: int) -> None:
            async with gate:
                deferred = {"_defer_by": 3600} if i % 10 == 0 else {}
                await pool.enqueue_job(
                    FUNCTIONS[i % len(FUNCTIONS)], f"user-{i}", f"session-{i}", _job_id=f"bench:{i}", **deferred
                )

        await asyncio.gather(*(enqueue(i) for i in range(jobs)))
    finally:
        await pool.aclose()


METRICS_TOKEN = "bench-metrics-token-bench-metrics-token"


async def timed(http: httpx.AsyncClient, path: str, n: int, **kwargs: Any) -> list[float]:
    out = []
    for _ in range(n):
        started = time.perf_counter()
        response = await http.get(path, **kwargs)
        out.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, response.text
    return out


async def run(jobs: int, status_requests: int, scrapes: int) -> dict[str, Any]:
    async with Stack() as stack:
        url = await stack.service(METRICS_TOKEN=METRICS_TOKEN)  # how Prometheus reads /metrics
        await fill_redis(stack.redis.url, jobs - 1)
        async with httpx.AsyncClient(base_url=url, timeout=60) as http:
            credentials = {"email": "bench-ops@example.com", "password": "bench-password"}
            await http.post("/api/v1/auth/register", json=credentials)
            token = (await http.post("/api/v1/auth/login", json=credentials)).json()["access_token"]
            # The caller's own job: a logout's extraction, the 10,000th job in Redis.
            job_id = (await http.post("/api/v1/auth/logout", headers={"authorization": f"Bearer {token}"})).json()["job_id"]
            token = (await http.post("/api/v1/auth/login", json=credentials)).json()["access_token"]
            headers = {"authorization": f"Bearer {token}"}
            await timed(http, f"/api/v1/jobs/{job_id}", 20, headers=headers)  # warm-up
            status_ms = await timed(http, f"/api/v1/jobs/{job_id}", status_requests, headers=headers)
            scraper = {"authorization": f"Bearer {METRICS_TOKEN}"}
            scrape_ms = await timed(http, "/metrics", scrapes, headers=scraper)
            text = (await http.get("/metrics", headers=scraper)).text
    queued = sum(
        float(v) for v in re.findall(r'^coach_queue_jobs\{function="[^"]+",state="(?:queued|deferred)"\} (\S+)$', text, re.M)
    )
    return {
        "jobs_in_redis": jobs,
        "jobs_counted_by_metrics": int(queued),
        "job_status_ms": percentiles(status_ms),
        "metrics_scrape_ms": percentiles(scrape_ms),
        "machine": machine(),
    }


def section(r: dict[str, Any]) -> str:
    s, m = r["job_status_ms"], r["metrics_scrape_ms"]
    return f"""{BEGIN}
## Job status and metrics with {r["jobs_in_redis"]:,} jobs in Redis (`python -m bench.operations`, {time.strftime("%Y-%m-%d %H:%M", time.gmtime())} UTC)
The service as its own process, the in-memory MongoDB stand-in, no worker (so every job
stays queued or deferred), sequential requests on one connection.

| request | n | p50 ms | p95 ms | p99 ms | max ms |
| --- | --- | --- | --- | --- | --- |
| `GET /api/v1/jobs/{{id}}` (owner check in MongoDB, 4 Redis round trips) | {s["n"]} | {s["p50"]:.2f} | {s["p95"]:.2f} | {s["p99"]:.2f} | {s["max"]:.2f} |
| `GET /metrics` (reads all {r["jobs_counted_by_metrics"]:,} job definitions for queue depth by function) | {m["n"]} | {m["p50"]:.1f} | {m["p95"]:.1f} | {m["p99"]:.1f} | {m["max"]:.1f} |

The job status costs the same whatever the queue holds: it reads one job's keys. A scrape
grows with the queue: one sorted-set read, then one pipelined round trip per 1,000 jobs
(their definitions and in-progress marks), then unpickling each definition, which is CPU
on the service's event loop: other requests to that process wait that long. At 10,000
waiting jobs that is well inside Prometheus's default 10 s scrape timeout; a queue far
deeper than that would want a cached depth instead.
{END}"""


def write_section(path: Path, text: str) -> None:
    sections.write_section(path, text, BEGIN, END)


def carry_over(path: Path, text: str) -> str:
    """For `python -m bench`, which rewrites benchmarks.md: keep this benchmark's last section."""
    return sections.carry_over(path, text, BEGIN, END)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.operations", description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=10_000, help="jobs in Redis, the caller's own included")
    parser.add_argument("--requests", type=int, default=2_000, help="job status requests timed")
    parser.add_argument("--scrapes", type=int, default=30, help="/metrics scrapes timed")
    parser.add_argument("--out", type=Path, default=Path("docs"), help="benchmarks.md there gets this benchmark's section")
    args = parser.parse_args()
    result = asyncio.run(run(args.jobs, args.requests, args.scrapes))
    text = section(result)
    print(text)
    args.out.mkdir(parents=True, exist_ok=True)
    write_section(args.out / "benchmarks.md", text)
    (args.out / "benchmarks-operations.json").write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
