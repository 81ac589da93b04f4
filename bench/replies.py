"""`python -m bench.replies`: replies written by the worker and streamed through Redis.

Three figures (issue 11), each on its own processes (a private redis-server, the stub
Messages API, and the product), the load generator being this process:

1. Through the worker and Redis: CONCURRENCY `generate_reply` jobs enqueued at once on a
   chat worker process (`python -m worker run --chat`, on a store seeded with the queued
   replies), each reply followed from its Redis stream. Time from the enqueue to the first
   chunk read, against the stub's own time to first delta for as many direct streaming
   calls at once; and the relay alone (the first chunk's XADD to its arrival).
2. LARGE replies at once on that one worker process, each streamed by the stub over about
   2 s (20 words, 0.1 s apart): how many complete, the peak in flight at the stub, the
   worker's peak RSS, and Redis memory per reply in flight.
3. The whole product as `scripts/run` starts it (the all-in-one: service and worker in one
   process): `POST /api/v1/chat/messages` to the first SSE chunk, one reply at a time and
   SMALL at once.

It writes its own section of docs/benchmarks.md (`--write`); `python -m bench` runs it too.

`--cpu ROUNDS`: instead, the worker's CPU per reply start (issue 22): rounds of CONCURRENCY
replies enqueued at once on a chat worker process (bench/overhead_worker.py `chat`: the
product's chat worker and logging, the stand-in metered), the process's CPU and the
stand-in's read by a snapshot job before and after each round; `--profile FILE` also
samples the worker with py-spy during the rounds (bench/cpu_profile.py).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import pickle
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from arq import ArqRedis, create_pool
from arq.connections import RedisSettings
from redis.asyncio import Redis

from bench import cpu_profile, sections
from bench.harness import Stack, machine, peak_rss_mb, percentiles, wait_worker_ready
from bench.worker_overhead import command_counts
from shared.queue.arq_adapter.enqueue import NUDGE_CAP
from shared.queue.arq_adapter.keys import job_key, nudge_key
from shared.queue.jobs import GENERATE_REPLY, reply_job_id
from shared.redis_structures.reply_stream import START, KeepAlive, ReplyStreams

CHAT_QUEUE = "arq:queue:chat"

BEGIN, END = "<!-- replies: written by python -m bench.replies -->", "<!-- /replies -->"
DOCS = Path(__file__).resolve().parent.parent / "docs"
FULL = {"concurrency": 100, "rounds": 5, "large": 1000, "small": 10}
QUICK = {"concurrency": 10, "rounds": 1, "large": 20, "small": 3}
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


async def direct_first_deltas(stub: str, count: int) -> list[float]:
    limits = httpx.Limits(max_connections=None, max_keepalive_connections=None, keepalive_expiry=2)
    async with httpx.AsyncClient(timeout=60, limits=limits) as http:
        return list(await asyncio.gather(*(first_delta_direct(http, stub) for _ in range(count))))


# -- 1 and 2: a chat worker process, its replies read from Redis ---------------------------


def seed_replies(count: int) -> dict[str, list[dict[str, Any]]]:
    """What the service leaves for each accepted message: the user's message, the queued reply,
    in a session still open (the service takes messages in open sessions only; a reply whose
    session has ended also enqueues its extraction)."""
    now = datetime.now(UTC).isoformat()
    expires = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    messages, replies, sessions = [], [], []
    for i in range(count):
        user, session, reply_id = f"u{i}", f"s{i}", f"r{i}"
        sessions.append({"_id": session, "user_id": user, "created_at": now, "expires_at": expires, "revoked_at": None})
        messages.append({"user_id": user, "session_id": session, "role": "user", "content": "I want to run", "timestamp": now})
        replies.append(
            {
                "_id": reply_id,
                "user_id": user,
                "session_id": session,
                "message_id": f"m{i}",
                "job_id": reply_job_id(reply_id),
                "status": "queued",
                "text": "",
                "attempts": 0,
                "created_at": now,
            }
        )
    return {"sessions": sessions, "chat_messages": messages, "replies": replies}


async def follow(streams: ReplyStreams, reply_id: str, enqueued: float) -> tuple[float, float, bool]:
    """(ms from the enqueue to the first chunk, ms from its XADD to here, ended with done)."""
    first = relay = -1.0
    async for event in streams.follow(reply_id, START, 30):
        if isinstance(event, KeepAlive):
            continue
        if event.event == "chunk" and first < 0:
            first = (time.perf_counter() - enqueued) * 1000
            relay = time.time() * 1000 - int(event.id.split("-")[0])
        if event.terminal:
            return first, relay, event.event == "done"
    return first, relay, False


class ChatWorker:
    """A chat worker process on a store seeded with `count` queued replies, r0, r1, ...
    `module`: the process's `-m` arguments before the seed file's path."""

    def __init__(self, stack: Stack, stub: str, count: int, module: tuple[str, ...] = ("tests.support.seeded_worker",)) -> None:
        self.stack, self.stub, self.count, self.module = stack, stub, count, module
        self.next = 0

    async def start(self) -> asyncio.subprocess.Process:
        seed = Path(tempfile.mkdtemp(prefix="bench-replies-")) / "seed.json"
        seed.write_text(json.dumps(seed_replies(self.count)))
        env = {
            "ANTHROPIC_BASE_URL": self.stub,
            "WORKER_CHAT_MAX_JOBS": str(2 * self.count),
            "LLM_MAX_CONCURRENCY": str(2 * self.count),  # the default 500 would cap the run, not measure it
        }
        args = (*self.module, str(seed), "chat") if self.module[0] == "tests.support.seeded_worker" else (*self.module, str(seed))
        self.proc = await self.stack.worker("-m", *args, **env)
        await wait_worker_ready(self.redis_url, "arq:queue:chat", seconds=60)
        return self.proc

    @property
    def redis_url(self) -> str:
        assert self.stack.redis is not None
        return self.stack.redis.url

    async def replies(self, count: int) -> list[tuple[float, float, bool]]:
        """Enqueue the next `count` replies at once and follow each to its end."""
        ids = [f"r{i}" for i in range(self.next, self.next + count)]
        self.next += count
        pool = await create_pool(RedisSettings.from_dsn(self.redis_url))
        redis = Redis.from_url(self.redis_url, max_connections=None)
        streams = ReplyStreams(redis, ttl_seconds=3600, max_entries=20_000, unfinished_ttl_seconds=7200)
        try:
            enqueued = time.perf_counter()
            followers = [asyncio.create_task(follow(streams, reply_id, enqueued)) for reply_id in ids]
            async with pool.pipeline(transaction=False) as pipe:  # all at once, as a burst of POSTs would
                for reply_id in ids:
                    job = {"t": 1, "f": GENERATE_REPLY, "a": (reply_id,), "k": {}, "et": int(time.time() * 1000)}
                    pipe.psetex(job_key(reply_job_id(reply_id)), 86_400_000, pickle.dumps(job))
                    pipe.zadd("arq:queue:chat", {reply_job_id(reply_id): int(time.time() * 1000)})
                    pipe.lpush(nudge_key("arq:queue:chat"), 1)  # as the adapter's enqueue does
                pipe.ltrim(nudge_key("arq:queue:chat"), 0, NUDGE_CAP - 1)
                await pipe.execute()
            return list(await asyncio.gather(*followers))
        finally:
            await pool.aclose()
            await redis.aclose()


async def through_the_worker(concurrency: int, rounds: int) -> dict[str, Any]:
    async with Stack() as stack:
        stub = await stack.stub_llm(0.0)
        worker = ChatWorker(stack, stub, concurrency * (rounds + 1))
        await worker.start()
        await worker.replies(concurrency)  # warm-up, not counted
        direct: list[float] = []
        outcomes: list[tuple[float, float, bool]] = []
        for _ in range(rounds):
            direct += await direct_first_deltas(stub, concurrency)
            outcomes += await worker.replies(concurrency)
    assert all(done for _, _, done in outcomes), "a reply did not end with done"
    d, p, r = percentiles(direct), percentiles([o[0] for o in outcomes]), percentiles([o[1] for o in outcomes])
    return {
        "concurrency": concurrency,
        "rounds": rounds,
        "stub_direct_ms": d,
        "enqueue_to_first_chunk_ms": p,
        "relay_ms": r,
        "added_p50_ms": round(p["p50"] - d["p50"], 2),
        "added_p99_ms": round(p["p99"] - d["p99"], 2),
    }


async def many_at_once(large: int) -> dict[str, Any]:
    async with Stack() as stack:
        assert stack.redis is not None
        stub = await stack.stub_llm(0.0)
        await configure_stub(stub, chunk_delay=0.1, reply_text=WORDS_2S)
        worker = ChatWorker(stack, stub, large)
        proc = await worker.start()
        redis = Redis.from_url(stack.redis.url)
        baseline = int((await redis.info("memory"))["used_memory"])
        peak = {"in_flight": 0, "redis_bytes": 0}
        stop = asyncio.Event()

        async def sample() -> None:
            async with httpx.AsyncClient() as client:
                while not stop.is_set():
                    in_flight = (await client.get(f"{stub}/_stub/stats")).json()["streams_open"]
                    if in_flight >= peak["in_flight"]:
                        used = int((await redis.info("memory"))["used_memory"])
                        peak.update(in_flight=in_flight, redis_bytes=max(peak["redis_bytes"], used - baseline))
                    await asyncio.sleep(0.1)

        sampler = asyncio.create_task(sample())
        started = time.perf_counter()
        outcomes = await worker.replies(large)
        seconds = time.perf_counter() - started
        stop.set()
        await sampler
        # Kept for STREAM_TTL_SECONDS after the end: each reply's stream, and arq's job result.
        kept = int((await redis.info("memory"))["used_memory"]) - baseline
        one_stream = int(await redis.memory_usage("reply:stream:r0") or 0)
        await redis.aclose()
        rss = peak_rss_mb(proc.pid)
    return {
        "replies": large,
        "completed": sum(1 for _, _, done in outcomes if done),
        "seconds": round(seconds, 1),
        "peak_in_flight_at_stub": peak["in_flight"],
        "worker_peak_rss_mb": round(rss, 1),
        "redis_kib_per_reply_in_flight": round(peak["redis_bytes"] / max(1, peak["in_flight"]) / 1024, 1),
        "redis_kib_per_finished_reply": round(kept / large / 1024, 1),
        "stream_kib": round(one_stream / 1024, 1),
    }


# -- the worker's CPU per reply start (--cpu) ---------------------------------------------


class Snapshots:
    """The chat worker's CPU and stand-in figures, read by a job (bench/overhead_worker.py)
    once it has finished a number of replies: a reply's job goes on after its `done` event
    (the reply lease, arq's finish, the job history)."""

    def __init__(self, pool: ArqRedis) -> None:
        self.pool = pool
        self.taken = 0  # snapshot jobs finished: arq counts them with the replies

    async def after_replies(self, replies: int) -> dict[str, Any]:
        while True:
            job = await self.pool.enqueue_job("bench_snapshot", _queue_name=CHAT_QUEUE)
            assert job is not None
            taken: dict[str, Any] = await job.result(timeout=60, poll_delay=0.01)
            finished = taken["jobs_complete"] - self.taken
            self.taken += 1
            if finished >= replies:
                return taken
            await asyncio.sleep(0.05)


async def cpu_per_reply(concurrency: int, rounds: int, profile: Path | None = None) -> dict[str, Any]:
    async with Stack() as stack:
        stub = await stack.stub_llm(0.0)
        worker = ChatWorker(stack, stub, concurrency * (rounds + 1), module=("bench.overhead_worker", "chat"))
        proc = await worker.start()
        snapshots = Snapshots(await create_pool(RedisSettings.from_dsn(worker.redis_url)))
        sampler = None
        per_round: list[dict[str, float]] = []
        try:
            await worker.replies(concurrency)  # warm-up: connections, lazy imports, schemas
            before = await snapshots.after_replies(concurrency)
            commands_before = await command_counts(snapshots.pool)
            sampler = await cpu_profile.start(proc.pid, profile) if profile else None
            for n in range(2, rounds + 2):
                outcomes = await worker.replies(concurrency)
                assert all(ended for _, _, ended in outcomes), "a reply did not end with done"
                after = await snapshots.after_replies(n * concurrency)
                cpu = (after["cpu_seconds"] - before["cpu_seconds"]) * 1000 / concurrency
                stand_in = sum(growth(before["stand_in"]["cpu_seconds"], after["stand_in"]["cpu_seconds"]).values())
                stand_in = stand_in * 1000 / concurrency
                per_round.append(
                    {"cpu_ms": round(cpu, 2), "stand_in_ms": round(stand_in, 2), "less_stand_in_ms": round(cpu - stand_in, 2)}
                )
                before = after
            commands = growth(commands_before, await command_counts(snapshots.pool))
        finally:
            if sampler is not None:
                await cpu_profile.stop(sampler)
            await snapshots.pool.aclose()
    # The bench's own are in: each reply's enqueue (PSETEX, ZADD, LPUSH), its reader's XREADs,
    # the snapshot jobs, the INFO readings.
    per_reply = {name: round(n / (rounds * concurrency), 2) for name, n in sorted(commands.items(), key=lambda c: -c[1]) if n}
    result: dict[str, Any] = {"concurrency": concurrency, "rounds": per_round, "redis_commands_per_reply": per_reply}
    if profile:
        mean_cpu = sum(r["cpu_ms"] for r in per_round) / len(per_round)
        result["profile"] = cpu_profile.summarize(profile, mean_cpu, ("generate_reply",), top=25)
    return result


def growth(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    return {name: after.get(name, 0) - before.get(name, 0) for name in after}


# -- 3: the whole product, POST to the first SSE chunk ----------------------------------------


async def end_to_end(small: int, rounds: int) -> dict[str, Any]:
    async with Stack() as stack:
        stub = await stack.stub_llm(0.0)
        url, _ = await stack.allinone(ANTHROPIC_BASE_URL=stub, CHAT_MESSAGES_PER_MINUTE="100000")
        limits = httpx.Limits(max_connections=None, max_keepalive_connections=None, keepalive_expiry=2)
        async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as http:
            tokens = await register(http, small)
            await asyncio.gather(*(reply_through_product(http, t) for t in tokens))  # warm-up
            figures = {}
            for name, users, times in (("alone", tokens[:1], rounds * small), ("at_once", tokens, rounds)):
                direct: list[float] = []
                product: list[float] = []
                for _ in range(times):
                    direct += await direct_first_deltas(stub, len(users))
                    product += [ms for ms, _, _ in await asyncio.gather(*(reply_through_product(http, t) for t in users))]
                d, p = percentiles(direct), percentiles(product)
                figures[name] = {"replies": len(product), "stub_direct_ms": d, "post_to_first_chunk_ms": p}
    return {"small": small, **figures}


async def run(concurrency: int, rounds: int, large: int, small: int) -> dict[str, Any]:
    return {
        "through_the_worker": await through_the_worker(concurrency, rounds),
        "many": await many_at_once(large),
        "end_to_end": await end_to_end(small, rounds),
    }


def section(results: dict[str, Any]) -> str:
    m = machine()
    w, big, e = results["through_the_worker"], results["many"], results["end_to_end"]
    d, p, r = w["stub_direct_ms"], w["enqueue_to_first_chunk_ms"], w["relay_ms"]
    one, many = e["alone"], e["at_once"]
    return f"""{BEGIN}
## Replies through the worker and Redis (`python -m bench.replies --write`, issue 11)
{m["cores"]} cores shared by the stub LLM, Redis, the product and the load generator. Stub
replies: the first delta at once (figure 1), or 20 words 0.1 s apart (figure 2).

**1. Through the worker and Redis**: {w["concurrency"]} `generate_reply` jobs enqueued at once on one chat
worker process, × {w["rounds"]} rounds, each reply read from its Redis stream.

| figure | p50 | p99 | goal |
| --- | --- | --- | --- |
| enqueue to the first chunk read from the stream | {p["p50"]:.1f} ms | {p["p99"]:.1f} ms | |
| the stub's own first delta, {w["concurrency"]} direct calls at once | {d["p50"]:.1f} ms | {d["p99"]:.1f} ms | |
| added by the queue, the worker and Redis | {w["added_p50_ms"]:.1f} ms | {w["added_p99_ms"]:.1f} ms | ≤ 10 / ≤ 30 ms |
| of which the relay: the first chunk's XADD to its arrival at the reader | {r["p50"]:.1f} ms | {r["p99"]:.1f} ms | |

**2. {big["replies"]} replies of about 2 s at once on that one worker process**

| figure | result |
| --- | --- |
| completed (goal: all) | {big["completed"]} of {big["replies"]}, in {big["seconds"]} s |
| peak replies in flight at the stub | {big["peak_in_flight_at_stub"]} |
| the worker's peak RSS | {big["worker_peak_rss_mb"]} MB |
| Redis memory per active stream: one reply's stream of 21 events (`MEMORY USAGE`) | {big["stream_kib"]} KiB |
| Redis memory per finished reply, kept for `STREAM_TTL_SECONDS` (its stream and arq's job result) | {big["redis_kib_per_finished_reply"]} KiB |

Where the worker's CPU goes (py-spy on the worker during figure 2, 2026-11-27): 44% in the
in-memory MongoDB stand-in (mongomock scans every document of a collection on every query:
claiming the reply, reading the session, storing the message and the reply, the usage
record), 21% httpx (the SDK's transport), 14% redis-py, 9% arq, 6% the Anthropic SDK. One
worker process is CPU-bound on one core: replies are started at most some 35 a second, so
1,000 sent at once all complete but no more than ~140 are in flight together, and 100 sent
at once wait their turn for the CPU (figure 1's p50). The relay itself (XADD to the reader)
stays at about 1 ms under that load. On a MongoDB server the stand-in's share leaves the
worker; beyond that, more worker processes (`python -m worker run --chat`, one per core)
share one chat queue.

**3. The whole product** (the all-in-one, service and worker on one core's event loop):
`POST /api/v1/chat/messages` to the first chunk of its SSE stream.

| figure | one reply at a time ({one["replies"]}) | {e["small"]} at once ({many["replies"]}) |
| --- | --- | --- |
| POST to the first SSE chunk, p50 / p99 | {one["post_to_first_chunk_ms"]["p50"]:.1f} / {one["post_to_first_chunk_ms"]["p99"]:.1f} ms | {many["post_to_first_chunk_ms"]["p50"]:.1f} / {many["post_to_first_chunk_ms"]["p99"]:.1f} ms |
| the stub's own first delta, as many direct calls at once, p50 / p99 | {one["stub_direct_ms"]["p50"]:.1f} / {one["stub_direct_ms"]["p99"]:.1f} ms | {many["stub_direct_ms"]["p50"]:.1f} / {many["stub_direct_ms"]["p99"]:.1f} ms |
{END}"""


def write(results: dict[str, Any], out: Path) -> None:
    """This benchmark's section of out/benchmarks.md and its raw figures beside it."""
    sections.write_section(out / "benchmarks.md", section(results), BEGIN, END)
    (out / "benchmarks-replies.json").write_text(json.dumps(results, indent=2))


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.replies", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes, for the smoke test")
    parser.add_argument("--write", action="store_true", help="write the section into docs/benchmarks.md")
    parser.add_argument("--cpu", type=int, metavar="ROUNDS", help="only the worker's CPU per reply start, over ROUNDS rounds")
    parser.add_argument("--profile", type=Path, help="with --cpu: py-spy's raw samples of the worker go to this file")
    args = parser.parse_args()
    if args.cpu:
        sizes = QUICK if args.quick else FULL
        print(json.dumps(asyncio.run(cpu_per_reply(sizes["concurrency"], args.cpu, args.profile)), indent=2))
        return
    results = asyncio.run(run(**(QUICK if args.quick else FULL)))
    print(json.dumps(results, indent=2))
    print(section(results))
    if args.write and not args.quick:
        write(results, DOCS)


if __name__ == "__main__":
    main()
