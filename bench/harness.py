"""What every benchmark stands on: real processes on loopback, and honest arithmetic.

A private `redis-server`, the stub Messages API (its latency a parameter), the service
under uvicorn, and arq workers, each its own process, stopped by pid when the run ends.
"""

from __future__ import annotations

import asyncio
import os
import platform
import statistics
import subprocess
import sys
import tempfile
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import httpx

from allinone.redis_process import RedisProcess, free_port

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable

# Cheap password hashing: the logout benchmark logs in thousands of sessions, and login is
# not what it measures. Everything else is the product's default.
BENCH_ENV = {
    "MONGODB_URI": "memory://",
    # Each process then holds a store of its own: the benchmarks seed what a worker reads.
    "ALLOW_IN_MEMORY_MONGODB": "true",
    "JWT_SECRET": "bench-secret-bench-secret-bench-secret-0",
    "LLM_PROVIDER": "anthropic",
    "ANTHROPIC_API_KEY": "bench-key",
    "PASSWORD_HASH_TIME_COST": "1",
    "PASSWORD_HASH_MEMORY_KIB": "1024",
    # A benchmark registers its many users from one address.
    "REGISTRATIONS_PER_HOUR_PER_ADDRESS": "1000000",
}


def percentiles(values_ms: list[float]) -> dict[str, float]:
    ordered = sorted(values_ms)
    q = statistics.quantiles(ordered, n=100, method="inclusive") if len(ordered) > 1 else [ordered[0]] * 99
    return {"p50": q[49], "p95": q[94], "p99": q[98], "max": ordered[-1], "n": len(ordered)}


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM for the process")


def machine() -> dict[str, Any]:
    mem_kib = next(
        int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines() if line.startswith("MemTotal:")
    )
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    redis_version = subprocess.run(["redis-server", "--version"], capture_output=True, text=True).stdout.split()[2]
    return {
        "cores": os.cpu_count(),
        "memory_gib": round(mem_kib / 1024 / 1024, 1),
        "cpu": cpu,
        "python": platform.python_version(),
        "redis": redis_version.removeprefix("v="),
    }


class Stack:
    """Start processes; every one is stopped, by pid, when the `async with` ends."""

    def __init__(self) -> None:
        self._exit = AsyncExitStack()
        self.redis: RedisProcess | None = None

    async def __aenter__(self) -> Stack:
        await self._exit.__aenter__()
        self.redis = self._exit.enter_context(RedisProcess())
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._exit.__aexit__(*exc)

    def env(self, **extra: str) -> dict[str, str]:
        assert self.redis is not None
        return {**os.environ, **BENCH_ENV, "REDIS_URL": self.redis.url, "PYTHONPATH": str(ROOT), **extra}

    async def spawn(self, *args: str, env: dict[str, str]) -> asyncio.subprocess.Process:
        proc = await asyncio.create_subprocess_exec(
            PY, *args, env=env, cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
        )

        async def stop() -> None:
            if proc.returncode is None:
                proc.terminate()
                try:
                    await asyncio.wait_for(proc.wait(), 10)
                except TimeoutError:
                    proc.kill()
                    await proc.wait()

        self._exit.push_async_callback(stop)
        # Drain its output so a chatty process never blocks on a full pipe.
        asyncio.get_running_loop().create_task(self._drain(proc))
        return proc

    @staticmethod
    async def _drain(proc: asyncio.subprocess.Process) -> None:
        assert proc.stdout is not None
        while await proc.stdout.readline():
            pass

    async def stub_llm(self, latency: float) -> str:
        port = free_port()
        await self.spawn("-m", "tests.support.stub_llm", "--port", str(port), "--latency", str(latency), env=self.env())
        url = f"http://127.0.0.1:{port}"
        await wait_http(f"{url}/_stub/stats")
        return url

    async def service(self, **env: str) -> str:
        url, _ = await self.service_process(**env)
        return url

    async def service_process(self, *uvicorn_args: str, **env: str) -> tuple[str, asyncio.subprocess.Process]:
        """The service under uvicorn (extra arguments go to uvicorn): its URL and process."""
        port = free_port()
        proc = await self.spawn(
            "-m",
            "uvicorn",
            "service.app:create_app",
            "--factory",
            "--port",
            str(port),
            "--log-level",
            "warning",
            "--no-access-log",
            *uvicorn_args,
            env=self.env(**env),
        )
        url = f"http://127.0.0.1:{port}"
        await wait_http(f"{url}/healthz")
        return url, proc

    async def allinone(self, **env: str) -> tuple[str, asyncio.subprocess.Process]:
        """The product as `scripts/run` runs it (service and both workers in one process,
        one in-memory store): what a chat needs, since the service and the worker writing
        its replies must share a database. Its URL and process."""
        port = free_port()
        extra = {"PORT": str(port), "RUNTIME_DIR": tempfile.mkdtemp(prefix="bench-allinone-"), **env}
        environment = {k: v for k, v in self.env(**extra).items() if k != "ALLOW_IN_MEMORY_MONGODB"}
        proc = await self.spawn("-m", "allinone", env=environment)
        url = f"http://127.0.0.1:{port}"
        await wait_http(f"{url}/healthz", seconds=60)
        async with httpx.AsyncClient() as client:  # ready: both its workers beat
            for _ in range(600):
                if (await client.get(f"{url}/readyz")).status_code == 200:
                    return url, proc
                await asyncio.sleep(0.05)
        raise RuntimeError("the all-in-one did not become ready in 30 s")

    async def worker(self, *args: str, **env: str) -> asyncio.subprocess.Process:
        """`python -m worker run` by default; other module args for a seeded one."""
        return await self.spawn(*(args or ("-m", "worker", "run")), env=self.env(**env))


async def wait_http(url: str, seconds: float = 30) -> None:
    async with httpx.AsyncClient() as client:
        for _ in range(int(seconds / 0.05)):
            try:
                (await client.get(url)).raise_for_status()
                return
            except httpx.TransportError:
                await asyncio.sleep(0.05)
    raise RuntimeError(f"{url} did not come up in {seconds}s")


async def wait_worker_ready(redis_url: str, queue_name: str = "arq:queue", seconds: float = 30) -> None:
    """arq writes its health-check key once the worker has started."""
    from redis.asyncio import Redis

    redis = Redis.from_url(redis_url)
    try:
        for _ in range(int(seconds / 0.05)):
            if await redis.exists(f"{queue_name}:health-check"):
                return
            await asyncio.sleep(0.05)
    finally:
        await redis.aclose()
    raise RuntimeError("the worker did not start")
