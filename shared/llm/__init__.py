"""LLM providers. `create_llm` picks one from the settings; callers see `LLMProvider`.

With a Redis client the calls are rate limited across processes (shared/llm/limiter.py);
with a database each call is recorded in `llm_usage` and checked against the user's daily
budget (shared/llm/metered.py).
"""

from __future__ import annotations

import logging

from redis.asyncio import Redis

from shared.llm.base import (
    LLMBudgetExhausted,
    LLMDeferred,
    LLMError,
    LLMOutputError,
    LLMPermanentError,
    LLMProvider,
    LLMRateLimited,
    LLMTransientError,
)
from shared.llm.limiter import LLMLimiter
from shared.llm.metered import MeteredLLM
from shared.process.settings import Settings
from shared.redis_structures.live_limits import LiveLimits
from shared.store.mongo import Database

log = logging.getLogger(__name__)

__all__ = [
    "LLMBudgetExhausted",
    "LLMDeferred",
    "LLMError",
    "LLMOutputError",
    "LLMPermanentError",
    "LLMProvider",
    "LLMRateLimited",
    "LLMTransientError",
    "create_llm",
]


def create_llm(settings: Settings, redis: Redis | None = None, db: Database | None = None) -> LLMProvider:
    # One reading of the run-time limits per process, for the rate window and the budget.
    live_limits = LiveLimits(redis, settings) if redis is not None else None
    limiter = LLMLimiter(redis, settings, live_limits) if redis is not None else None
    if settings.llm_provider == "anthropic":
        from shared.llm.anthropic_provider import AnthropicProvider

        provider = AnthropicProvider(settings)
        if limiter is not None:
            provider.observe_headers = limiter.observe_headers
        log.info("LLM provider: anthropic, models %s", provider.models)
        return MeteredLLM(provider, settings, limiter, db, live_limits)
    from shared.llm.offline import OfflineProvider

    log.warning("LLM provider: OFFLINE (rule-based, not an LLM): set ANTHROPIC_API_KEY for real replies and extraction")
    # No provider to protect: the offline rules are not rate limited, but still recorded.
    return MeteredLLM(OfflineProvider(settings.offline_stream_delay_ms / 1000), settings, None, db, live_limits)
