"""The memory engine's figures (issue 15): chat recall from the recall index vs. the database, and
the nightly community job over many users' graphs.

    .venv/bin/python -m bench.memory_engine            # full sizes, printed
    .venv/bin/python -m bench.memory_engine --write    # and written into docs/benchmarks.md
    .venv/bin/python -m bench.memory_engine --quick    # tiny sizes (the smoke test)

Recall: a private `redis-server` holds the cache; MongoDB is the in-process stand-in
(mongomock), filled with `--recall-users` users of 30 contexts each (5 points), a summary and
a reflection. The same user's digest is read `--reads` times through `recall()` with the
cache warm (one GET) and through the database path (three queries and a ranking).

Communities: `--users` users × `--entities` entities, grouped in clusters of 20 with two
relations per entity (most inside the cluster, one in ten across), every user marked
changed; then one `detect_communities` run, timed as a whole and for Louvain alone.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis
from bson import ObjectId
from mongomock_motor import AsyncMongoMockClient

from allinone.redis_process import RedisProcess
from bench.harness import machine, percentiles
from shared.memory.recall import recall
from shared.memory.strength import point_key
from shared.models import ChatMessage, MemoryDigest
from shared.process.settings import Settings
from shared.store.mongo import COMMUNITIES, ENTITIES, REFLECTIONS, RELATIONS, SESSION_CONTEXTS, SUMMARIES, ensure_indexes
from tests.support.job_ctx import job_ctx
from worker.communities import detect_communities
from worker.recall_cache import rebuild_recall_cache

DOCS_MD = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"
START, END = "<!-- memory-engine:start -->", "<!-- memory-engine:end -->"
T0 = datetime(2026, 11, 1, tzinfo=UTC)
CLUSTER = 20


def context_docs(user_id: str, count: int) -> list[dict[str, Any]]:
    docs = []
    for n in range(count):
        points = [
            {
                "kind": "goal",
                "content": f"{user_id} point {n}.{p}",
                "importance": (p + 1) / 5,
                "key": point_key("goal", f"{user_id} {n}.{p}"),
                "mentions": 1,
            }
            for p in range(5)
        ]
        at = T0 + timedelta(hours=n)
        docs.append(
            {
                "user_id": user_id,
                "session_id": f"{user_id}-{n}",
                "context_points": points,
                "strength": 1.0,
                "decayed_at": at,
                "created_at": at,
                "updated_at": at,
            }
        )
    return docs


async def bench_recall(users: int, reads: int) -> dict[str, Any]:
    settings = Settings(_env_file=None)
    db = AsyncMongoMockClient(tz_aware=True)["bench_recall"]
    await ensure_indexes(db)
    for u in range(users):
        await db[SESSION_CONTEXTS].insert_many(context_docs(f"u{u}", 30))
        await db[SUMMARIES].insert_one({"user_id": f"u{u}", "status": "done", "text": "summary", "created_at": T0})
        await db[REFLECTIONS].insert_one(
            {"user_id": f"u{u}", "insights": [{"kind": "pattern", "text": "a pattern", "context_ids": []}], "created_at": T0}
        )
    with RedisProcess() as server:
        redis = aioredis.from_url(server.url)
        try:
            user = f"u{users // 2}"
            await rebuild_recall_cache(job_ctx(settings, db, redis), user)
            history = [ChatMessage(id="q", role="user", content=f"{user} point 7", timestamp=datetime.now(UTC))]
            cached: list[float] = []
            database: list[float] = []
            for _ in range(reads):
                started = time.perf_counter()
                hit = await recall(db, user, settings, history, cache=redis)
                cached.append((time.perf_counter() - started) * 1000)
                started = time.perf_counter()
                fresh = await recall(db, user, settings, history)
                database.append((time.perf_counter() - started) * 1000)
            assert hit == fresh and isinstance(hit, MemoryDigest) and hit.points
        finally:
            await redis.aclose()
    return {
        "users": users,
        "contexts": users * 30,
        "reads": reads,
        "cache_ms": percentiles(cached),
        "database_ms": percentiles(database),
    }


def graph_docs(user_id: str, entities: int, rng: random.Random) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    ids = [ObjectId() for _ in range(entities)]
    nodes = [
        {
            "_id": ids[i],
            "user_id": user_id,
            "key": f"e{i}",
            "keys": [f"e{i}"],
            "name": f"entity {i}",
            "kind": "event",
            "aliases": [],
            "mentions": rng.randint(1, 9),
        }
        for i in range(entities)
    ]
    edges = {}
    for i in range(entities):
        for _ in range(2):
            base = i - i % CLUSTER
            j = rng.randrange(entities) if rng.random() < 0.1 else base + rng.randrange(min(CLUSTER, entities - base))
            if j != i:
                edges[(i, j)] = {
                    "user_id": user_id,
                    "source_id": ids[i],
                    "target_id": ids[j],
                    "relation": "related to",
                    "weight": 1,
                }
    return nodes, list(edges.values())


async def bench_communities(users: int, entities: int, batch: int) -> dict[str, Any]:
    settings = Settings(_env_file=None, community_batch_users=batch)
    db = AsyncMongoMockClient(tz_aware=True)["bench_communities"]
    rng = random.Random(15)
    edges_total = 0
    for u in range(users):
        nodes, edges = graph_docs(f"u{u}", entities, rng)
        await db[ENTITIES].insert_many(nodes)
        await db[RELATIONS].insert_many(edges)
        edges_total += len(edges)
    await db[COMMUNITIES].insert_many(
        [{"user_id": f"u{u}", "stale": True, "changed_at": T0, "groups": [], "computed_at": None} for u in range(users)]
    )
    unused = aioredis.Redis()  # a job's ctx has one; this job never sends it a command
    ctx = job_ctx(settings, db, unused)
    started = time.perf_counter()
    result = await detect_communities(ctx, now=T0 + timedelta(days=1))
    wall = time.perf_counter() - started
    await unused.aclose()
    assert result["users"] == users
    return {
        "users": users,
        "entities_per_user": entities,
        "relations": edges_total,
        "batch_users": batch,
        "wall_s": wall,
        "louvain_s": result["louvain_seconds"],
        "communities": result["communities"],
    }


def section(recall_result: dict[str, Any], community_result: dict[str, Any], command: str) -> str:
    m = machine()
    c, d = recall_result["cache_ms"], recall_result["database_ms"]
    r = community_result
    return f"""{START}
## Memory engine (issue 15)
Written by `{command}` on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; {m["cores"]} cores, Python {m["python"]}, Redis {m["redis"]}.
MongoDB is the in-process stand-in (mongomock), which scans every document of a collection
on every query: the database figures are what this machine can measure, far above what an
indexed MongoDB server takes for the same three queries.

| measure | figure |
| --- | --- |
| chat recall from the recall index (two round trips, ranking included), p50 / p99 | {c["p50"]:.2f} / {c["p99"]:.2f} ms |
| chat recall from the database ({recall_result["contexts"]:,} contexts stored), p50 / p99 | {d["p50"]:.2f} / {d["p99"]:.2f} ms |
| nightly `detect_communities`, {r["users"]:,} users × {r["entities_per_user"]} entities, {r["relations"]:,} relations | {r["wall_s"]:.1f} s ({r["louvain_s"]:.1f} s of it Louvain), {r["communities"]:,} communities |

Recall reads: {recall_result["reads"]} of each, same user, same digest (checked equal).
The community job reads {r["batch_users"]} users' graphs per query (`COMMUNITY_BATCH_USERS`);
the rest of its time beyond Louvain is mongomock answering those queries: it has no
indexes, so each `user_id $in [batch]` query tests every stored entity and relation against
every user of the batch in Python, which adds up to (entities + relations) × users whatever
the batch size. On a MongoDB server both are range scans of the `(user_id, ...)` indexes,
and the job's own work is the Louvain figure plus one small update per user.
{END}"""


def replace_section(text: str, new: str) -> str:
    """`text` with its memory-engine section replaced by `new` (appended if it has none)."""
    if START in text and END in text:
        return text[: text.index(START)] + new + text[text.index(END) + len(END) :]
    return text.rstrip("\n") + "\n\n" + new + "\n"


def kept_section(text: str) -> str:
    """The memory-engine section of `text`, for `python -m bench` to keep when it rewrites the file."""
    if START in text and END in text:
        return text[text.index(START) : text.index(END) + len(END)]
    return ""


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.memory_engine", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes (the smoke test)")
    parser.add_argument("--write", action="store_true", help="write the figures into docs/benchmarks.md (full sizes only)")
    parser.add_argument("--users", type=int, default=1_000)
    parser.add_argument("--entities", type=int, default=200)
    parser.add_argument("--recall-users", type=int, default=200)
    parser.add_argument("--reads", type=int, default=200)
    args = parser.parse_args()
    if args.quick:
        if args.write:
            parser.error("--quick figures never go to docs/")
        args.users, args.entities, args.recall_users, args.reads = 5, 40, 5, 10
    recall_result = asyncio.run(bench_recall(args.recall_users, args.reads))
    community_result = asyncio.run(
        bench_communities(args.users, args.entities, Settings.model_fields["community_batch_users"].default)
    )
    command = "python -m bench.memory_engine" + (
        "" if (args.users, args.entities) == (1_000, 200) else f" --users {args.users} --entities {args.entities}"
    )
    text = section(recall_result, community_result, command + (" --write" if args.write else ""))
    print(text.replace(START, "").replace(END, "").strip())
    if args.write:
        DOCS_MD.write_text(replace_section(DOCS_MD.read_text(), text))
        print(f"\nwritten: {DOCS_MD}")


if __name__ == "__main__":
    main()
