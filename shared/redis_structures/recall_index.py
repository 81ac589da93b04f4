"""Each user's recall index in Redis: what a reply ranks memory from, in two round trips.

Two keys per user, under one hash tag (`recall:v4:{<user>}:...`, so a Redis Cluster keeps
them on one node):
    idx   hash, its fields by prefix:
            meta          JSON: n (documents), total_len (stems), core, insights, summary
            d:<doc id>    MemoryDoc JSON
            p:<stem>      the stem's posting list, JSON {document id: [tf, length]}
            n:<name key>  EntityLink JSON (every alias is a key)
            v:<doc id>    float32 vector bytes (only with an embeddings provider)
    ver   counter: bumped by every drop; a rebuild that read MongoDB before the drop finds
          it changed and writes nothing, so a forgotten memory is never written back by a
          rebuild that started before it was forgotten.

One hash (v4) rather than a hash per part (v3) or a key per stem (v2): a rebuild is one
script call that deletes, fills and expires one key, a drop is two commands, and a reply's
probe (meta, its message's stems, the names it mentions) is one HMGET, atomic by itself.

The index is rebuilt whole (worker/recall_cache.py) from MongoDB, by the extraction that
changed the memory or by the `rebuild_recall_cache` job, and dropped by every change to the
user's memory. A reply that finds no meta ranks from MongoDB instead (shared/memory/recall.py).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Iterable, Sequence
from dataclasses import asdict
from typing import cast

from redis.asyncio import Redis

from shared.memory.ranking import BuiltIndex, EntityLink, Probe
from shared.models import MemoryDoc
from shared.redis_structures.script import Script

PREFIX = "recall:v4:"
# What earlier versions kept, removed at account deletion too: the v1 digest cache, v2's and
# v3's fixed keys (v2's per-stem keys expire on their own, RECALL_CACHE_TTL_SECONDS).
LEGACY_PREFIX = "recall:v1:"
OLDER_LAYOUTS = {
    "recall:v2:": ("meta", "docs", "names", "vec", "stems", "ver"),
    "recall:v3:": ("meta", "docs", "post", "names", "vec", "ver"),
}
META = "meta"
# HSET's arguments per call inside the write script: Lua's unpack() has a stack limit.
HSET_CHUNK = 2000

# KEYS: ver, idx. ARGV: the version the rebuild saw ("" for none), the time to live (s),
# then field, value pairs. 1 when written, 0 when the index was dropped since.
WRITE = Script(
    """
if (redis.call('GET', KEYS[1]) or '') ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[2])
for i = 3, #ARGV, HSET_CHUNK do
  redis.call('HSET', KEYS[2], unpack(ARGV, i, math.min(i + HSET_CHUNK - 1, #ARGV)))
end
redis.call('EXPIRE', KEYS[2], ARGV[2])
return 1
""".replace("HSET_CHUNK", str(HSET_CHUNK))
)


def _key(user_id: str, part: str) -> str:
    return f"{PREFIX}{{{user_id}}}:{part}"


def index_key(user_id: str) -> str:
    return _key(user_id, "idx")


def user_of(index_key: str) -> str:
    return index_key.removeprefix(PREFIX + "{").removesuffix("}:idx")


def _decoded(raw: bytes | None) -> str | None:
    return raw.decode() if raw is not None else None


async def version(redis: Redis, user_id: str) -> str | None:
    """Read before reading MongoDB for a rebuild; `write` compares it."""
    return _decoded(await redis.get(_key(user_id, "ver")))


async def drop(redis: Redis, user_id: str) -> str:
    """The index no longer answers; a rebuild in flight from before this call writes nothing.
    Returns the new version, which a rebuild that reads MongoDB after this call may use.

    Sent together but not as a transaction: whatever runs between the two commands, a
    rebuild's write either comes before the bump (and is deleted) or finds it."""
    async with redis.pipeline(transaction=False) as pipe:
        pipe.incr(_key(user_id, "ver"))
        pipe.delete(index_key(user_id))
        bumped, _ = await pipe.execute()
    return str(bumped)


async def delete_all(redis: Redis, user_id: str) -> None:
    """Every key of the user's index (account deletion), in every layout it has had."""
    older = [f"{prefix}{{{user_id}}}:{part}" for prefix, parts in OLDER_LAYOUTS.items() for part in parts]
    await redis.delete(index_key(user_id), _key(user_id, "ver"), f"{LEGACY_PREFIX}{user_id}", *older)


async def write(
    redis: Redis,
    user_id: str,
    index: BuiltIndex,
    seen_version: str | None,
    ttl_seconds: int,
    vectors: dict[str, bytes] | None = None,
) -> bool:
    """Replace the user's index with `index`, atomically (one script call); False (nothing
    written) if the index was dropped since `seen_version` was read."""
    meta = {
        "n": len(index.docs),
        "total_len": index.total_len,
        "core": index.core,
        "insights": index.insights,
        "summary": index.summary,
    }
    fields: list[str | bytes] = [META, json.dumps(meta)]
    for doc_id, doc in index.docs.items():
        fields += [f"d:{doc_id}", doc.model_dump_json()]
    for stem, postings in index.postings.items():
        fields += [f"p:{stem}", json.dumps(postings, separators=(",", ":"))]
    for name, link in index.links.items():
        fields += [f"n:{name}", json.dumps(asdict(link))]
    for doc_id, vector in (vectors or {}).items():
        fields += [f"v:{doc_id}", vector]
    keys = [_key(user_id, "ver"), index_key(user_id)]
    return bool(await WRITE.run(redis, keys, [seen_version or "", ttl_seconds, *fields]))


class RedisRecallIndex:
    """One user's index as ranking reads it (shared/memory/ranking.py's RecallIndex)."""

    def __init__(self, redis: Redis, user_id: str) -> None:
        self.redis, self.user_id = redis, user_id

    async def probe(self, stems: Iterable[str], names: Iterable[str]) -> Probe | None:
        """One command (HMGET: one snapshot): meta, postings, named entities. None: no index."""
        stems, names = list(stems), list(names)
        fields = [META, *(f"p:{s}" for s in stems), *(f"n:{n}" for n in names)]
        raw = await cast(Awaitable[list[bytes | None]], self.redis.hmget(index_key(self.user_id), fields))
        if raw[0] is None:
            return None
        meta = json.loads(raw[0])
        postings: dict[str, dict[str, tuple[int, int]]] = {}
        for stem, value in zip(stems, raw[1 : 1 + len(stems)], strict=True):
            if value:
                postings[stem] = {i: (tf, length) for i, (tf, length) in json.loads(value).items()}
        found = [
            EntityLink(**{**link, "docs": tuple(link["docs"])}) for link in (json.loads(v) for v in raw[1 + len(stems) :] if v)
        ]
        return Probe(
            n_docs=int(meta["n"]),
            total_len=int(meta["total_len"]),
            postings=postings,
            entities=list({e.id: e for e in found}.values()),
            core=meta["core"],
            insights=meta["insights"],
            summary=meta["summary"],
        )

    async def documents(self, ids: Sequence[str]) -> dict[str, MemoryDoc]:
        if not ids:
            return {}
        fields = [f"d:{i}" for i in ids]
        raw = await cast(Awaitable[list[bytes | None]], self.redis.hmget(index_key(self.user_id), fields))
        return {i: MemoryDoc.model_validate_json(v) for i, v in zip(ids, raw, strict=True) if v}

    async def vectors(self, ids: Sequence[str]) -> dict[str, bytes]:
        if not ids:
            return {}
        fields = [f"v:{i}" for i in ids]
        raw = await cast(Awaitable[list[bytes | None]], self.redis.hmget(index_key(self.user_id), fields))
        return {i: v for i, v in zip(ids, raw, strict=True) if v}
