"""What the coach remembers when it answers: memory ranked for the message at hand.

The reply's newest user message (and the user's two turns before it) is the query. The
ranking (shared/memory/ranking.py) reads the user's recall index in Redis in two round
trips; with no index (never built, dropped by a change and not yet rebuilt, expired) or
Redis away, it builds the same index from MongoDB in memory and ranks from that, and asks
the worker to rebuild the Redis copy. Either way the prompt gets:

- the stable core: the newest summary, the `CORE_POINTS` strongest points, the newest
  reflection's insights, so the coach stays consistent from one message to the next;
- then the most relevant memories, until `RECALL_POINTS` points or `RECALL_TOKEN_BUDGET`.

`search` ranks the same way for `GET /api/v1/memory/search`, so a user sees why the coach
remembered what it did.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from shared.memory.documents import load_user_memory
from shared.memory.embeddings import Embedder, dense_scores
from shared.memory.ranking import Probe, Query, Ranked, RecallIndex, build_index, candidates, rank
from shared.memory.recall_cache import rebuild_on_miss
from shared.memory.text import words
from shared.models import ChatMessage, MemoryDigest, RecalledInsight, RecalledPoint
from shared.process.settings import Settings
from shared.queue.arq_adapter.pool import QueuePool
from shared.redis_structures.recall_index import RedisRecallIndex
from shared.redis_structures.unavailable import REDIS_DOWN
from shared.store.mongo import Database

log = logging.getLogger(__name__)

EARLIER_TURNS = 2  # the user's turns before the newest that also shape the query


@dataclass
class Recalled:
    ranked: list[Ranked]
    probe: Probe
    from_index: bool  # False: ranked from MongoDB (no index in Redis, or Redis away)


async def _index_for(
    db: Database, redis: QueuePool | None, user_id: str, query: Query, settings: Settings, now: datetime
) -> tuple[RecallIndex, Probe, bool]:
    if redis is not None:
        index = RedisRecallIndex(redis, user_id)
        try:
            probe = await index.probe(query.weights, query.names)
        except REDIS_DOWN as exc:
            log.warning("recall index unreachable, ranking from the database: %s", exc)
        else:
            if probe is not None:
                return index, probe, True
            await rebuild_on_miss(redis, user_id, now)
    memory = await load_user_memory(db, user_id)
    built = build_index(memory.docs, memory.entities, memory.summary, now, settings.memory_decay_rate)
    return built, await built.probe(query.weights, query.names), False


async def rank_memories(
    db: Database,
    redis: QueuePool | None,
    user_id: str,
    query: Query,
    settings: Settings,
    now: datetime | None = None,
    embedder: Embedder | None = None,
    query_text: str = "",
) -> Recalled:
    now = now or datetime.now(UTC)
    index, probe, from_index = await _index_for(db, redis, user_id, query, settings, now)
    lexical, linked, wanted = candidates(query, probe)
    try:
        docs = await index.documents(wanted)
    except REDIS_DOWN as exc:  # lost between the two round trips: rank from the database
        log.warning("recall index lost mid-read, ranking from the database: %s", exc)
        return await rank_memories(db, None, user_id, query, settings, now, embedder, query_text)
    dense = await dense_scores(embedder, index, query_text, list(docs)) if embedder and query_text else None
    core = probe.core[: settings.recall_core_points]
    return Recalled(rank(lexical, linked, docs, now, settings.memory_decay_rate, dense, core), probe, from_index)


def query_of(history: Sequence[ChatMessage]) -> tuple[Query, str]:
    users = [m.content for m in history if m.role == "user"]
    if not users:
        return Query({}), ""
    return Query.of(users[-1], users[-1 - EARLIER_TURNS : -1]), users[-1]


def _tokens(text: str) -> int:
    return len(text) // 4 + 8  # a point's share of the prompt, JSON included: close enough for a budget


def digest_of(recalled: Recalled, settings: Settings) -> MemoryDigest:
    """The prompt's memory block: the core first, then by score, within the budgets."""
    by_id = {r.doc.id: r for r in recalled.ranked}
    core = [by_id[i] for i in recalled.probe.core[: settings.recall_core_points] if i in by_id]
    rest = [r for r in recalled.ranked if r.doc.source != "insight" and not r.reasons.core]
    points: list[RecalledPoint] = []
    budget = settings.recall_token_budget - _tokens(recalled.probe.summary or "")
    seen: set[str] = set()
    for r in [*core, *rest]:
        said_as = " ".join(words(r.doc.content))
        if said_as in seen:  # a summary's key point repeating a stored point, say: once is enough
            continue
        seen.add(said_as)
        cost = _tokens(r.doc.content)
        if len(points) >= settings.recall_points or cost > budget:
            break
        budget -= cost
        said = r.doc.said_at.date() if r.doc.said_at else None
        points.append(RecalledPoint(kind=r.doc.kind, content=r.doc.content, said_at=said, valid_from=r.doc.valid_from))
    insights = [by_id[i] for i in recalled.probe.insights if i in by_id][: settings.recall_insights]
    return MemoryDigest(
        summary=recalled.probe.summary,
        points=points,
        reflections=[RecalledInsight(kind=r.doc.kind, text=r.doc.content) for r in insights],
    )


async def recall(
    db: Database,
    user_id: str,
    settings: Settings,
    history: Sequence[ChatMessage] = (),
    now: datetime | None = None,
    *,
    cache: QueuePool | None = None,
    embedder: Embedder | None = None,
) -> MemoryDigest:
    """The memory block for a reply to the newest user message in `history`."""
    query, text = query_of(history)
    recalled = await rank_memories(db, cache, user_id, query, settings, now, embedder, text)
    return digest_of(recalled, settings)


async def search(
    db: Database, redis: QueuePool | None, user_id: str, q: str, limit: int, settings: Settings, embedder: Embedder | None = None
) -> list[Ranked]:
    """The user's memories that match `q`, ranked as the coach's recall ranks them."""
    recalled = await rank_memories(db, redis, user_id, Query.of(q), settings, embedder=embedder, query_text=q)
    relevant = [r for r in recalled.ranked if r.reasons.lexical or r.reasons.entity or r.reasons.dense]
    return relevant[:limit]
