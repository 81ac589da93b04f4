"""Recall quality and speed (issue 20): how often the evidence a question needs is in the
coach's prompt, today's ranking beside the new one, on a data set this project generates
(bench/recall_data.py), and the ranking's time at 100, 1,000 and 10,000 memories.

Real redis-server (the recall index), MongoDB stand-in (mongomock), the product's own code:
the index is written by the `rebuild_recall_cache` job, the prompt's memory is `recall()`,
search is `search()`. Nothing here calls an LLM: each user message is stored as one point,
as the stub LLM stores it, so recall is measured apart from extraction.

    python -m bench.recall            # prints the figures
    python -m bench.recall --write    # and writes its section of docs/benchmarks.md
"""

from __future__ import annotations

import argparse
import asyncio
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis
from bson import ObjectId
from mongomock_motor import AsyncMongoMockClient

from allinone.redis_process import RedisProcess
from bench.harness import machine, percentiles
from bench.recall_data import SESSIONS, generate
from bench.sections import write_section
from shared.memory.recall import query_of, rank_memories, recall, search
from shared.memory.strength import current_strength, point_key
from shared.models import ChatMessage
from shared.process.settings import Settings
from shared.store.mongo import SESSION_CONTEXTS, ensure_indexes
from tests.support.job_ctx import job_ctx
from worker.recall_cache import rebuild_recall_cache

DOCS_MD = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"
BEGIN, END = "<!-- bench.recall -->", "<!-- /bench.recall -->"
NOW = datetime(2026, 12, 1, tzinfo=UTC)
OLD_CONTEXTS, OLD_POINTS = 50, 10  # the ranking this replaced: the 10 strongest points of the 50 newest contexts


def contexts_of(user_id: str, sessions: list[list[tuple[str, str]]], start: datetime) -> list[dict[str, Any]]:
    docs = []
    for s, messages in enumerate(sessions):
        at = start + timedelta(days=s)
        points = [
            {"kind": "fact", "content": t, "importance": 0.5, "key": point_key("fact", t), "mentions": 1} for _, t in messages
        ]
        docs.append(
            {
                "_id": ObjectId(),
                "user_id": user_id,
                "session_id": f"{user_id}-s{s}",
                "context_points": points,
                "covered": {"last_message_id": f"m{s}", "last_at": at, "message_count": len(messages)},
                "strength": 1.0,
                "decayed_at": at,
                "expires_at": None,
                "created_at": at,
                "updated_at": at,
                "summary_id": None,
                "summarized_at": None,
            }
        )
    return docs


def old_ranking(contexts: list[dict[str, Any]], rate: float, limit: int) -> list[str]:
    """Today's (replaced) recall, as it shipped: strength as of now x importance, newest 50 contexts."""
    newest = sorted(contexts, key=lambda c: c["updated_at"], reverse=True)[:OLD_CONTEXTS]
    scored = [
        (current_strength(c["strength"], c["decayed_at"], NOW, rate) * p["importance"], p["content"])
        for c in newest
        for p in c["context_points"]
    ]
    return [content for _, content in sorted(scored, key=lambda s: s[0], reverse=True)[:limit]]


async def quality(users: int, settings: Settings, redis: Any, db: Any) -> dict[str, Any]:
    rows: dict[str, list[float]] = {"new": [], "old": [], "old20": [], "rr": []}
    by_kind: dict[str, list[float]] = {}
    for u in range(users):
        data = generate(f"u{u}", seed=u)
        contexts = contexts_of(data.user_id, data.sessions, NOW - timedelta(days=SESSIONS))
        await db[SESSION_CONTEXTS].insert_many(contexts)
        await rebuild_recall_cache(job_ctx(settings, db, redis), data.user_id)
        text_of = {pid: t for session in data.sessions for pid, t in session}
        old10, old20 = (
            old_ranking(contexts, settings.memory_decay_rate, OLD_POINTS),
            old_ranking(contexts, settings.memory_decay_rate, 20),
        )
        for q in data.questions:
            needed = {text_of[e] for e in q.evidence}
            history = [ChatMessage(id="q", role="user", content=q.text, timestamp=NOW)]
            digest = await recall(db, data.user_id, settings, history, NOW, cache=redis)
            hit = float(needed <= {p.content for p in digest.points})
            rows["new"].append(hit)
            by_kind.setdefault(q.kind, []).append(hit)
            by_kind.setdefault("15+ sessions ago" if q.age >= 15 else "newer", []).append(hit)
            rows["old"].append(float(needed <= set(old10)))
            rows["old20"].append(float(needed <= set(old20)))
            found = [r.doc.content for r in await search(db, redis, data.user_id, q.text, 50, settings)]
            rows["rr"].append(sum(1 / (found.index(t) + 1) if t in found else 0.0 for t in needed) / len(needed))
    share = lambda xs: 100 * sum(xs) / len(xs)  # noqa: E731
    return {
        "questions": len(rows["new"]),
        "users": users,
        "new": share(rows["new"]),
        "old": share(rows["old"]),
        "old20": share(rows["old20"]),
        "mrr": sum(rows["rr"]) / len(rows["rr"]),
        "by_kind": {k: (share(v), len(v)) for k, v in by_kind.items()},
    }


async def speed(sizes: list[int], reads: int, settings: Settings, redis: Any, db: Any) -> dict[int, dict[str, dict[str, float]]]:
    """Ranking for one message at N memories: from the Redis index, and from MongoDB (the fallback)."""
    out = {}
    for size in sizes:
        user = f"speed{size}"
        data = generate(user, seed=size)
        sessions = [[(pid, f"{t} #{r}") for pid, t in session] for r in range(max(1, size // 250)) for session in data.sessions][
            : max(1, size // 10)
        ]
        await db[SESSION_CONTEXTS].insert_many(contexts_of(user, sessions, NOW - timedelta(days=len(sessions))))
        await rebuild_recall_cache(job_ctx(settings, db, redis), user)
        timings: dict[str, list[float]] = {"index": [], "database": []}
        for n in range(reads):
            query, text = query_of(
                [ChatMessage(id="q", role="user", content=data.questions[n % len(data.questions)].text, timestamp=NOW)]
            )
            for where, handle in (("index", redis), ("database", None)):
                if where == "database" and n >= max(3, reads // 20):
                    continue  # the fallback scans everything: a few reads tell its cost
                started = time.perf_counter()
                await rank_memories(db, handle, user, query, settings, NOW, query_text=text)
                timings[where].append((time.perf_counter() - started) * 1000)
        out[size] = {k: percentiles(v) for k, v in timings.items()}
    return out


def section(q: dict[str, Any], s: dict[int, dict[str, dict[str, float]]], command: str) -> str:
    kinds = "\n".join(f"| {k} | {v[0]:.0f}% of {v[1]} |" for k, v in sorted(q["by_kind"].items()))
    times = "\n".join(
        f"| {n:,} | {t['index']['p50']:.2f} / {t['index']['p99']:.2f} ms | {t['database']['p50']:.1f} / {t['database']['p99']:.1f} ms |"
        for n, t in s.items()
    )
    m = machine()
    return f"""{BEGIN}
## Recall: the evidence in the coach's prompt (issue 20)

`{command}` on {datetime.now(UTC).date()}, {m["cores"]} cores ({m["cpu"]}). {q["users"]} generated users, each
{SESSIONS} sessions of 10 user messages (250 points), facts planted in the first 10 sessions
among small talk and distractors, {q["questions"]} questions worded unlike their facts (names,
places, dates, things; two-fact questions need both). Evidence in the prompt: every point the
question needs is among the points `recall()` puts in the prompt (`RECALL_POINTS`=20).

| ranking | evidence in the prompt |
| --- | --- |
| today's (replaced): 10 strongest points of the 50 newest contexts | {q["old"]:.0f}% |
| the same at 20 points | {q["old20"]:.0f}% |
| **new: BM25 over stems + entity graph + strength, stable core, 20 points** | **{q["new"]:.0f}%** (goal >= 90%) |
| MRR of the evidence in `/memory/search` (limit 50) | {q["mrr"]:.2f} |

| question | new ranking |
| --- | --- |
{kinds}

Ranking for one message (`rank_memories`: both round trips to Redis and the ranking), p50 / p99,
against the database fallback (mongomock; a real MongoDB scans less slowly, but it is still a
read of every memory the user has):

| memories | from the Redis index | from MongoDB (fallback) |
| --- | --- | --- |
{times}

Goal: p99 <= 20 ms at 10,000 memories from the index. What the lexical ranking cannot do:
a question sharing no content word with its fact ("what is my profession?" for "I work as a
nurse") is found only through the stable core or an embeddings provider (`EMBEDDINGS_PROVIDER`).
{END}"""


async def run(users: int, sizes: list[int], reads: int) -> tuple[dict[str, Any], dict[int, dict[str, dict[str, float]]]]:
    settings = Settings(_env_file=None)
    db = AsyncMongoMockClient(tz_aware=True)["bench_recall"]
    await ensure_indexes(db)
    with RedisProcess() as server:
        redis = aioredis.from_url(server.url)
        try:
            from arq.connections import ArqRedis

            arq = ArqRedis(connection_pool=redis.connection_pool)
            q = await quality(users, settings, arq, db)
            s = await speed(sizes, reads, settings, arq, db)
        finally:
            await redis.aclose()
    return q, s


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.recall", description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--reads", type=int, default=200)
    parser.add_argument("--quick", action="store_true", help="tiny sizes (the smoke test)")
    parser.add_argument("--write", action="store_true", help="write the figures into docs/benchmarks.md")
    args = parser.parse_args()
    sizes = [100, 1_000, 10_000]
    if args.quick:
        args.users, args.reads, sizes = 2, 10, [100]
    q, s = asyncio.run(run(args.users, sizes, args.reads))
    text = section(q, s, "python -m bench.recall" + (" --quick" if args.quick else ""))
    print(text.replace(BEGIN, "").replace(END, "").strip())
    if args.write and not args.quick:
        write_section(DOCS_MD, text, BEGIN, END)
        print(f"\nwritten: {DOCS_MD}")


if __name__ == "__main__":
    main()
