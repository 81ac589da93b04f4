"""LLM providers. `create_llm` picks one from the settings; callers see `LLMProvider`."""

from __future__ import annotations

import logging

from shared.llm.base import (
    LLMError,
    LLMOutputError,
    LLMPermanentError,
    LLMProvider,
    LLMTransientError,
)
from shared.llm.metered import MeteredLLM
from shared.settings import Settings

log = logging.getLogger(__name__)

__all__ = ["LLMError", "LLMOutputError", "LLMPermanentError", "LLMProvider", "LLMTransientError", "create_llm"]


def create_llm(settings: Settings) -> LLMProvider:
    if settings.llm_provider == "anthropic":
        from shared.llm.anthropic_provider import AnthropicProvider

        log.info("LLM provider: anthropic, model %s", settings.llm_model)
        return MeteredLLM(AnthropicProvider(settings))
    from shared.llm.offline import OfflineProvider

    log.warning(
        "LLM provider: OFFLINE (rule-based, not an LLM): set ANTHROPIC_API_KEY for real replies and extraction"
    )
    return MeteredLLM(OfflineProvider())
