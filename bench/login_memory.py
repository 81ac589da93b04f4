"""Memory of the service under concurrent logins, at the product's argon2 cost (64 MiB each).

    .venv/bin/python -m bench.login_memory --logins 64                  # PASSWORD_HASH_CONCURRENCY default (cores)
    .venv/bin/python -m bench.login_memory --logins 64 --hash-concurrency 64   # as before the limit

Prints the service process's resident memory before, and its peak (VmHWM) after the logins,
and how long the burst took: the limit trades a queue of logins for bounded memory.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time

import httpx

from bench.harness import Stack, peak_rss_mb


def current_rss_mb(pid: int) -> float:
    for line in open(f"/proc/{pid}/status").read().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


async def run(logins: int, hash_concurrency: int | None) -> dict[str, float]:
    extra = {"PASSWORD_HASH_TIME_COST": "3", "PASSWORD_HASH_MEMORY_KIB": "65536", "LLM_PROVIDER": "offline"}
    if hash_concurrency:
        extra["PASSWORD_HASH_CONCURRENCY"] = str(hash_concurrency)
    async with Stack() as stack:
        url, proc = await stack.service_process(**extra)
        pid = proc.pid
        credentials = {"email": "mem@example.com", "password": "password1"}
        async with httpx.AsyncClient(base_url=url, timeout=300, limits=httpx.Limits(max_connections=logins)) as http:
            (await http.post("/api/v1/auth/register", json=credentials)).raise_for_status()
            before = current_rss_mb(pid)
            started = time.perf_counter()
            answers = await asyncio.gather(*(http.post("/api/v1/auth/login", json=credentials) for _ in range(logins)))
            seconds = time.perf_counter() - started
        assert all(a.status_code == 200 for a in answers), {a.status_code for a in answers}
        return {
            "logins": logins,
            "rss_before_mb": round(before),
            "peak_rss_mb": round(peak_rss_mb(pid)),
            "seconds": round(seconds, 2),
        }


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.login_memory")
    parser.add_argument("--logins", type=int, default=64)
    parser.add_argument("--hash-concurrency", type=int, help="PASSWORD_HASH_CONCURRENCY (default: the service's: cores)")
    options = parser.parse_args()
    print(json.dumps(asyncio.run(run(options.logins, options.hash_concurrency))))


if __name__ == "__main__":
    main()
