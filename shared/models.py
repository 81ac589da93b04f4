"""Pydantic models for what crosses a boundary between processes or to the LLM."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

ContextKind = Literal["goal", "decision", "insight", "preference", "commitment", "fact"]
Role = Literal["user", "assistant"]


class ChatMessage(BaseModel):
    id: str
    role: Role
    content: str
    timestamp: datetime


class ContextPoint(BaseModel):
    kind: ContextKind
    content: str = Field(min_length=1, max_length=1_000)
    importance: float = Field(ge=0.0, le=1.0)


class ContextExtraction(BaseModel):
    """What the LLM must return for one session; the tool schema is generated from it."""

    points: list[ContextPoint] = Field(max_length=50)


class TokenUsage(BaseModel):
    input_tokens: int = 0
    output_tokens: int = 0


class ExtractionReply(BaseModel):
    """A provider's answer to one extraction call: the points and what it cost."""

    extraction: ContextExtraction
    model: str
    usage: TokenUsage = Field(default_factory=TokenUsage)


class RecalledPoint(BaseModel):
    kind: ContextKind
    content: str


class MemoryDigest(BaseModel):
    """What the coach may draw on when it answers; sent to the LLM as data, not instructions."""

    summary: str | None = None
    points: list[RecalledPoint] = Field(default_factory=list)


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
