"""Every LLM call, around whichever provider is in use: limited, budgeted, counted, recorded.

In order, for each call: the user's daily budget (shared/llm/budget.py), a place in the
shared rate window and a concurrency slot (shared/llm/limiter.py), the call, then its
Prometheus metrics by purpose and one `llm_usage` record (purpose, model, user, tokens,
latency, outcome): failed and cancelled calls are recorded too. A chat stream's usage comes
from the provider's final message (`on_usage`); a stream cancelled before it records an
estimate (the prompt, and the text streamed so far).
Without a database (tests of the provider alone) nothing is recorded; without a limiter
nothing is limited.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncGenerator, Awaitable, Callable, Sequence
from typing import Any, TypeVar

from shared.llm.attribution import current_llm_user
from shared.llm.base import LLMProvider, UsageCallback
from shared.llm.budget import check_daily_budget
from shared.llm.limiter import Admission, LLMLimiter, estimate_tokens
from shared.models import TokenUsage
from shared.process import clock
from shared.process.metrics import LLM_CALLS, LLM_LATENCY, LLM_TOKENS
from shared.process.settings import Settings
from shared.redis_structures.live_limits import LiveLimits
from shared.store.llm_usage import LLMUsageRecord, record_usage
from shared.store.mongo import Database

Reply = TypeVar("Reply")
log = logging.getLogger(__name__)

# Metrics keep their label for chat replies ("reply"); records and limits say "chat".
METRIC_LABEL = {"chat": "reply"}


class MeteredLLM:
    def __init__(
        self,
        inner: LLMProvider,
        settings: Settings | None = None,
        limiter: LLMLimiter | None = None,
        db: Database | None = None,
        live_limits: LiveLimits | None = None,
    ) -> None:
        self.inner = inner
        self.settings = settings
        self.limiter = limiter
        self.db = db
        self.live_limits = live_limits  # the daily budget in force; without it, the settings'

    def __getattr__(self, name: str) -> Any:  # anything else the provider offers
        return getattr(self.inner, name)

    async def _before(self, user_id: str | None) -> None:
        if self.db is None or self.settings is None:
            return
        if self.live_limits is not None:
            budget = (await self.live_limits.current()).user_daily_token_budget
        else:
            budget = self.settings.user_daily_token_budget
        await check_daily_budget(self.db, budget, user_id)

    async def _record(
        self,
        purpose: str,
        model: str,
        user_id: str | None,
        usage: TokenUsage,
        latency: float,
        outcome: str = "ok",
        estimated: bool = False,
    ) -> None:
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
            outcome=outcome,
            estimated=estimated,
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
            except BaseException as exc:
                LLM_CALLS.labels(label, "error").inc()
                latency = time.perf_counter() - started
                # A failed call is a call: the usage views and the budget count it. The
                # provider reported no tokens for it; a cancelled one had read its prompt.
                cancelled = isinstance(exc, asyncio.CancelledError)
                spent = TokenUsage(input_tokens=estimate if cancelled else 0, output_tokens=0)
                await asyncio.shield(
                    self._record(
                        purpose,
                        self.inner.model,
                        user_id,
                        spent,
                        latency,
                        "cancelled" if cancelled else "error",
                        estimated=cancelled,
                    )
                )
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
    ) -> AsyncGenerator[str, None]:
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
        estimate = estimate_tokens(*(m.content for m in history))
        streamed: list[str] = []
        async with self._admitted("chat", estimate) as admission:
            started = time.perf_counter()
            try:
                # aclosing: a reader that stops early closes the provider's stream now, not when
                # the abandoned generator is collected.
                async with contextlib.aclosing(self.inner.stream_reply(history, memory, collect)) as deltas:
                    async for delta in deltas:
                        streamed.append(delta)
                        yield delta
                outcome = "ok"
            except (asyncio.CancelledError, GeneratorExit):
                outcome = "cancelled"  # DELETE on the reply, a worker shutting down, the reader gone
                raise
            finally:
                latency = time.perf_counter() - started
                LLM_CALLS.labels("reply", "ok" if outcome == "ok" else "error").inc()
                LLM_LATENCY.labels("reply").observe(latency)
                if reported and admission is not None:
                    admission.settle(reported[-1][1].input_tokens + reported[-1][1].output_tokens)
                # Every call is recorded, the unfinished ones too (the usage views and the
                # budget count them): with the provider's usage when it sent one, else an
                # estimate of what was read and written.
                if reported:
                    model, usage = reported[-1]
                    estimated = False
                else:
                    model, estimated = self.inner.model, True
                    usage = TokenUsage(
                        input_tokens=estimate if outcome == "cancelled" or streamed else 0,
                        output_tokens=estimate_tokens(*streamed) if streamed else 0,
                    )
                await asyncio.shield(self._record("chat", model, user_id, usage, latency, outcome, estimated))

    async def aclose(self) -> None:
        await self.inner.aclose()


class _no_admission:
    async def __aenter__(self) -> Admission | None:
        return None

    async def __aexit__(self, *exc: object) -> None:
        return None
