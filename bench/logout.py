"""1. Logout latency and throughput, beside an authenticated no-op in the same run.

The no-op is `GET /api/v1/auth/session`: the same token check as logout (JWT + one
session read), nothing else. Logout adds the revocation write, the newest-message read
and the arq enqueue (Redis). Concurrency 1 gives the latency a user feels; concurrency 64
what one service process sustains. No LLM is involved: logout never awaits one.

The load comes from wrk (C, one thread): a Python client tops out near 570 requests/s on
these two cores even against /healthz, where wrk drives the same service to about 14,000.

Measured in batches of BATCH sessions, each on a fresh service process and Redis. The
in-memory MongoDB stand-in has no real indexes: every query scans every document (and its
TTL emulation scans them again), so with thousands of sessions in one process the figures
measure mongomock, not the service (py-spy: 92% of service CPU in mongomock at 10,000
sessions). An indexed lookup on a MongoDB server does not grow that way; batches keep the
collection small so the figures show the service's own path.
"""

from __future__ import annotations

import asyncio
import json
import signal
import tempfile
import uuid
from pathlib import Path
from typing import Any

import httpx

from bench.harness import Stack

CONCURRENCY = 64
BATCH = 200
SCRIPT = Path(__file__).with_name("tokens.lua")


async def login_many(http: httpx.AsyncClient, count: int) -> list[str]:
    credentials = {"email": f"bench-{uuid.uuid4().hex[:10]}@example.com", "password": "bench-password"}
    (await http.post("/api/v1/auth/register", json=credentials)).raise_for_status()
    gate = asyncio.Semaphore(16)

    async def one() -> str:
        async with gate:
            response = await http.post("/api/v1/auth/login", json=credentials)
            response.raise_for_status()
            return response.json()["access_token"]

    return await asyncio.gather(*(one() for _ in range(count)))


async def wrk(url: str, method: str, path: str, tokens: list[str], measured: int, connections: int) -> dict[str, Any]:
    token_file = Path(tempfile.mkstemp(prefix="bench-tokens-", suffix=".txt")[1])
    token_file.write_text("\n".join(tokens))
    command = [
        "wrk",
        "-t1",
        f"-c{connections}",
        "-d300s",
        "--timeout",
        "10s",
        "-s",
        str(SCRIPT),
        url,
        "--",
        str(token_file),
        method,
        path,
        str(measured),
    ]
    proc = await asyncio.create_subprocess_exec(*command, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    assert proc.stdout is not None
    try:
        while (line := await asyncio.wait_for(proc.stdout.readline(), 120)) and line.strip() != b"measured":
            pass
        proc.send_signal(signal.SIGINT)
        rest, _ = await asyncio.wait_for(proc.communicate(), 30)
    finally:
        if proc.returncode is None:
            proc.kill()
        token_file.unlink()
    result = json.loads(rest.decode().strip().splitlines()[-1])
    if result["non2xx"] or result["errors"]:
        raise RuntimeError(f"{method} {path}: {result['non2xx']} non-2xx answers, {result['errors']} socket errors")
    return result


async def run_batch(stack: Stack, size: int) -> dict[str, dict[str, Any]]:
    url = await stack.service()
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        # c1 logouts, c64 logouts with a spare per connection, and no-op tokens the same way.
        tokens = await login_many(http, 2 * size + CONCURRENCY + 1)
    serial, parallel = tokens[: size + 1], tokens[size + 1 :]
    await wrk(url, "GET", "/api/v1/auth/session", serial[:50], 50, 1)  # warm-up
    return {
        "noop_c1": await wrk(url, "GET", "/api/v1/auth/session", serial, size, 1),
        "logout_c1": await wrk(url, "POST", "/api/v1/auth/logout", serial, size, 1),
        "noop_c64": await wrk(url, "GET", "/api/v1/auth/session", parallel, size, CONCURRENCY),
        "logout_c64": await wrk(url, "POST", "/api/v1/auth/logout", parallel, size, CONCURRENCY),
    }


def merge(runs: list[dict[str, Any]]) -> dict[str, float]:
    """Percentiles across batches, each weighted by its request count (batches are equal-sized)."""
    n = sum(r["requests"] for r in runs)
    merged = {k: sum(r[k] * r["requests"] for r in runs) / n for k in ("p50", "p95", "p99")}
    merged["max"] = max(r["max"] for r in runs)
    merged["n"] = n
    return merged


async def run(logouts: int) -> dict[str, Any]:
    batches: list[dict[str, dict[str, Any]]] = []
    done = 0
    while done < logouts:
        size = min(BATCH, logouts - done)
        async with Stack() as stack:
            batches.append(await run_batch(stack, size))
        done += size
    runs = {name: [b[name] for b in batches] for name in batches[0]}
    logout, noop = merge(runs["logout_c1"]), merge(runs["noop_c1"])

    def rate(name: str) -> float:
        return sum(r["requests"] for r in runs[name]) / (sum(r["duration_us"] for r in runs[name]) / 1e6)

    cdf = {name: [sum(r["cdf"][p] for r in runs[f"{name}_c1"]) / len(batches) for p in range(100)] for name in ("logout", "noop")}
    return {
        "logout_c1": logout,
        "noop_c1": noop,
        "ratio_p50": logout["p50"] / noop["p50"],
        "ratio_p99": logout["p99"] / noop["p99"],
        "logout_rps_c64": rate("logout_c64"),
        "noop_rps_c64": rate("noop_c64"),
        "batch": BATCH,
        "load_generator": "wrk, 1 thread",
        "cdf": cdf,
    }
