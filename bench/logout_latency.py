"""Logout latency while the LLM is slow: the figure issue 2 asks for.

Starts a private redis-server, the stub Messages API (answering in --llm-latency seconds)
and the product (`python -m allinone`: service and worker on one event loop, sharing the
in-memory database) on loopback. --logouts users each chat one turn; then they log out one
after another (concurrency 1) while the extractions of the earlier logouts are waiting on
the slow LLM in the same process. Reports the logout latency distribution, and waits until
the stub has seen every extraction, to show the work was really done behind the logouts.

    .venv/bin/python -m bench.logout_latency --logouts 100 --llm-latency 3
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import time
import uuid
from contextlib import ExitStack
from typing import Any

import httpx
import websockets

from allinone.redis_process import RedisProcess, free_port

PY = sys.executable


def spawn(args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen([PY, *args], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


async def wait_http(url: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient() as client:
        while time.monotonic() < deadline:
            try:
                await client.get(url)
                return
            except httpx.TransportError:
                await asyncio.sleep(0.1)
    raise RuntimeError(f"{url} did not come up")


async def new_chatted_user(http: httpx.AsyncClient, ws_base: str) -> tuple[str, Any]:
    """A user who has chatted one turn, with the socket left open so that only the logout
    triggers the extraction (closing it later enqueues the same job id, which arq drops)."""
    email, password = f"bench-{uuid.uuid4().hex[:12]}@example.com", "bench-password"
    (await http.post("/api/v1/auth/register", json={"email": email, "password": password})).raise_for_status()
    login = (await http.post("/api/v1/auth/login", json={"email": email, "password": password})).json()
    ws = await websockets.connect(f"{ws_base}/ws/chat?token={login['access_token']}")
    await ws.send('{"type": "message", "content": "I want to get fitter this year"}')
    while '"done"' not in await ws.recv():
        pass
    return login["access_token"], ws


async def measure(service_url: str, stub_url: str, logouts: int) -> tuple[list[float], int, int]:
    ws_base = service_url.replace("http://", "ws://")
    async with httpx.AsyncClient(base_url=service_url, timeout=30) as http:
        gate = asyncio.Semaphore(25)

        async def prepare() -> tuple[str, Any]:
            async with gate:
                return await new_chatted_user(http, ws_base)

        users = await asyncio.gather(*(prepare() for _ in range(logouts)))
        await http.post(f"{stub_url}/_stub/config", json={"reset": True})
        latencies = []
        for token, _ in users:
            started = time.perf_counter()
            response = await http.post("/api/v1/auth/logout", headers={"Authorization": f"Bearer {token}"})
            latencies.append(time.perf_counter() - started)
            response.raise_for_status()
        await asyncio.gather(*(ws.close() for _, ws in users))
        # Bounded wait: every extraction should reach the stub within a few LLM latencies.
        deadline = time.monotonic() + 120
        stats = {"extractions": 0, "max_in_flight": 0}
        while stats["extractions"] < logouts and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
            stats = (await http.get(f"{stub_url}/_stub/stats")).json()
        return latencies, stats["extractions"], stats["max_in_flight"]


def main() -> None:
    parser = argparse.ArgumentParser(description="logout latency with a slow LLM")
    parser.add_argument("--logouts", type=int, default=100)
    parser.add_argument("--llm-latency", type=float, default=3.0)
    args = parser.parse_args()

    with ExitStack() as stack:
        redis = stack.enter_context(RedisProcess())
        stub_port, service_port = free_port(), free_port()
        env = {
            **os.environ,
            "REDIS_URL": redis.url,
            "MONGODB_URI": os.environ.get("BENCH_MONGODB_URI", "memory://"),
            "JWT_SECRET": "bench-secret-bench-secret-bench-secret",
            "ANTHROPIC_API_KEY": "bench-key",
            "ANTHROPIC_BASE_URL": f"http://127.0.0.1:{stub_port}",
            "LLM_PROVIDER": "anthropic",
            "REGISTRATIONS_PER_HOUR_PER_ADDRESS": "1000000",  # its many users register from one address
        }
        env["PORT"] = str(service_port)
        procs = [
            spawn(["-m", "tests.support.stub_llm", "--port", str(stub_port), "--latency", str(args.llm_latency)], env),
            spawn(["-m", "allinone"], env),
        ]
        for proc in procs:
            stack.callback(lambda p=proc: (p.terminate(), p.wait(10)))
        service_url = f"http://127.0.0.1:{service_port}"
        asyncio.run(wait_http(f"http://127.0.0.1:{stub_port}/_stub/stats"))
        asyncio.run(wait_http(f"{service_url}/healthz"))
        latencies, extractions, in_flight = asyncio.run(measure(service_url, f"http://127.0.0.1:{stub_port}", args.logouts))
        latencies.sort()

    ms = [x * 1000 for x in latencies]
    q = statistics.quantiles(ms, n=100)
    print(f"logouts: {len(ms)}   stub LLM latency: {args.llm_latency:.1f} s")
    print(f"median {statistics.median(ms):.1f} ms   p95 {q[94]:.1f} ms   p99 {q[98]:.1f} ms   max {ms[-1]:.1f} ms")
    print(f"extraction requests the stub LLM received: {extractions}; most LLM calls in flight at once: {in_flight}")


if __name__ == "__main__":
    main()
