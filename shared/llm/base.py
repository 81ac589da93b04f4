"""What every LLM provider offers, and the errors it may raise.

Errors are split by what the caller should do next: a transient one is worth retrying
(rate limits, overload, 5xx, time-outs, lost connections); a permanent one is not.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Protocol

from shared.models import ChatMessage, ContextNote, ExtractionReply, MemoryDigest, ReflectionReply, SessionDigest, SummaryReply


class LLMError(Exception):
    pass


class LLMTransientError(LLMError):
    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class LLMPermanentError(LLMError):
    pass


class LLMOutputError(LLMPermanentError):
    """The model answered, but not in the shape the schema demands."""


class LLMProvider(Protocol):
    name: str
    model: str

    async def extract_context(self, transcript: Sequence[ChatMessage]) -> ExtractionReply: ...

    async def summarize(self, sessions: Sequence[SessionDigest]) -> SummaryReply: ...

    async def reflect(self, notes: Sequence[ContextNote]) -> ReflectionReply: ...

    def stream_reply(self, history: Sequence[ChatMessage], memory: MemoryDigest) -> AsyncIterator[str]: ...

    async def aclose(self) -> None: ...
