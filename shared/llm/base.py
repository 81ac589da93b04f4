"""What every LLM provider offers, and the errors it may raise.

Errors are split by what the caller should do next: a transient one is worth retrying
(rate limits, overload, 5xx, time-outs, lost connections); a permanent one is not.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable, Sequence
from datetime import datetime
from typing import Protocol

from shared.models import (
    ChatMessage,
    ContextNote,
    ExtractionReply,
    KnownMemory,
    MemoryDigest,
    ReflectionReply,
    SessionDigest,
    SummaryReply,
    TokenUsage,
)

# Told the stream's model and usage once the stream has ended (Anthropic: the final message).
UsageCallback = Callable[[str, TokenUsage], None]


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

    async def extract_context(self, transcript: Sequence[ChatMessage], known: Sequence[KnownMemory] = ()) -> ExtractionReply: ...

    async def summarize(self, sessions: Sequence[SessionDigest]) -> SummaryReply: ...

    async def reflect(self, notes: Sequence[ContextNote]) -> ReflectionReply: ...

    def stream_reply(
        self, history: Sequence[ChatMessage], memory: MemoryDigest, on_usage: UsageCallback | None = None
    ) -> AsyncGenerator[str, None]: ...  # a reader that stops early closes it (aclose), and the call with it

    async def aclose(self) -> None: ...


class LLMDeferred(LLMError):
    """The call may not run now, and nothing failed: wait `retry_after` seconds.

    A job that gets this is deferred without using up a try (worker/reliability.py).
    """

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class LLMRateLimited(LLMDeferred):
    """The shared rate budget (or the provider's) will not allow the call within LLM_MAX_WAIT_SECONDS."""


class LLMBudgetExhausted(LLMDeferred):
    """The user has spent USER_DAILY_TOKEN_BUDGET today; it resets at `resets_at` (next UTC midnight)."""

    def __init__(self, message: str, retry_after: float, resets_at: datetime) -> None:
        super().__init__(message, retry_after)
        self.resets_at = resets_at
