"""Pydantic models for what crosses a boundary between processes or to the LLM."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field, create_model

ContextKind = Literal["goal", "decision", "insight", "preference", "commitment", "fact"]
Role = Literal["user", "assistant"]


class ChatMessage(BaseModel):
    id: str
    role: Role
    content: str
    timestamp: datetime


MemoryAction = Literal["add", "update", "supersede", "none"]


class ContextPoint(BaseModel):
    kind: ContextKind
    content: str = Field(min_length=1, max_length=1_000)
    importance: float = Field(ge=0.0, le=1.0)
    # Consolidation against the user's known memories (shared/memory/consolidate.py): add a
    # new memory, update memory_id (a new version), supersede it (it no longer holds), or
    # none (already known: reinforce it). An id that is not one of the known memories adds.
    action: MemoryAction = Field("add", description="add, update, supersede or none; what this point does to memory_id")
    memory_id: str | None = Field(
        None, max_length=40, description="the id of the known memory this point updates, supersedes or repeats"
    )


class KnownMemory(BaseModel):
    """An active memory shown to the extraction, so it can consolidate new points against it."""

    id: str
    kind: str
    content: str


EntityKind = Literal["person", "goal", "habit", "event", "place"]


class ExtractedEntity(BaseModel):
    """Something the session names: a person, a goal, a habit, an event, a place."""

    name: str = Field(min_length=1, max_length=100)
    kind: EntityKind
    # Other names the user gave it in the session ("NYC" for New York). A claim to check,
    # not a fact: shared/memory/llm_aliases.py takes only what looks like a name and was said.
    aliases: list[Annotated[str, Field(min_length=1, max_length=100)]] = Field(
        default_factory=list,
        max_length=5,
        description="other names the user used for this same entity in this session, as written; empty if none",
    )


class ExtractedRelation(BaseModel):
    """How two of the session's entities relate, by their names as given in `entities`."""

    source: str = Field(min_length=1, max_length=100)
    target: str = Field(min_length=1, max_length=100)
    relation: str = Field(min_length=1, max_length=60)


class ContextExtraction(BaseModel):
    """What the LLM must return for one session; the tool schema is generated from it.

    Entities and relations are optional (an older model answer without them still
    validates) and bounded, so a model, or the test stub answering from the schema, cannot
    flood the graph from one session.
    """

    points: list[ContextPoint] = Field(max_length=50)
    entities: list[ExtractedEntity] = Field(default_factory=list, max_length=30)
    relations: list[ExtractedRelation] = Field(default_factory=list, max_length=30)


class TokenUsage(BaseModel):
    input_tokens: int = 0
    output_tokens: int = 0


class ExtractionReply(BaseModel):
    """A provider's answer to one extraction call: the points and what it cost."""

    extraction: ContextExtraction
    model: str
    usage: TokenUsage = Field(default_factory=TokenUsage)


class RecalledPoint(BaseModel):
    kind: ContextKind | Literal["summary"]  # "summary": a key point of a summary of older sessions
    content: str
    said_at: date | None = None  # the day the user said it, so the coach can answer "when did I ..."
    valid_from: date | None = None  # the day it holds or happens, where the user gave one


InsightKind = Literal["pattern", "progress", "next_step"]


class RecalledInsight(BaseModel):
    kind: InsightKind
    text: str


class MemoryDigest(BaseModel):
    """What the coach may draw on when it answers; sent to the LLM as data, not instructions."""

    summary: str | None = None
    points: list[RecalledPoint] = Field(default_factory=list)
    reflections: list[RecalledInsight] = Field(default_factory=list)


class ExtractionOutcome(BaseModel):
    """The result of one `extract_session_context` job."""

    success: bool
    context_id: str | None = None
    # no_points: the LLM found nothing worth keeping; no_new_points: everything it found the
    # user had already said in other sessions (those were reinforced). Neither stores a context.
    reason: Literal["extracted", "no_points", "no_new_points", "insufficient_messages", "up_to_date", "superseded"]


class SessionDigest(BaseModel):
    """One stored session context, as a summary is written from it."""

    session_id: str
    created_at: datetime
    points: list[RecalledPoint]


class SummaryDraft(BaseModel):
    """What the LLM must return when it folds sessions into a summary."""

    text: str = Field(min_length=1, max_length=4_000)
    key_points: list[str] = Field(max_length=20)


class SummaryReply(BaseModel):
    draft: SummaryDraft
    model: str
    usage: TokenUsage = Field(default_factory=TokenUsage)


class SummaryOutcome(BaseModel):
    """The result of one `summarize_sessions` job."""

    success: bool
    summary_id: str | None = None
    covered: int = 0
    reason: Literal["summarized", "nothing_to_summarize"]


class ContextNote(BaseModel):
    """One stored session context, as a reflection reads it: the id is what an insight cites."""

    id: str
    created_at: datetime
    points: list[RecalledPoint]


class Insight(BaseModel):
    kind: InsightKind
    text: str = Field(min_length=1, max_length=500)
    context_ids: list[str] = Field(min_length=1, max_length=10)


class ReflectionDraft(BaseModel):
    """What the LLM must return when it reflects; `reflection_output_model` narrows the ids."""

    insights: list[Insight] = Field(min_length=1, max_length=8)


def reflection_output_model(context_ids: Sequence[str]) -> type[ReflectionDraft]:
    """ReflectionDraft whose `context_ids` may only name these contexts.

    The schema sent to the model lists the ids as an enum, and validation refuses any other
    id, so a fabricated citation is an output error (one repair attempt, then a failure),
    never a stored insight.
    """
    allowed = Literal[tuple(context_ids)]  # type: ignore[valid-type]
    insight = create_model("Insight", __base__=Insight, context_ids=(list[allowed], Field(min_length=1, max_length=10)))  # type: ignore[valid-type]
    return create_model("ReflectionDraft", __base__=ReflectionDraft, insights=(list[insight], Field(min_length=1, max_length=8)))


class ReflectionReply(BaseModel):
    draft: ReflectionDraft
    model: str
    usage: TokenUsage = Field(default_factory=TokenUsage)


class ReflectionOutcome(BaseModel):
    """The result of one `generate_reflection` job."""

    success: bool
    reflection_id: str | None = None
    insights: int = 0
    reason: Literal["reflected", "too_few_new_contexts", "no_contexts"]


class RecallCacheOutcome(BaseModel):
    """The result of one `rebuild_recall_cache` job: the user's recall index rebuilt."""

    user_id: str
    documents: int
    stems: int
    entities: int
    embedded: int = 0  # documents given a vector this run (with an embeddings provider)
    written: bool  # False: the index was dropped again while this run read MongoDB; the next run writes it


MemorySource = Literal["point", "summary", "insight"]


class MemoryDoc(BaseModel):
    """One memory as recall sees it. `id` is stable across rebuilds: `p:<context id>:<point
    key>`, `s:<summary id>:<n>`, `i:<reflection id>:<n>`."""

    id: str
    source: MemorySource
    kind: str
    content: str
    importance: float
    strength: float  # as stored, with `decayed_at`: current strength is computed at read time
    decayed_at: datetime
    session_id: str | None = None
    said_at: datetime | None = None  # when the user said it (the newest message the extraction read)
    valid_from: date | None = None  # when it holds or happens, where the user said so ("my race is on 12 April")
    # The content's stems where the store keeps them (a memory record's `terms`), so an index
    # rebuild need not tokenise every memory again. Never stored in the index itself.
    terms: list[str] | None = Field(default=None, exclude=True)


class EntityNames(BaseModel):
    """An entity of the user's graph, by every name it goes by."""

    id: str
    name: str
    kind: str
    aliases: list[str]
