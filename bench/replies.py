"""`python -m bench.replies`: replies written by the worker and streamed through Redis.

The product runs as `scripts/run` runs it (the all-in-one: service and worker in one
process, one event loop), against a private redis-server and the stub Messages API in
processes of their own; the load generator is this process. Two figures (issue 11):

1. Time to first chunk: from just before `POST /api/v1/chat/messages` to the first `chunk`
   event read from the reply's SSE stream, with CONCURRENCY replies at once, against the
   stub's own time to first delta for the same number of direct streaming calls. The
   difference is what the worker, the queue and Redis add.
2. LARGE replies at once, each streamed by the stub over about 2 s (20 words, 0.1 s
   apart), all followed over SSE: how many complete, the peak in flight at the stub, the
   all-in-one's peak RSS, and Redis memory per active stream.

It writes its own section of docs/benchmarks.md (`--write`); `python -m bench` carries it over.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from pathlib import Path
from typing import Any

import httpx
from redis.asyncio import Redis

from bench import sections
from bench.harness import Stack, machine, peak_rss_mb, percentiles

BEGIN, END = "<!-- replies: written by python -m bench.replies -->", "<!-- /replies -->"
DOCS = Path(__file__).resolve().parent.parent / "docs"
WORDS_2S = " ".join(f"word{i}" for i in range(20))  # 20 chunks, 0.1 s apart: about 2 s


async def first_delta_direct(http: httpx.AsyncClient, stub: str) -> float:
    """The stub's own time to first delta, read the way the Anthropic SDK reads it (ms)."""
    body = {"model": "m", "max_tokens": 64, "stream": True, "messages": [{"role": "user", "content": "hi"}]}
    started = time.perf_counter()
    first: float | None = None
    async with http.stream("POST", f"{stub}/v1/messages", json=body, headers={"x-api-key": "k"}) as response:
        async for line in response.aiter_lines():  # read to the end, as the SDK does
            if line == "event: content_block_delta" and first is None:
                first = (time.perf_counter() - started) * 1000
    if first is None:
        raise RuntimeError("the stub sent no delta")
    return first


async def reply_through_product(http: httpx.AsyncClient, token: str) -> tuple[float, bool, float]:
    """POST a message, follow its stream to the end: (ms to the first chunk, ended with done,
    ms from the first chunk's XADD to its arrival here). The last uses the stream entry id,
    which is Redis's clock in ms when the worker wrote the chunk (same machine, same clock)."""
    headers = {"Authorization": f"Bearer {token}"}
    started = time.perf_counter()
    accepted = await http.post("/api/v1/chat/messages", json={"content": "I want to run a marathon"}, headers=headers)
    accepted.raise_for_status()
    first: float | None = None
    relay = 0.0
    event = entry_id = ""
    async with http.stream("GET", accepted.json()["stream_url"], headers=headers) as response:
        async for line in response.aiter_lines():
            if line.startswith("id: "):
                entry_id = line[4:]
            if line.startswith("event: "):
                event = line[7:]
                if event == "chunk" and first is None:
                    first = (time.perf_counter() - started) * 1000
                    relay = time.time() * 1000 - int(entry_id.split("-")[0])
                if event in ("done", "error"):
                    break
    assert first is not None, "no chunk before the stream ended"
    return first, event == "done", relay


async def register(http: httpx.AsyncClient, count: int) -> list[str]:
    gate = asyncio.Semaphore(20)

    async def one(i: int) -> str:
        async with gate:
            creds = {"email": f"bench-{i}-{time.monotonic_ns()}@example.com", "password": "bench password"}
            (await http.post("/api/v1/auth/register", json=creds)).raise_for_status()
            login = await http.post("/api/v1/auth/login", json=creds)
            login.raise_for_status()
            return str(login.json()["access_token"])

    return await asyncio.gather(*(one(i) for i in range(count)))


async def configure_stub(stub: str, **config: Any) -> None:
    async with httpx.AsyncClient() as client:
        (await client.post(f"{stub}/_stub/config", json=config)).raise_for_status()


async def first_chunk(stub: str, url: str, tokens: list[str], rounds: int) -> dict[str, Any]:
    await configure_stub(stub, chunk_delay=0.0, reply_text="Stub coach reply: keep going, one step at a time.")
    # Idle connections are dropped before uvicorn's 5 s keep-alive ends: a request sent on a
    # connection the server is closing fails with ReadError, and httpx does not resend a POST.
    limits = httpx.Limits(max_connections=None, max_keepalive_connections=None, keepalive_expiry=2)
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as http:
        direct: list[float] = []
        product: list[float] = []
        relay: list[float] = []
        await asyncio.gather(*(reply_through_product(http, t) for t in tokens))  # warm-up, not counted
        for _ in range(rounds):
            direct += await asyncio.gather(*(first_delta_direct(http, stub) for _ in tokens))
            outcomes = await asyncio.gather(*(reply_through_product(http, t) for t in tokens))
            assert all(done for _, done, _ in outcomes), "a reply did not end with done"
            product += [ms for ms, _, _ in outcomes]
            relay += [r for _, _, r in outcomes]
    d, p, r = percentiles(direct), percentiles(product), percentiles(relay)
    return {
        "concurrency": len(tokens),
        "rounds": rounds,
        "stub_direct_ms": d,
        "product_ms": p,
        "relay_ms": r,
        "added_p50_ms": round(p["p50"] - d["p50"], 2),
        "added_p99_ms": round(p["p99"] - d["p99"], 2),
    }


async def many_at_once(stub: str, url: str, redis_url: str, pid: int, tokens: list[str]) -> dict[str, Any]:
    await configure_stub(stub, chunk_delay=0.1, reply_text=WORDS_2S, reset=True)
    redis = Redis.from_url(redis_url)
    baseline = int((await redis.info("memory"))["used_memory"])
    peak: dict[str, int] = {"in_flight": 0, "streams": 0, "redis_bytes": 0}
    stop = asyncio.Event()

    async def sample() -> None:
        async with httpx.AsyncClient() as client:
            while not stop.is_set():
                stats = (await client.get(f"{stub}/_stub/stats")).json()
                if stats["streams_open"] > peak["in_flight"]:
                    used = int((await redis.info("memory"))["used_memory"])
                    streams = len([k async for k in redis.scan_iter(match="reply:stream:*", count=1000)])
                    peak.update(in_flight=stats["streams_open"], streams=streams, redis_bytes=used - baseline)
                await asyncio.sleep(0.1)

    sampler = asyncio.create_task(sample())
    limits = httpx.Limits(max_connections=None, max_keepalive_connections=None, keepalive_expiry=2)
    started = time.perf_counter()
    async with httpx.AsyncClient(base_url=url, timeout=120, limits=limits) as http:
        outcomes = await asyncio.gather(*(reply_through_product(http, t) for t in tokens), return_exceptions=True)
    seconds = time.perf_counter() - started
    stop.set()
    await sampler
    await redis.aclose()
    done = sum(1 for o in outcomes if isinstance(o, tuple) and o[1])
    # Per reply in flight at the peak: the streams of earlier phases are in the baseline.
    errors = sorted({f"{type(o).__name__}: {o}"[:120] for o in outcomes if isinstance(o, BaseException)})
    return {
        "replies": len(tokens),
        "completed": done,
        "errors": errors[:5],
        "seconds": round(seconds, 1),
        "peak_in_flight_at_stub": peak["in_flight"],
        "peak_rss_mb": round(peak_rss_mb(pid), 1),
        "redis_kib_per_active_stream": round(peak["redis_bytes"] / max(1, peak["in_flight"]) / 1024, 1),
        "streams_at_peak": peak["streams"],
    }


async def run(concurrency: int, rounds: int, large: int) -> dict[str, Any]:
    async with Stack() as stack:
        assert stack.redis is not None
        stub = await stack.stub_llm(0.0)
        url, proc = await stack.allinone(
            ANTHROPIC_BASE_URL=stub,
            CHAT_MESSAGES_PER_MINUTE="100000",
            LLM_MAX_CONCURRENCY=str(2 * large),  # the product's 500 would cap the run, not measure it
            WORKER_CHAT_MAX_JOBS=str(2 * large),
            REDIS_TIMEOUT_SECONDS="10",  # a burst of `large` POSTs queues on two cores
        )
        async with httpx.AsyncClient(base_url=url, timeout=60) as http:
            tokens = await register(http, max(concurrency, large))
        alone = await first_chunk(stub, url, tokens[:1], rounds * 10)
        latency = await first_chunk(stub, url, tokens[:concurrency], rounds)
        big = await many_at_once(stub, url, stack.redis.url, proc.pid, tokens[:large])
        return {"first_chunk_alone": alone, "first_chunk": latency, "many": big}


def section(results: dict[str, Any]) -> str:
    m = machine()
    f, big, one = results["first_chunk"], results["many"], results["first_chunk_alone"]
    d, p, r = f["stub_direct_ms"], f["product_ms"], f["relay_ms"]
    d1, p1, r1 = one["stub_direct_ms"], one["product_ms"], one["relay_ms"]
    return f"""{BEGIN}
## Replies through the worker and Redis (`python -m bench.replies --write`, issue 11)
The all-in-one as `scripts/run` starts it, on {m["cores"]} cores shared with the stub, Redis
and the load generator. Stub replies: first delta at once.

| figure | one reply at a time ({one["rounds"]} replies) | {f["concurrency"]} replies at once × {f["rounds"]} rounds | goal |
| --- | --- | --- | --- |
| POST to the first SSE chunk, p50 / p99 | {p1["p50"]:.1f} / {p1["p99"]:.1f} ms | {p["p50"]:.1f} / {p["p99"]:.1f} ms | |
| the stub's own first delta, direct, p50 / p99 | {d1["p50"]:.1f} / {d1["p99"]:.1f} ms | {d["p50"]:.1f} / {d["p99"]:.1f} ms | |
| added by service + queue + worker + Redis, p50 / p99 | {one["added_p50_ms"]:.1f} / {one["added_p99_ms"]:.1f} ms | {f["added_p50_ms"]:.1f} / {f["added_p99_ms"]:.1f} ms | ≤ 10 / ≤ 30 ms at 100 |
| of which the relay: the first chunk's XADD to its arrival at the client, p50 / p99 | {r1["p50"]:.1f} / {r1["p99"]:.1f} ms | {r["p50"]:.1f} / {r["p99"]:.1f} ms | |

| figure | result |
| --- | --- |
| {big["replies"]} replies of about 2 s sent at once, followed over SSE: completed (goal: all) | {big["completed"]} of {big["replies"]} in {big["seconds"]} s |
| peak replies in flight at the stub | {big["peak_in_flight_at_stub"]} |
| all-in-one peak RSS | {big["peak_rss_mb"]} MB |
| Redis memory per reply in flight (at the peak) | {big["redis_kib_per_active_stream"]} KiB |

Errors seen in the large run: {", ".join(big["errors"]) or "none"}.
{END}"""


def carry_over(previous: Path, text: str) -> str:
    return sections.carry_over(previous, text, BEGIN, END)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.replies", description=__doc__.splitlines()[0])
    parser.add_argument("--concurrency", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--large", type=int, default=1000)
    parser.add_argument("--quick", action="store_true", help="10 at once, 1 round, 20 large")
    parser.add_argument("--write", action="store_true", help="write the section into docs/benchmarks.md")
    args = parser.parse_args()
    if args.quick:
        args.concurrency, args.rounds, args.large = 10, 1, 20
    results = asyncio.run(run(args.concurrency, args.rounds, args.large))
    print(json.dumps(results, indent=2))
    text = section(results)
    print(text)
    if args.write and not args.quick:
        sections.write_section(DOCS / "benchmarks.md", text, BEGIN, END)
        (DOCS / "benchmarks-replies.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
