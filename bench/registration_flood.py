"""Another user's login during a flood of registrations, at the product's argon2 cost.

    .venv/bin/python -m bench.registration_flood                      # REGISTRATIONS_PER_HOUR_PER_ADDRESS default (20)
    .venv/bin/python -m bench.registration_flood --limit 1000000      # throttle out of the way: the hashing queue alone

One address (127.0.0.2) registers `--registrations` accounts with 1,024-character passwords,
`--concurrency` at a time; meanwhile an existing user logs in from 127.0.0.1, one login after
another, until the flood is over. Prints that user's login latency before and during the
flood, and how the registrations were answered. (Issue 25, before: 200 registrations at 40
at a time, all 201, took the login from 117-133 ms to 3.9-4.2 s.)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
import uuid
from collections import Counter
from typing import Any

import httpx

from bench.harness import Stack, percentiles

PASSWORD = "p" * 1024


async def timed_login(http: httpx.AsyncClient, credentials: dict[str, str]) -> float:
    started = time.perf_counter()
    response = await http.post("/api/v1/auth/login", json=credentials)
    response.raise_for_status()
    return (time.perf_counter() - started) * 1000


async def run(registrations: int, concurrency: int, limit: int | None) -> dict[str, Any]:
    extra = {"PASSWORD_HASH_TIME_COST": "3", "PASSWORD_HASH_MEMORY_KIB": "65536", "LLM_PROVIDER": "offline"}
    extra["REGISTRATIONS_PER_HOUR_PER_ADDRESS"] = str(limit or 20)
    async with Stack() as stack:
        url = await stack.service(**extra)
        flooder = httpx.AsyncHTTPTransport(local_address="127.0.0.2", limits=httpx.Limits(max_connections=concurrency))
        async with (
            httpx.AsyncClient(base_url=url, timeout=300) as user,
            httpx.AsyncClient(base_url=url, timeout=300, transport=flooder) as flood,
        ):
            credentials = {"email": "owner@example.com", "password": "the owner's password"}
            (await user.post("/api/v1/auth/register", json=credentials)).raise_for_status()
            before = [await timed_login(user, credentials) for _ in range(10)]
            statuses: Counter[int] = Counter()
            gate = asyncio.Semaphore(concurrency)

            async def register() -> None:
                async with gate:
                    email = f"flood-{uuid.uuid4().hex[:12]}@example.com"
                    response = await flood.post("/api/v1/auth/register", json={"email": email, "password": PASSWORD})
                    statuses[response.status_code] += 1

            started = time.perf_counter()
            flooding = asyncio.gather(*(register() for _ in range(registrations)))
            during: list[float] = []
            while not flooding.done():
                during.append(await timed_login(user, credentials))
            await flooding
            flood_seconds = time.perf_counter() - started
    return {
        "registrations": registrations,
        "concurrency": concurrency,
        "registrations_per_hour_per_address": limit or 20,
        "registration_statuses": dict(statuses),
        "flood_seconds": round(flood_seconds, 1),
        "login_ms_before": percentiles(before),
        "login_ms_during": percentiles(during),
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.registration_flood")
    parser.add_argument("--registrations", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=40)
    parser.add_argument("--limit", type=int, help="REGISTRATIONS_PER_HOUR_PER_ADDRESS (default: the product's, 20)")
    options = parser.parse_args()
    print(json.dumps(asyncio.run(run(options.registrations, options.concurrency, options.limit))))


if __name__ == "__main__":
    main()
