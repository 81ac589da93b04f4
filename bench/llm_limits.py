"""`python -m bench.llm_limits`: what the LLM traffic control costs and what it achieves.

1. The limiter's cost per LLM call: Redis round trips and µs (admit; admit + settle when
   tokens are limited too), against a private redis-server, beside a bare PING.
2. Achieved requests per window against LLM_REQUESTS_PER_MINUTE, with 1 and 3 worker
   processes draining a backlog of extractions (counted at the stub LLM). The window is
   scaled to LLM_RATE_WINDOW_SECONDS=1 (a per-minute limit 60x faster; same scripts).
3. A chat reply's first chunk, idle vs. with a backlog of extractions throttled by the
   limit, with chat's reserved share (LLM_CHAT_RESERVED_SHARE=0.2) and without it (0).

It writes its own section of docs/benchmarks.md (`--write`); `python -m bench` carries it over.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import websockets
from arq import create_pool
from arq.connections import RedisSettings
from redis.asyncio import Redis

from allinone.redis_process import RedisProcess
from bench import sections
from bench.extraction import seed_messages
from bench.harness import Stack, machine, wait_worker_ready
from shared.llm.limiter import LLMLimiter
from shared.process.settings import Settings

BEGIN, END = "<!-- llm_limits: written by python -m bench.llm_limits -->", "<!-- /llm_limits -->"
DOCS = Path(__file__).resolve().parent.parent / "docs"


# -- 1. cost per call ------------------------------------------------------------------


async def limiter_cost(calls: int) -> dict[str, Any]:
    with RedisProcess() as server:
        redis = Redis.from_url(server.url)
        try:
            ping = await _timed(calls, lambda: redis.ping())
            out = {"ping_us": ping}
            for name, limits in (
                ("requests", {"llm_requests_per_minute": 10**6}),
                ("requests_and_tokens", {"llm_requests_per_minute": 10**6, "llm_tokens_per_minute": 10**9}),
            ):
                await redis.flushall()
                limiter = LLMLimiter(redis, Settings(_env_file=None, **limits))  # type: ignore[call-arg]

                async def one(limiter: LLMLimiter = limiter) -> None:  # bound now: the loop rebinds it
                    async with limiter.admit("extraction", 500) as admission:
                        admission.settle(700)

                out[name] = await _timed(calls, one)
                out[name]["round_trips"] = 2 if "tokens" in name else 1
                out[name]["window_entries_at_end"] = calls
            return out
        finally:
            await redis.aclose()


async def _timed(calls: int, call: Any) -> dict[str, float]:
    await call()
    samples = []
    for _ in range(calls):
        started = time.perf_counter()
        await call()
        samples.append((time.perf_counter() - started) * 1e6)
    q = statistics.quantiles(samples, n=100)
    return {"p50": round(q[49], 1), "p99": round(q[98], 1), "n": calls}


# -- 2. achieved rate with 1 and 3 workers ------------------------------------------------


def most_in_any_window(times: list[float], window: float) -> int:
    times, most, start = sorted(times), 0, 0
    for end, t in enumerate(times):
        while t - times[start] >= window:
            start += 1
        most = max(most, end - start + 1)
    return most


async def achieved_rate(workers: int, limit: int, seconds: float) -> dict[str, Any]:
    jobs = int(limit * seconds)
    async with Stack() as stack:
        stub = await stack.stub_llm(0.05)
        seed = Path(tempfile.mkdtemp(prefix="bench-llm-")) / "messages.json"
        seed.write_text(json.dumps(seed_messages(jobs)))
        env = {
            "ANTHROPIC_BASE_URL": stub,
            "LLM_REQUESTS_PER_MINUTE": str(limit),
            "LLM_RATE_WINDOW_SECONDS": "1",
            "LLM_CHAT_RESERVED_SHARE": "0",
        }
        for _ in range(workers):
            await stack.worker("-m", "tests.support.seeded_worker", str(seed), **env)
        await wait_worker_ready(stack.redis.url)
        pool = await create_pool(RedisSettings.from_dsn(stack.redis.url))
        try:
            for n in range(jobs):
                await pool.enqueue_job("extract_session_context", f"user-{n}", f"session-{n}")
            while len(await pool.keys("arq:result:*")) < jobs:
                await asyncio.sleep(0.1)
        finally:
            await pool.aclose()
        async with httpx.AsyncClient() as http:
            times = sorted((await http.get(f"{stub}/_stub/stats")).json()["request_times"])
    span = times[-1] - times[0]
    # Requests per window over the run, the last window included (the limiter admits in
    # bursts as the window turns, so requests / span would count one burst too many).
    per_window = len(times) / (span + 1.0)
    return {
        "workers": workers,
        "limit_per_window": limit,
        "requests": len(times),
        "span_s": round(span, 2),
        "achieved_per_window": round(per_window, 2),
        "achieved_share": round(per_window / limit, 3),
        "most_in_any_window": most_in_any_window(times, 1.0),
    }


# -- 3. chat first chunk, idle and under a backlog ----------------------------------------


async def first_chunk_ms(service: str, samples: int) -> list[float]:
    async with httpx.AsyncClient(base_url=service) as http:
        email = f"bench-{time.time_ns()}@example.com"
        await http.post("/api/v1/auth/register", json={"email": email, "password": "correct horse"})
        token = (await http.post("/api/v1/auth/login", json={"email": email, "password": "correct horse"})).json()["access_token"]
    out = []
    async with websockets.connect(service.replace("http", "ws") + f"/ws/chat?token={token}") as ws:
        for n in range(samples):
            started = time.perf_counter()
            await ws.send(json.dumps({"type": "message", "content": f"a quick question {n}"}))
            first = None
            while True:
                frame = json.loads(await ws.recv())
                if frame["type"] == "chunk" and first is None:
                    first = (time.perf_counter() - started) * 1000
                if frame["type"] in ("done", "error"):
                    break
            assert first is not None, frame
            out.append(first)
            await asyncio.sleep(0.25)  # chat's pace: a person typing, not a flood
    return out


async def chat_under_backlog(backlog: int, limit: int, share: float, samples: int) -> dict[str, Any]:
    async with Stack() as stack:
        stub = await stack.stub_llm(0.2)
        env = {
            "ANTHROPIC_BASE_URL": stub,
            "LLM_REQUESTS_PER_MINUTE": str(limit),
            "LLM_RATE_WINDOW_SECONDS": "1",
            "LLM_CHAT_RESERVED_SHARE": str(share),
            "CHAT_MESSAGES_PER_MINUTE": "1000",
        }
        # The chat: the all-in-one (a reply's service and worker share its store), its own
        # background worker on a queue nobody fills. The backlog: a background-only worker
        # seeded with the sessions, on the default queue. One Redis, so one rate window.
        service, _ = await stack.allinone(**env, QUEUE_NAME="bench:unused")
        seed = Path(tempfile.mkdtemp(prefix="bench-llm-")) / "messages.json"
        seed.write_text(json.dumps(seed_messages(backlog)))
        await stack.worker("-m", "tests.support.seeded_worker", str(seed), "background", **env)
        await wait_worker_ready(stack.redis.url)
        idle = await first_chunk_ms(service, samples)
        pool = await create_pool(RedisSettings.from_dsn(stack.redis.url))
        try:
            for n in range(backlog):
                await pool.enqueue_job("extract_session_context", f"user-{n}", f"session-{n}")
            await asyncio.sleep(2)  # the backlog is up against the limit
            busy = await first_chunk_ms(service, samples)
            queued = await pool.zcard("arq:queue")
        finally:
            await pool.aclose()
    p50_idle, p50_busy = statistics.median(idle), statistics.median(busy)
    return {
        "backlog": backlog,
        "limit_per_window": limit,
        "chat_reserved_share": share,
        "samples": samples,
        "idle_p50_ms": round(p50_idle, 1),
        "idle_max_ms": round(max(idle), 1),
        "backlog_p50_ms": round(p50_busy, 1),
        "backlog_max_ms": round(max(busy), 1),
        "ratio_p50": round(p50_busy / p50_idle, 3),
        "jobs_still_queued_after": queued,
    }


# -- report ------------------------------------------------------------------------------


def markdown(results: dict[str, Any], command: str) -> str:
    cost, m = results["cost"], results["machine"]
    lines = [
        BEGIN,
        "## LLM traffic control (`python -m bench.llm_limits`)",
        f"Run {results['when']} with `{command}` on {m['cores']} cores ({m['cpu']}), Python {m['python']}, Redis {m['redis']};",
        "the machine is shared with other work, so read the figures as orders of magnitude.",
        "",
        "**Limiter cost per LLM call** (a private redis-server on loopback; the window holding "
        f"{cost['requests']['window_entries_at_end']:,} entries by the end):",
        "",
        "| what | Redis round trips | p50 µs | p99 µs |",
        "| --- | --- | --- | --- |",
        f"| bare PING (for scale) | 1 | {cost['ping_us']['p50']} | {cost['ping_us']['p99']} |",
        f"| admit, LLM_REQUESTS_PER_MINUTE only | 1 | {cost['requests']['p50']} | {cost['requests']['p99']} |",
        f"| admit + settle, requests and LLM_TOKENS_PER_MINUTE | 2 | {cost['requests_and_tokens']['p50']} | {cost['requests_and_tokens']['p99']} |",
        "",
        "The token check sums the window's entries in Lua (O(calls in the window)); against an LLM call of seconds either is noise.",
        "",
        "**Achieved rate against the limit**, LLM_RATE_WINDOW_SECONDS=1 (a per-minute limit run 60x faster), stub LLM 50 ms, "
        "LLM_CHAT_RESERVED_SHARE=0 (all of it for background):",
        "",
        "| workers | limit / window | requests | achieved / window | share of limit | most in any 1-s window at the stub |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for r in results["rate"]:
        lines.append(
            f"| {r['workers']} | {r['limit_per_window']} | {r['requests']} | {r['achieved_per_window']} | {r['achieved_share']:.0%} | {r['most_in_any_window']} |"
        )
    lines += [
        "",
        "Each call counts until a window after it ended (so that no window *at the provider* holds more than the limit, "
        "whatever the delay between admission and arrival), so the steady rate is limit x W / (W + call time): with a 1-s "
        "window and a 50 ms stub that is 95% at best; with the real 60-s window and calls of a few seconds, some 95% too. "
        "The stub's windows are measured on arrival.",
    ]
    lines += [
        "",
        "**Chat first chunk, idle vs. under a throttled backlog** (stub LLM answers after 200 ms; one service, one worker, "
        "limit per 1-s window as shown; the backlog enqueued, then 2 s later the chat samples):",
        "",
        "| backlog | limit / window | chat reserved share | idle p50 ms | backlog p50 ms | backlog / idle | backlog max ms | jobs still queued |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in results["chat"]:
        lines.append(
            f"| {r['backlog']:,} | {r['limit_per_window']} | {r['chat_reserved_share']} | {r['idle_p50_ms']} | {r['backlog_p50_ms']} | "
            f"{r['ratio_p50']:.2f} | {r['backlog_max_ms']} | {r['jobs_still_queued_after']:,} |"
        )
    lines += [
        "",
        "With the reserve, chat's calls find their share of the window free however long the backlog; without it they wait for a "
        "place in a window the backlog keeps full.",
        END,
    ]
    return "\n".join(lines)


def write_section(path: Path, text: str) -> None:
    sections.write_section(path, text, BEGIN, END)


def carry_over(path: Path, text: str) -> str:
    """For `python -m bench`, which rewrites benchmarks.md: keep this benchmark's last section."""
    return sections.carry_over(path, text, BEGIN, END)


async def run(quick: bool) -> dict[str, Any]:
    from datetime import UTC, datetime

    results: dict[str, Any] = {"when": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"), "machine": machine()}
    results["cost"] = await limiter_cost(200 if quick else 2_000)
    limit, seconds = (10, 2) if quick else (20, 10)
    results["rate"] = [await achieved_rate(workers, limit, seconds) for workers in (1, 3)]
    backlog, samples = (50, 3) if quick else (2_000, 10)
    results["chat"] = [await chat_under_backlog(backlog, 20, share, samples) for share in (0.2, 0.0)]
    return results


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.llm_limits", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes (a smoke test); never written to docs/")
    parser.add_argument("--write", action="store_true", help="write the section of docs/benchmarks.md")
    args = parser.parse_args()
    results = asyncio.run(run(args.quick))
    command = "python -m bench.llm_limits" + (" --quick" if args.quick else "")
    text = markdown(results, command)
    print(json.dumps(results, indent=2))
    print(text)
    if args.write and not args.quick:
        write_section(DOCS / "benchmarks.md", text)
        (DOCS / "benchmarks-llm-limits.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
