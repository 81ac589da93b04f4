"""Each user's recall index in Redis: what a reply ranks memory from, in two round trips.

Keys, all under one hash tag per user (`recall:v3:{<user>}:...`, so a Redis Cluster keeps a
user's index on one node):
    meta         hash: n (documents), total_len (stems), core, insights (JSON id lists), summary
    docs         hash: document id -> MemoryDoc JSON
    post         hash: stem -> its posting list, JSON {document id: [tf, length]}
    names        hash: entity name key -> EntityLink JSON (every alias is a key)
    vec          hash: document id -> float32 vector bytes (only with an embeddings provider)
    ver          counter: bumped by every drop; a rebuild that read MongoDB before the
                 drop finds it changed and writes nothing (WATCH), so a forgotten memory is
                 never written back by a rebuild that started before it was forgotten.

One hash of posting lists rather than a key per stem (v2): a rebuild writes a fixed number
of keys whatever the user's vocabulary (two commands a stem before: an extraction that
refreshed a 500-stem index sent a thousand), and a reply reads its message's stems with one
HMGET.

The index is rebuilt whole (worker/recall_cache.py) from MongoDB, by the extraction that
changed the memory or by the `rebuild_recall_cache` job, and dropped (meta deleted, ver
bumped) by every change to the user's memory. A reply that finds no meta ranks from MongoDB
instead (shared/memory/recall.py).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Iterable, Sequence
from dataclasses import asdict
from typing import cast

from redis.asyncio import Redis
from redis.exceptions import WatchError

from shared.memory.ranking import BuiltIndex, EntityLink, Probe
from shared.models import MemoryDoc

PREFIX = "recall:v3:"
# What earlier versions kept, removed at account deletion too: the v1 digest cache, and v2's
# fixed keys (its per-stem keys expire on their own, RECALL_CACHE_TTL_SECONDS).
LEGACY_PREFIX = "recall:v1:"
V2_PREFIX = "recall:v2:"


def _key(user_id: str, part: str) -> str:
    return f"{PREFIX}{{{user_id}}}:{part}"


def fixed_keys(user_id: str) -> list[str]:
    return [_key(user_id, p) for p in ("meta", "docs", "post", "names", "vec")]


async def version(redis: Redis, user_id: str) -> bytes | None:
    raw: bytes | None = await redis.get(_key(user_id, "ver"))
    return raw


async def drop(redis: Redis, user_id: str) -> None:
    """The index no longer answers; a rebuild in flight from before this call writes nothing."""
    async with redis.pipeline(transaction=True) as pipe:
        pipe.incr(_key(user_id, "ver"))
        pipe.delete(_key(user_id, "meta"))
        await pipe.execute()


async def delete_all(redis: Redis, user_id: str) -> None:
    """Every key of the user's index (account deletion)."""
    v2 = [f"{V2_PREFIX}{{{user_id}}}:{part}" for part in ("meta", "docs", "names", "vec", "stems", "ver")]
    await redis.delete(*fixed_keys(user_id), _key(user_id, "ver"), f"{LEGACY_PREFIX}{user_id}", *v2)


async def write(
    redis: Redis,
    user_id: str,
    index: BuiltIndex,
    seen_version: bytes | None,
    ttl_seconds: int,
    vectors: dict[str, bytes] | None = None,
) -> bool:
    """Replace the user's index with `index`, atomically; False (nothing written) if the
    index was dropped since `seen_version` was read."""
    ver_key = _key(user_id, "ver")
    async with redis.pipeline(transaction=True) as pipe:
        await pipe.watch(ver_key)
        if await pipe.get(ver_key) != seen_version:
            return False
        pipe.multi()  # type: ignore[no-untyped-call]
        pipe.delete(*fixed_keys(user_id))
        written = [*fixed_keys(user_id)]
        if index.docs:
            pipe.hset(_key(user_id, "docs"), mapping={i: d.model_dump_json() for i, d in index.docs.items()})
        if index.postings:
            pipe.hset(
                _key(user_id, "post"),
                mapping={stem: json.dumps(postings, separators=(",", ":")) for stem, postings in index.postings.items()},
            )
        if index.links:
            pipe.hset(_key(user_id, "names"), mapping={k: json.dumps(asdict(v)) for k, v in index.links.items()})
        if vectors:
            pipe.hset(_key(user_id, "vec"), mapping=vectors)
        meta = {
            "n": len(index.docs),
            "total_len": index.total_len,
            "core": json.dumps(index.core),
            "insights": json.dumps(index.insights),
            "summary": json.dumps(index.summary),
        }
        pipe.hset(_key(user_id, "meta"), mapping=meta)  # last: a reader sees the index whole or not at all
        for key in written:
            pipe.expire(key, ttl_seconds)
        try:
            await pipe.execute()
        except WatchError:
            return False
    return True


class RedisRecallIndex:
    """One user's index as ranking reads it (shared/memory/ranking.py's RecallIndex)."""

    def __init__(self, redis: Redis, user_id: str) -> None:
        self.redis, self.user_id = redis, user_id

    async def probe(self, stems: Iterable[str], names: Iterable[str]) -> Probe | None:
        """One round trip (MULTI: a consistent snapshot): meta, postings, named entities. None: no index."""
        stems, names = list(stems), list(names)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hgetall(_key(self.user_id, "meta"))
            if stems:
                pipe.hmget(_key(self.user_id, "post"), stems)
            if names:
                pipe.hmget(_key(self.user_id, "names"), names)
            replies = await pipe.execute()
        meta = {k.decode(): v for k, v in replies[0].items()}
        if not meta:
            return None
        postings: dict[str, dict[str, tuple[int, int]]] = {}
        for stem, raw in zip(stems, replies[1] if stems else [], strict=True):
            if raw:
                postings[stem] = {i: (tf, length) for i, (tf, length) in json.loads(raw).items()}
        found = [
            EntityLink(**{**json.loads(v), "docs": tuple(json.loads(v)["docs"])}) for v in (replies[-1] if names else []) if v
        ]
        return Probe(
            n_docs=int(meta["n"]),
            total_len=int(meta["total_len"]),
            postings=postings,
            entities=list({e.id: e for e in found}.values()),
            core=json.loads(meta["core"]),
            insights=json.loads(meta["insights"]),
            summary=json.loads(meta["summary"]),
        )

    async def documents(self, ids: Sequence[str]) -> dict[str, MemoryDoc]:
        if not ids:
            return {}
        raw = await cast(Awaitable[list[bytes | None]], self.redis.hmget(_key(self.user_id, "docs"), list(ids)))
        return {i: MemoryDoc.model_validate_json(v) for i, v in zip(ids, raw, strict=True) if v}

    async def vectors(self, ids: Sequence[str]) -> dict[str, bytes]:
        if not ids:
            return {}
        raw = await cast(Awaitable[list[bytes | None]], self.redis.hmget(_key(self.user_id, "vec"), list(ids)))
        return {i: v for i, v in zip(ids, raw, strict=True) if v}
