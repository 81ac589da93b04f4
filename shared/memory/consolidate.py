"""Consolidation: each point an extraction finds, set beside the memories the user already has.

Before the LLM call, the user's active memories closest to the session (ranked as recall
ranks, against the user's lines) are handed to the provider with their ids. The provider
decides per point (the LLM in the extraction's own forced tool call; the offline provider
by `shared/llm/offline_memory.py`'s `decide_by_rules`): `add` a new memory, `update` memory X (a new version of it),
`supersede` X (it no longer holds: a new memory replaces it), or `none` (already known:
X is reinforced). Here those decisions are checked and applied:

- an id that is not one of the memories shown means `add` (a model cannot touch a memory
  it was not shown, nor another user's);
- a point whose words are those of a known memory is `none`, whatever was decided;
- **the user's own edit wins over older words**: a memory the user changed (edited, added,
  retracted) after the point was said is not updated or superseded by it, and words the
  user deleted or corrected away since are not added back; the point is dropped. When a
  point was said is the time of the newest user message that says it (`UserLines`: half
  of its stems or more in that message), else of the session's newest user message. A
  re-run of an old session, a slow extraction of messages sent before the edit, or a
  session that went on after the edit with other things ("thanks!") therefore never undoes
  the user's correction, while anything the user says *after* their edit still updates it.
"""

from __future__ import annotations

import heapq
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from shared.memory.dates import resolve
from shared.memory.ranking import Probe, Query, bm25
from shared.memory.strength import point_key
from shared.memory.text import terms
from shared.models import ContextPoint, KnownMemory, MemoryAction
from shared.store import memories
from shared.store.memories import Source
from shared.store.mongo import Database

CANDIDATES = 15  # known memories shown to the extraction


@dataclass(frozen=True)
class UserLines:
    """The session's user messages, to tell when each point was said."""

    lines: tuple[tuple[datetime, frozenset[str]], ...]
    newest: datetime  # the newest user message's time: a point no single message says

    @classmethod
    def of(cls, said: Sequence[tuple[datetime, str]]) -> UserLines:
        lines = tuple((_aware(at), frozenset(terms(text))) for at, text in said)
        return cls(lines, max((at for at, _ in lines), default=datetime.now(UTC)))

    def said_at(self, content: str) -> datetime:
        stems = set(terms(content))
        needed = max(1, math.ceil(len(stems) / 2))
        saying = [at for at, words in self.lines if len(stems & words) >= needed]
        return max(saying) if saying and stems else self.newest


async def closest(known: Sequence[dict[str, Any]], texts: Sequence[str], limit: int = CANDIDATES) -> list[KnownMemory]:
    """The active memories nearest to what the user said in the session: BM25 over stems, as
    recall scores them (`ranking.bm25`), with every memory its own stems stored.

    Only the postings of the query's stems are built: a memory that shares none of them is
    counted (its length, for the average) and passed over, nothing of it tokenised or
    copied. Every memory weighs the same here (strength and importance do not rank what the
    extraction is shown), so the best BM25 scores are the answer, ties in the order read."""
    if not known or not texts:
        return []
    query = Query.of(" ".join(texts))
    wanted = query.weights
    postings: dict[str, dict[str, tuple[int, int]]] = {}
    by_id: dict[str, dict[str, Any]] = {}
    total = 0
    for doc in known:
        stems = memories.stems_of(doc)
        total += len(stems)
        hits = [stem for stem in stems if stem in wanted]
        if not hits:
            continue
        doc_id = str(doc["_id"])
        by_id[doc_id] = doc
        for stem, tf in Counter(hits).items():
            postings.setdefault(stem, {})[doc_id] = (tf, len(stems))
    probe = Probe(n_docs=len(known), total_len=total, postings=postings, entities=[], core=[], insights=[], summary=None)
    scores = bm25(wanted, probe)
    best = heapq.nlargest(limit, scores, key=scores.__getitem__)
    return [KnownMemory(id=i, kind=str(by_id[i]["kind"]), content=str(by_id[i]["content"])) for i in best]


@dataclass
class Consolidated:
    memory_ids: list[str] = field(default_factory=list)  # one per point, in order
    counts: dict[str, int] = field(
        default_factory=lambda: {"add": 0, "update": 0, "supersede": 0, "none": 0, "kept_user_edit": 0}
    )


async def apply(
    db: Database,
    user_id: str,
    points: Sequence[ContextPoint],
    shown: Sequence[KnownMemory],
    edited_at: dict[str, datetime | None],
    removed: dict[str, datetime],
    source: Source,
    said: UserLines,
    now: datetime,
    expires_at: datetime | None,
) -> Consolidated:
    """Apply each point's decision (see the module docstring); `edited_at`: memory id -> the
    user's last change; `removed`: words the user deleted or corrected -> when. New memories go in one insert and repeats in one update, so a usual
    extraction costs two round trips here; an update or a supersede costs its own."""
    by_id = {m.id: m for m in shown}
    by_key = {point_key(m.kind, m.content): m.id for m in shown}
    out = Consolidated()
    new: list[tuple[int, ContextPoint]] = []
    repeated: list[str] = []
    superseding: dict[int, str] = {}  # index of the new memory's point -> the memory it retires
    new_said_at: list[datetime] = []
    for point in points:
        said_at = said.said_at(point.content)
        gone_at = removed.get(point_key(point.kind, point.content))
        if gone_at is not None and _aware(gone_at) > _aware(said_at):  # words the user deleted or corrected since
            out.counts["kept_user_edit"] += 1
            continue
        action: MemoryAction = point.action if point.memory_id in by_id else "add"
        target = point.memory_id if action != "add" else None
        if (same := by_key.get(point_key(point.kind, point.content))) is not None:
            action, target = "none", same
        edited = edited_at.get(target) if target else None
        if target and action in ("update", "supersede") and edited is not None and _aware(edited) > _aware(said_at):
            out.counts["kept_user_edit"] += 1
            out.memory_ids.append(target)
            continue
        out.counts[action] += 1
        if action == "none" and target:
            repeated.append(target)
            out.memory_ids.append(target)
        elif action == "update" and target:
            valid_from = resolve(point.content, said_at.date())
            await memories.revise(
                db,
                user_id,
                target,
                now,
                by="consolidation",
                content=point.content,
                kind=point.kind,
                importance=point.importance,
                source=source,
                said_at=said_at,
                valid_from=valid_from,
            )
            out.memory_ids.append(target)
        else:
            if action == "supersede" and target:
                superseding[len(out.memory_ids)] = target
            new.append((len(out.memory_ids), point))
            new_said_at.append(said_at)
            out.memory_ids.append("")  # filled in below
    drafts = [
        memories.Draft(
            kind=p.kind, content=p.content, importance=p.importance, valid_from=resolve(p.content, at.date()), said_at=at
        )
        for (_, p), at in zip(new, new_said_at, strict=True)
    ]
    made = await memories.add_many(db, user_id, drafts, now, by="extraction", source=source, expires_at=expires_at)
    for (slot, _), memory_id in zip(new, made, strict=True):
        out.memory_ids[slot] = memory_id
        if slot in superseding:
            await memories.end(
                db,
                user_id,
                superseding[slot],
                "superseded",
                now,
                by="consolidation",
                superseded_by=memory_id,
                session_id=source.session_id,
            )
    await memories.reinforce_many(db, user_id, repeated, now, source)
    return out


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
