"""Ranking a user's memories for one message: BM25 over stems, the entity graph, strength.

Pure functions over an index (`RecallIndex`): the Redis copy (shared/redis_structures/
recall_index.py) and the MongoDB fallback (built here from `UserMemory`) are read the same
way, so both rank alike. A reply asks in two steps, each one Redis round trip:

1. `Probe`: the index's totals, its stable core, the postings of the message's stems and
   the entities its phrases name (`RecallIndex.probe`);
2. the documents of the best candidates (`RecallIndex.documents`), ranked here by

       relevance = lexical + ENTITY_WEIGHT * entity [+ DENSE_WEIGHT * dense]
       score     = relevance * (1 - STRENGTH_SHARE + STRENGTH_SHARE * strength now x importance)

   where `lexical` is the document's BM25 score over the best one's (0-1), `entity` is 1
   when the message names an entity (by any alias) that the document mentions, and `dense`
   the cosine similarity when an embeddings provider is configured. Strength only orders
   what is relevant: a strong memory the message does not touch stays out, unless it is
   one of the few strongest of all, the stable core every prompt carries.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from pydantic import BaseModel

from shared.memory.strength import current_strength
from shared.memory.text import name_key, phrases, term_counts, terms
from shared.models import EntityNames, MemoryDoc

K1, B = 1.2, 0.75  # BM25's usual constants
ENTITY_WEIGHT = 0.5
DENSE_WEIGHT = 1.0
STRENGTH_SHARE = 0.2
POOL = 100  # lexical candidates whose documents are read (the rest cannot reach a prompt of 20)
ENTITY_POOL = 40  # documents an entity brings in, newest first
CORE_POINTS = 3  # the strongest points every prompt carries


@dataclass(frozen=True)
class EntityLink:
    """An entity a message can name, and the documents that mention it by any of its names."""

    id: str
    name: str
    docs: tuple[str, ...]


@dataclass
class Probe:
    """What the first round trip brings: enough to pick the candidates."""

    n_docs: int
    total_len: int
    postings: dict[str, dict[str, tuple[int, int]]]  # stem -> doc id -> (term frequency, doc length)
    entities: list[EntityLink]
    core: list[str]  # the strongest points' ids, strongest first
    insights: list[str]  # the newest reflection's insights
    summary: str | None


class RecallIndex(Protocol):
    async def probe(self, stems: Iterable[str], names: Iterable[str]) -> Probe | None: ...
    async def documents(self, ids: Sequence[str]) -> dict[str, MemoryDoc]: ...
    async def vectors(self, ids: Sequence[str]) -> dict[str, bytes]: ...


class Reasons(BaseModel):
    """Why a memory was recalled, each part 0-1 (see the module docstring)."""

    lexical: float = 0.0
    entity: float = 0.0
    dense: float | None = None
    strength: float = 0.0
    core: bool = False


class Ranked(BaseModel):
    doc: MemoryDoc
    score: float
    reasons: Reasons


@dataclass
class Query:
    """A message (and the turns before it) as weighted stems and the phrases that may name entities."""

    weights: dict[str, float]
    names: set[str] = field(default_factory=set)

    @classmethod
    def of(cls, newest: str, earlier: Sequence[str] = (), earlier_weight: float = 0.35) -> Query:
        weights: dict[str, float] = {}
        for stem in set(terms(newest)):
            weights[stem] = weights.get(stem, 0.0) + 1.0
        for text in earlier:
            for stem in set(terms(text)):
                weights[stem] = weights.get(stem, 0.0) + earlier_weight
        names = phrases(newest) | {p for text in earlier for p in phrases(text)}
        return cls(weights, names)


def bm25(query: Mapping[str, float], probe: Probe) -> dict[str, float]:
    if probe.n_docs == 0:
        return {}
    avg_len = max(probe.total_len / probe.n_docs, 1.0)
    scores: dict[str, float] = {}
    for stem, weight in query.items():
        postings = probe.postings.get(stem)
        if not postings:
            continue
        df = len(postings)
        idf = math.log(1 + (probe.n_docs - df + 0.5) / (df + 0.5))
        for doc_id, (tf, length) in postings.items():
            scores[doc_id] = scores.get(doc_id, 0.0) + weight * idf * tf * (K1 + 1) / (tf + K1 * (1 - B + B * length / avg_len))
    return scores


def candidates(query: Query, probe: Probe) -> tuple[dict[str, float], set[str], list[str]]:
    """Lexical scores, entity-linked ids, and the ids whose documents to read."""
    lexical = bm25(query.weights, probe)
    linked = {doc_id for link in probe.entities for doc_id in link.docs[-ENTITY_POOL:]}
    pool = sorted(lexical, key=lexical.__getitem__, reverse=True)[:POOL]
    wanted = dict.fromkeys([*probe.core, *probe.insights, *pool, *sorted(linked)])
    return lexical, linked, list(wanted)


def rank(
    lexical: Mapping[str, float],
    linked: set[str],
    docs: Mapping[str, MemoryDoc],
    now: datetime,
    rate: float,
    dense: Mapping[str, float] | None = None,
    core: Sequence[str] = (),
) -> list[Ranked]:
    """Every relevant document (and the core), best first."""
    top = max(lexical.values(), default=0.0) or 1.0
    ranked = []
    for doc_id, doc in docs.items():
        lex = lexical.get(doc_id, 0.0) / top
        ent = 1.0 if doc_id in linked else 0.0
        sim = max(dense.get(doc_id, 0.0), 0.0) if dense is not None else None
        relevance = lex + ENTITY_WEIGHT * ent + (DENSE_WEIGHT * sim if sim is not None else 0.0)
        strength = current_strength(doc.strength, doc.decayed_at, now, rate) * doc.importance
        in_core = doc_id in core
        if relevance <= 0 and not in_core:
            continue
        score = relevance * (1 - STRENGTH_SHARE + STRENGTH_SHARE * strength)
        reasons = Reasons(
            lexical=round(lex, 4),
            entity=ent,
            dense=None if sim is None else round(sim, 4),
            strength=round(strength, 4),
            core=in_core,
        )
        ranked.append(Ranked(doc=doc, score=round(score, 6), reasons=reasons))
    # Ties: a stored point before a summary repeating it, then the newer first.
    ranked.sort(key=lambda r: (r.score, r.doc.source == "point", r.doc.said_at or now), reverse=True)
    return ranked


# -- the index, built from what MongoDB holds ----------------------------------------------


@dataclass
class BuiltIndex:
    """A user's whole index: what the Redis copy stores, and what the fallback ranks in memory."""

    docs: dict[str, MemoryDoc]
    postings: dict[str, dict[str, tuple[int, int]]]
    total_len: int
    links: dict[str, EntityLink]  # name key -> entity
    core: list[str]
    insights: list[str]
    summary: str | None
    vecs: dict[str, bytes] = field(default_factory=dict)  # packed vectors, with an embeddings provider

    async def probe(self, stems: Iterable[str], names: Iterable[str]) -> Probe:
        return Probe(
            n_docs=len(self.docs),
            total_len=self.total_len,
            postings={s: self.postings[s] for s in stems if s in self.postings},
            entities=list({self.links[n].id: self.links[n] for n in names if n in self.links}.values()),
            core=self.core,
            insights=self.insights,
            summary=self.summary,
        )

    async def documents(self, ids: Sequence[str]) -> dict[str, MemoryDoc]:
        return {i: self.docs[i] for i in ids if i in self.docs}

    async def vectors(self, ids: Sequence[str]) -> dict[str, bytes]:
        return {i: self.vecs[i] for i in ids if i in self.vecs}


def build_index(
    docs: Sequence[MemoryDoc], entities: Sequence[EntityNames], summary: str | None, now: datetime, rate: float
) -> BuiltIndex:
    postings: dict[str, dict[str, tuple[int, int]]] = {}
    stems_of: dict[str, set[str]] = {}
    total = 0
    for doc in docs:
        counts = Counter(doc.terms) if doc.terms is not None else term_counts(doc.content)
        length = sum(counts.values())
        total += length
        stems_of[doc.id] = set(counts)
        for stem, tf in counts.items():
            postings.setdefault(stem, {})[doc.id] = (tf, length)
    oldest_first = sorted(docs, key=lambda d: d.said_at or d.decayed_at)
    links: dict[str, EntityLink] = {}
    for entity in entities:
        names = [entity.name, *entity.aliases]
        name_stems = [set(terms(n)) for n in names]
        mentioned = tuple(d.id for d in oldest_first if any(s and s <= stems_of[d.id] for s in name_stems))
        link = EntityLink(id=entity.id, name=entity.name, docs=mentioned)
        for n in names:
            if key := name_key(n):
                links[key] = link
    points = [d for d in docs if d.source == "point"]
    points.sort(key=lambda d: current_strength(d.strength, d.decayed_at, now, rate) * d.importance, reverse=True)
    return BuiltIndex(
        docs={d.id: d for d in docs},
        postings=postings,
        total_len=total,
        links=links,
        core=[d.id for d in points[:CORE_POINTS]],
        insights=[d.id for d in docs if d.source == "insight"],
        summary=summary,
    )
