"""Counts and times every LLM call by purpose, around whichever provider is in use."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any, TypeVar

from shared.llm.base import LLMProvider
from shared.metrics import LLM_CALLS, LLM_LATENCY, LLM_TOKENS

Reply = TypeVar("Reply")


class MeteredLLM:
    def __init__(self, inner: LLMProvider) -> None:
        self.inner = inner

    def __getattr__(self, name: str) -> Any:  # anything else the provider offers
        return getattr(self.inner, name)

    async def _measure(self, purpose: str, call: Callable[[], Awaitable[Reply]]) -> Reply:
        started = time.perf_counter()
        try:
            reply = await call()
        except BaseException:
            LLM_CALLS.labels(purpose, "error").inc()
            raise
        finally:
            LLM_LATENCY.labels(purpose).observe(time.perf_counter() - started)
        LLM_CALLS.labels(purpose, "ok").inc()
        usage = getattr(reply, "usage", None)
        if usage is not None:
            LLM_TOKENS.labels(purpose, "input").inc(usage.input_tokens)
            LLM_TOKENS.labels(purpose, "output").inc(usage.output_tokens)
        return reply

    async def extract_context(self, transcript: Sequence[Any]) -> Any:
        return await self._measure("extraction", lambda: self.inner.extract_context(transcript))

    async def summarize(self, sessions: Sequence[Any]) -> Any:
        return await self._measure("summary", lambda: self.inner.summarize(sessions))

    async def stream_reply(self, history: Sequence[Any], memory: Any) -> AsyncIterator[str]:
        # The whole stream is one call; its latency is to the last delta (the stream's
        # usage is not exposed by the provider interface, so no tokens here).
        started, outcome = time.perf_counter(), "error"
        try:
            async for delta in self.inner.stream_reply(history, memory):
                yield delta
            outcome = "ok"
        finally:
            LLM_CALLS.labels("reply", outcome).inc()
            LLM_LATENCY.labels("reply").observe(time.perf_counter() - started)

    async def aclose(self) -> None:
        await self.inner.aclose()
