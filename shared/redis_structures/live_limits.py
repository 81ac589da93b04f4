"""Limits an admin changes at run time, followed by every process within seconds.

CHAT_MESSAGES_PER_MINUTE, LLM_REQUESTS_PER_MINUTE, LLM_TOKENS_PER_MINUTE and
USER_DAILY_TOKEN_BUDGET start from the environment (the settings); an admin's change
(`PUT /api/v1/admin/limits`, the dashboard) is stored in one Redis hash, and every process
(service replicas, workers) reads that hash at most every LIMITS_REFRESH_SECONDS and
otherwise answers from what it read last, so a limit costs no round trip per message or
LLM call. A field not in the hash is the environment's value.

    coach:limits   hash field -> integer, only the fields an admin set

Redis away: the chat asks `current(strict=True)` and is refused `unavailable` after one
wait, as its own token bucket would be; the LLM limiter and the daily budget go on with
the values read last (or the environment's). Each change is recorded in MongoDB by the
caller (shared/store/limit_changes.py), with who, when, and the values before and after.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from redis.asyncio import Redis

from shared.process.settings import Settings
from shared.redis_structures.unavailable import REDIS_DOWN

log = logging.getLogger(__name__)

LIMITS_KEY = "coach:limits"
# Generous ceilings: they only stop a typo (an extra few zeros) from being stored.
MAX_PER_MINUTE = 1_000_000
MAX_TOKENS = 10_000_000_000


class RunTimeLimits(BaseModel):
    """The four limits as every process applies them now. 0 means unlimited (no budget),
    except for chat messages, which always have a limit."""

    model_config = ConfigDict(extra="forbid")

    chat_messages_per_minute: int = Field(ge=1, le=MAX_PER_MINUTE, strict=True)
    llm_requests_per_minute: int = Field(ge=0, le=MAX_PER_MINUTE, strict=True)
    llm_tokens_per_minute: int = Field(ge=0, le=MAX_TOKENS, strict=True)
    user_daily_token_budget: int = Field(ge=0, le=MAX_TOKENS, strict=True)


class LimitsChange(BaseModel):
    """A `PUT /api/v1/admin/limits` body: any of the four; those left out stay as they are."""

    model_config = ConfigDict(extra="forbid")

    chat_messages_per_minute: int | None = Field(None, ge=1, le=MAX_PER_MINUTE, strict=True)
    llm_requests_per_minute: int | None = Field(None, ge=0, le=MAX_PER_MINUTE, strict=True)
    llm_tokens_per_minute: int | None = Field(None, ge=0, le=MAX_TOKENS, strict=True)
    user_daily_token_budget: int | None = Field(None, ge=0, le=MAX_TOKENS, strict=True)

    def fields(self) -> dict[str, int]:
        return {name: value for name, value in self.model_dump().items() if value is not None}


LIMIT_FIELDS: tuple[str, ...] = tuple(RunTimeLimits.model_fields)


def starting_limits(settings: Settings) -> RunTimeLimits:
    return RunTimeLimits(**{name: getattr(settings, name) for name in LIMIT_FIELDS})


def _decode(raw: dict[Any, Any]) -> dict[str, int]:
    found: dict[str, int] = {}
    for key, value in raw.items():
        name = key.decode() if isinstance(key, bytes) else str(key)
        if name in LIMIT_FIELDS:
            try:
                found[name] = int(value)
            except ValueError:
                log.warning("run-time limit %s=%r in Redis is not an integer; using the environment's", name, value)
    return found


class LiveLimits:
    """One per process: the limits as stored in Redis over the environment's, re-read at most
    every `settings.limits_refresh_seconds`."""

    def __init__(self, redis: Redis, settings: Settings) -> None:
        self.redis = redis
        self.starting = starting_limits(settings)
        self.refresh_seconds = settings.limits_refresh_seconds
        self.timeout = settings.redis_timeout_seconds
        self._known = self.starting
        self._read_at = -math.inf
        self._warned = False

    def _over_starting(self, stored: dict[str, int]) -> RunTimeLimits:
        try:
            return RunTimeLimits(**(self.starting.model_dump() | stored))
        except ValidationError as exc:
            log.warning("run-time limits in Redis are out of range (%s); using the environment's", exc)
            return self.starting

    async def current(self, *, strict: bool = False, fresh: bool = False) -> RunTimeLimits:
        """The limits now. With Redis away: the values read last, or (strict) REDIS_DOWN raised.
        `fresh` reads Redis whatever the age of the last reading (the admin views)."""
        if not fresh and time.monotonic() - self._read_at < self.refresh_seconds:
            return self._known
        try:
            async with asyncio.timeout(self.timeout):
                raw = await self.redis.hgetall(LIMITS_KEY)  # type: ignore[misc]  # redis-py types sync and async as one
        except REDIS_DOWN as exc:
            if strict:
                raise
            if not self._warned:
                log.warning("run-time limits not re-read, Redis unavailable (%s); keeping the last values", exc)
                self._warned = True
            self._read_at = time.monotonic()  # ask again after a refresh period, not on every call
            return self._known
        self._warned = False
        self._known, self._read_at = self._over_starting(_decode(raw)), time.monotonic()
        return self._known

    async def change(self, change: LimitsChange) -> tuple[RunTimeLimits, RunTimeLimits]:
        """Store the change; (before, after). The read and the write are one transaction, so
        two admins changing at once each record what they really replaced."""
        fields = change.fields()
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hgetall(LIMITS_KEY)
            if fields:
                pipe.hset(LIMITS_KEY, mapping=fields)
            raw, *_ = await pipe.execute()
        before = self._over_starting(_decode(raw))
        after = before.model_copy(update=fields)
        self._known, self._read_at = after, time.monotonic()
        return before, after
