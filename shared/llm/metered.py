"""Every LLM call, around whichever provider is in use: limited, budgeted, counted, recorded.

In order, for each call: the user's daily budget (shared/llm/budget.py), a place in the
shared rate window and a concurrency slot (shared/llm/limiter.py), the call, then its
Prometheus metrics by purpose and one `llm_usage` record (purpose, model, user, tokens,
latency). A chat stream's usage comes from the provider's final message (`on_usage`).
Without a database (tests of the provider alone) nothing is recorded; without a limiter
nothing is limited.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any, TypeVar

from shared.llm.attribution import current_llm_user
from shared.llm.base import LLMProvider, UsageCallback
from shared.llm.budget import check_daily_budget
from shared.llm.limiter import Admission, LLMLimiter, estimate_tokens
from shared.models import TokenUsage
from shared.process import clock
from shared.process.metrics import LLM_CALLS, LLM_LATENCY, LLM_TOKENS
from shared.process.settings import Settings
from shared.store.llm_usage import LLMUsageRecord, record_usage
from shared.store.mongo import Database

Reply = TypeVar("Reply")
log = logging.getLogger(__name__)

# Metrics keep their label for chat replies ("reply"); records and limits say "chat".
METRIC_LABEL = {"chat": "reply"}


class MeteredLLM:
    def __init__(
        self, inner: LLMProvider, settings: Settings | None = None, limiter: LLMLimiter | None = None, db: Database | None = None
    ) -> None:
        self.inner = inner
        self.settings = settings
        self.limiter = limiter
        self.db = db

    def __getattr__(self, name: str) -> Any:  # anything else the provider offers
        return getattr(self.inner, name)

    async def _before(self, user_id: str | None) -> None:
        if self.db is not None and self.settings is not None:
            await check_daily_budget(self.db, self.settings, user_id)

    async def _record(self, purpose: str, model: str, user_id: str | None, usage: TokenUsage, latency: float) -> None:
        label = METRIC_LABEL.get(purpose, purpose)
        LLM_TOKENS.labels(label, "input").inc(usage.input_tokens)
        LLM_TOKENS.labels(label, "output").inc(usage.output_tokens)
        if self.db is None:
            return
        record = LLMUsageRecord(
            purpose=purpose,
            model=model,
            user_id=user_id,
            input_tokens=usage.input_tokens,
            output_tokens=usage.output_tokens,
            latency_seconds=latency,
            at=clock.now(),
        )
        try:
            await record_usage(self.db, record)
        except Exception:  # the answer is already paid for; losing the record must not lose it
            log.exception("could not record LLM usage %s", record.model_dump())

    async def _measure(self, purpose: str, estimate: int, call: Callable[[], Awaitable[Reply]]) -> Reply:
        user_id = current_llm_user()
        await self._before(user_id)
        label = METRIC_LABEL.get(purpose, purpose)
        async with self._admitted(purpose, estimate) as admission:
            started = time.perf_counter()
            try:
                reply = await call()
            except BaseException:
                LLM_CALLS.labels(label, "error").inc()
                raise
            finally:
                latency = time.perf_counter() - started
                LLM_LATENCY.labels(label).observe(latency)
            LLM_CALLS.labels(label, "ok").inc()
            usage = getattr(reply, "usage", None) or TokenUsage()
            if admission is not None:
                admission.settle(usage.input_tokens + usage.output_tokens)
        await self._record(purpose, getattr(reply, "model", self.inner.model), user_id, usage, latency)
        return reply

    def _admitted(self, purpose: str, estimate: int) -> Any:
        if self.limiter is None:
            return _no_admission()
        return self.limiter.admit(purpose, estimate)

    async def extract_context(self, transcript: Sequence[Any], known: Sequence[Any] = ()) -> Any:
        estimate = estimate_tokens(*(m.content for m in transcript), *(k.content for k in known))
        return await self._measure("extraction", estimate, lambda: self.inner.extract_context(transcript, known))

    async def summarize(self, sessions: Sequence[Any]) -> Any:
        estimate = estimate_tokens(*(p.content for s in sessions for p in s.points))
        return await self._measure("summary", estimate, lambda: self.inner.summarize(sessions))

    async def reflect(self, notes: Sequence[Any]) -> Any:
        estimate = estimate_tokens(*(p.content for n in notes for p in n.points))
        return await self._measure("reflection", estimate, lambda: self.inner.reflect(notes))

    async def stream_reply(
        self, history: Sequence[Any], memory: Any, on_usage: UsageCallback | None = None
    ) -> AsyncIterator[str]:
        # The whole stream is one call; its latency is to the last delta, its usage the
        # provider's final count.
        user_id = current_llm_user()
        await self._before(user_id)
        reported: list[tuple[str, TokenUsage]] = []

        def collect(model: str, usage: TokenUsage) -> None:
            reported.append((model, usage))
            if on_usage is not None:
                on_usage(model, usage)

        outcome = "error"
        async with self._admitted("chat", estimate_tokens(*(m.content for m in history))) as admission:
            started = time.perf_counter()
            try:
                async for delta in self.inner.stream_reply(history, memory, collect):
                    yield delta
                outcome = "ok"
            finally:
                latency = time.perf_counter() - started
                LLM_CALLS.labels("reply", outcome).inc()
                LLM_LATENCY.labels("reply").observe(latency)
                if reported and admission is not None:
                    admission.settle(reported[-1][1].input_tokens + reported[-1][1].output_tokens)
        if reported:
            model, usage = reported[-1]
            await self._record("chat", model, user_id, usage, latency)

    async def aclose(self) -> None:
        await self.inner.aclose()


class _no_admission:
    async def __aenter__(self) -> Admission | None:
        return None

    async def __aexit__(self, *exc: object) -> None:
        return None
