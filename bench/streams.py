"""Many users holding reply streams open: what one process holds, what Redis holds, and
whether another user notices (issue 25, item 1).

    .venv/bin/python -m bench.streams                 # 50 users, writes its section of docs/benchmarks.md
    .venv/bin/python -m bench.streams --users 5 --out /tmp/x   # a quick run

Real processes on loopback (bench/harness.py): redis-server, the stub Messages API and the
all-in-one (service and worker in one process). The stub writes each reply slowly (2 s a
word), so the streams stay open. Each user posts one message, signs in a second time, and
opens reply streams on its reply until refused (MAX_STREAMS_PER_USER 20,
MAX_STREAMS_PER_SESSION 10: 10 on each session, then 429). While they are all held open, a
bystander posts messages and reads its first chunk (each reply cancelled after it). Figures:
streams held per user and in the process, refusals, Redis clients before/during/after (per
1,000 open streams), the process's open descriptors, the bystander's first chunk.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import resource
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
from redis.asyncio import Redis

from bench import sections
from bench.harness import ROOT, Stack, machine, percentiles

BEGIN, END = "<!-- streams: written by python -m bench.streams -->", "<!-- /streams -->"
ATTEMPTS_PER_SESSION = 11  # one past MAX_STREAMS_PER_SESSION


async def sign_in(http: httpx.AsyncClient, email: str | None = None) -> tuple[str, dict[str, str]]:
    if email is None:
        email = f"bench-{uuid.uuid4().hex[:10]}@example.com"
        assert (await http.post("/api/v1/auth/register", json={"email": email, "password": "bench password"})).status_code == 201
    body = (await http.post("/api/v1/auth/login", json={"email": email, "password": "bench password"})).json()
    return email, {"Authorization": f"Bearer {body['access_token']}"}


async def hold_stream(stack: contextlib.AsyncExitStack, http: httpx.AsyncClient, url: str, headers: dict[str, str]) -> int:
    response = await stack.enter_async_context(http.stream("GET", url, headers=headers, timeout=120))
    if response.status_code == 200:
        lines = response.aiter_lines()
        stack.push_async_callback(lines.aclose)  # type: ignore[attr-defined]  # an async generator
        await anext(lines)  # `retry:`: the stream is open
    else:
        await response.aread()
    return response.status_code


async def first_chunk_ms(http: httpx.AsyncClient, email: str) -> float:
    """One message from a fresh session (one reply in flight per session), to its first chunk."""
    _, headers = await sign_in(http, email)
    started = time.perf_counter()
    accepted = (await http.post("/api/v1/chat/messages", json={"content": "hello"}, headers=headers)).json()
    async with http.stream("GET", accepted["stream_url"], headers=headers, timeout=60) as response:
        async for line in response.aiter_lines():
            if line == "event: chunk":
                break
    elapsed = (time.perf_counter() - started) * 1000
    await http.delete(f"/api/v1/chat/replies/{accepted['reply_id']}", headers=headers)
    return elapsed


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


async def run(users: int, samples: int) -> dict[str, Any]:
    async with Stack() as stack:
        stub = await stack.stub_llm(0.0)
        url, proc = await stack.allinone(ANTHROPIC_BASE_URL=stub)
        limits = httpx.Limits(max_connections=None, max_keepalive_connections=None)
        async with httpx.AsyncClient(base_url=url, limits=limits, timeout=60) as http, httpx.AsyncClient() as control:
            assert stack.redis is not None
            redis = Redis.from_url(stack.redis.url)
            bystander = (await sign_in(http))[0]
            baseline = [await first_chunk_ms(http, bystander) for _ in range(samples)]
            await control.post(f"{stub}/_stub/config", json={"reply_text": " ".join(["slow"] * 60), "chunk_delay": 2.0})
            clients_before, fds_before = len(await redis.client_list()), open_fds(proc.pid)
            async with contextlib.AsyncExitStack() as held:
                statuses: list[list[int]] = []
                started = time.perf_counter()
                for _ in range(users):
                    email, first = await sign_in(http)
                    _, second = await sign_in(http, email)
                    stream_url = (await http.post("/api/v1/chat/messages", json={"content": "hi"}, headers=first)).json()[
                        "stream_url"
                    ]
                    sessions = [first] * ATTEMPTS_PER_SESSION + [second] * ATTEMPTS_PER_SESSION
                    statuses.append(list(await asyncio.gather(*(hold_stream(held, http, stream_url, s) for s in sessions))))
                opened_s = time.perf_counter() - started
                open_streams = sum(s.count(200) for s in statuses)
                clients_during, fds_during = len(await redis.client_list()), open_fds(proc.pid)
                during = [await first_chunk_ms(http, bystander) for _ in range(samples)]
            await asyncio.sleep(1.0)
            clients_after, fds_after = len(await redis.client_list()), open_fds(proc.pid)
            await redis.aclose()
    return {
        "users": users,
        "streams_held_per_user": sorted({s.count(200) for s in statuses}),
        "refused_per_user": sorted({sum(code == 429 for code in s) for s in statuses}),
        "other_statuses": sorted({code for s in statuses for code in s} - {200, 429}),
        "streams_open_in_process": open_streams,
        "seconds_to_open_them": round(opened_s, 1),
        "redis_clients": {"before": clients_before, "during": clients_during, "after": clients_after},
        "redis_clients_per_1000_streams": round((clients_during - clients_before) * 1000 / max(1, open_streams), 1),
        "process_fds": {"before": fds_before, "during": fds_during, "after": fds_after},
        "bystander_first_chunk_ms": {"baseline": percentiles(baseline), "during": percentiles(during)},
    }


def section(result: dict[str, Any]) -> str:
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    clients, fds, first = result["redis_clients"], result["process_fds"], result["bystander_first_chunk_ms"]
    return "\n".join(
        [
            BEGIN,
            f"## Reply streams held open (`python -m bench.streams --users {result['users']}`, {when})",
            "",
            f"{machine()['cpu']}. The all-in-one with its defaults (MAX_STREAMS_PER_USER 20, MAX_STREAMS_PER_SESSION 10);",
            f"{result['users']} users each open streams on their own slow reply, 11 on each of two sessions.",
            "",
            "| figure | value |",
            "| --- | --- |",
            f"| streams held per user (the rest: 429) | {result['streams_held_per_user']} (refused: {result['refused_per_user']}) |",
            f"| streams open in the process | {result['streams_open_in_process']} |",
            f"| Redis clients before / during / after | {clients['before']} / {clients['during']} / {clients['after']} |",
            f"| Redis clients per 1,000 open streams | {result['redis_clients_per_1000_streams']} |",
            f"| process file descriptors before / during / after | {fds['before']} / {fds['during']} / {fds['after']} |",
            f"| another user's first chunk, p50 / max, before (ms) | {first['baseline']['p50']:.0f} / {first['baseline']['max']:.0f} |",
            f"| another user's first chunk, p50 / max, during (ms) | {first['during']['p50']:.0f} / {first['during']['max']:.0f} |",
            "",
            "The Redis clients are the bounded pools (streams 32, service 64, the worker's own) and the one reader,",
            "not a connection per stream: they do not grow with the number of streams.",
            "Before issue 25: one user held 2,000 streams; Redis clients 10 → 2,009 and kept after they closed;",
            "another user's first chunk 16-28 ms → up to 373 ms.",
            END,
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.streams")
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--samples", type=int, default=5, help="bystander messages before and during")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks.md")
    options = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, options.users * 50 + 512)), hard))
    result = asyncio.run(run(options.users, options.samples))
    print(json.dumps(result))
    sections.write_section(options.out, section(result), BEGIN, END)


if __name__ == "__main__":
    main()
