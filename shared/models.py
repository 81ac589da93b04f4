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

    points: list[RecalledPoint] = Field(default_factory=list)


class ExtractionOutcome(BaseModel):
    """The result of one `extract_session_context` job."""

    success: bool
    context_id: str | None = None
    reason: Literal["extracted", "insufficient_messages", "up_to_date", "superseded"]
