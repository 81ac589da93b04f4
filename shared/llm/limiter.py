"""LLM traffic control shared by every process: requests and tokens per window, in Redis.

Why a sliding window log and not `shared/redis_structures/rate_limit.py`'s token bucket: a bucket of
capacity N refilled at N per minute lets 2N requests through in some 60-second window (a
full bucket, then its refill), and the contract is "no window holds more than
LLM_REQUESTS_PER_MINUTE". The log keeps one entry per admitted call (a Redis sorted set
scored by Redis's own clock), so the count over the last window is exact; its size is
bounded by the limit. One Lua script decides, atomically across processes, in one round
trip; a second one after the call replaces the token estimate with the real usage.

- Each call counts from its admission until one window after it ends (FINISH below), so
  no window at the provider holds more than the limit; a call of latency L therefore
  costs W + L of the window, and the steady rate is limit x W / (W + L). (A call still
  running a whole window after its admission has lapsed from the log meanwhile; with a
  60-s window and LLM_TIMEOUT_SECONDS=60 that is a call at its time-out.)
- Chat first: background purposes may fill only (1 - LLM_CHAT_RESERVED_SHARE) of each
  limit and of the per-process LLM_MAX_CONCURRENCY; the rest is chat's alone.
- The provider's word counts too: a 429/529 `retry-after` pauses every process's calls
  for that long; `anthropic-ratelimit-*-remaining` below LLM_HEADER_SLOWDOWN_SHARE of its
  limit pauses background calls until the provider's reset.
- Waiting: a call waits in place up to LLM_MAX_WAIT_SECONDS; past that it raises
  LLMRateLimited, which a job turns into a deferral that does not use a try.
- Redis unreachable: calls go ahead unlimited (one warning); the provider's 429s and the
  jobs' retry policy still protect, and chat keeps working.
- Changed at run time: the two limits are the ones in force (an admin's change, read
  through shared/redis_structures/live_limits.py), taken once per call at its admission.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import uuid
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from redis.asyncio import Redis

from shared.llm.base import LLMRateLimited
from shared.process.metrics import LLM_RATE_DEFERRED, LLM_RATE_WAIT
from shared.process.settings import Settings
from shared.redis_structures.live_limits import LiveLimits
from shared.redis_structures.unavailable import REDIS_DOWN

log = logging.getLogger(__name__)

CHAT = "chat"
KEY_PREFIX = "llm:limit"

ADMIT = """
local window = tonumber(ARGV[1])
local req_limit = tonumber(ARGV[2])
local tok_limit = tonumber(ARGV[3])
local cost = tonumber(ARGV[4])
local keep = tonumber(ARGV[5])
local wait = math.max(0, redis.call('PTTL', KEYS[3]))
if ARGV[7] == '1' then wait = math.max(wait, redis.call('PTTL', KEYS[4])) end
if wait > 0 then return {0, wait} end
-- No limits in force (the default): only the provider's pauses above apply.
if req_limit <= 0 and tok_limit <= 0 then return {1, 0} end
local now_t = redis.call('TIME')
local now = tonumber(now_t[1]) * 1000 + math.floor(tonumber(now_t[2]) / 1000)
if req_limit > 0 then redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window) end
if tok_limit > 0 then redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - window) end
if req_limit > 0 then
  local allowed = math.max(1, math.floor(req_limit * (1 - keep)))
  local n = redis.call('ZCARD', KEYS[1])
  if n + 1 > allowed then
    local e = redis.call('ZRANGE', KEYS[1], n - allowed, n - allowed, 'WITHSCORES')
    wait = math.max(wait, tonumber(e[2]) + window - now + 1)
  end
end
if tok_limit > 0 then
  local allowed = math.max(1, math.floor(tok_limit * (1 - keep)))
  local entries = redis.call('ZRANGE', KEYS[2], 0, -1, 'WITHSCORES')
  local total = 0
  for i = 1, #entries, 2 do total = total + tonumber(string.match(entries[i], ':(%d+)$')) end
  if total + cost > allowed then
    local freed = 0
    for i = 1, #entries, 2 do
      freed = freed + tonumber(string.match(entries[i], ':(%d+)$'))
      if total - freed + cost <= allowed then
        wait = math.max(wait, tonumber(entries[i + 1]) + window - now + 1)
        break
      end
    end
  end
end
if wait > 0 then return {0, wait} end
if req_limit > 0 then
  redis.call('ZADD', KEYS[1], now, ARGV[6])
  redis.call('PEXPIRE', KEYS[1], window)
end
if tok_limit > 0 then
  redis.call('ZADD', KEYS[2], now, ARGV[6] .. ':' .. cost)
  redis.call('PEXPIRE', KEYS[2], window)
end
return {1, 0}
"""

# When the call has ended: its entries move to the end time (Redis's clock), and its token
# estimate becomes the real count. The provider saw the request somewhere between
# admission and this end, so a window that counts each call until W after its end cannot
# let limit + 1 requests reach the provider within any W: the last of them would have found
# the other `limit` still in the log. (Counted from admission only, a burst admitted as a
# window turned could arrive beside the previous burst's stragglers.)
FINISH = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window = tonumber(ARGV[4])
if ARGV[5] == '1' then
  redis.call('ZADD', KEYS[1], now, ARGV[1])
  redis.call('PEXPIRE', KEYS[1], window)
end
if ARGV[2] ~= '' then
  redis.call('ZREM', KEYS[2], ARGV[2])
  redis.call('ZADD', KEYS[2], now, ARGV[3])
  redis.call('PEXPIRE', KEYS[2], window)
end
return 1
"""

# Pause for at least ARGV[1] ms; never shortens a longer pause already set.
PAUSE = """
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[1]) then
  redis.call('SET', KEYS[1], '1', 'PX', ARGV[1])
end
return 1
"""


@dataclass
class Admission:
    """One admitted call; `settle` with its real token count once it is known."""

    member: str
    estimate: int  # what the window holds for this call until it is settled
    requests: int  # the limits in force when it was admitted (0 = none), kept until it ends
    tokens: int
    actual: int | None = None

    @property
    def limits_rates(self) -> bool:
        return self.requests > 0 or self.tokens > 0

    def settle(self, tokens: int) -> None:
        self.actual = tokens


def estimate_tokens(*texts: str) -> int:
    # ~4 characters a token: good enough to keep a burst inside the window; corrected after.
    return max(1, sum(len(t) for t in texts) // 4)


class LLMLimiter:
    def __init__(self, redis: Redis, settings: Settings, live_limits: LiveLimits | None = None) -> None:
        self.redis = redis
        self.window_ms = max(1, int(settings.llm_rate_window_seconds * 1000))
        self.live_limits = live_limits or LiveLimits(redis, settings)
        self.reserved = settings.llm_chat_reserved_share
        self.max_wait = settings.llm_max_wait_seconds
        self.slowdown_share = settings.llm_header_slowdown_share
        self.retry_after_cap = settings.llm_rate_window_seconds
        total = settings.llm_max_concurrency
        # Per process: background holds at most its share of the slots; chat may use any.
        self._any_slot = asyncio.Semaphore(total)
        self._background_slot = asyncio.Semaphore(max(1, int(total * (1 - self.reserved))) if total > 1 else 1)
        self._admit = redis.register_script(ADMIT)
        self._finish = redis.register_script(FINISH)
        self._pause = redis.register_script(PAUSE)
        self.keys = [f"{KEY_PREFIX}:requests", f"{KEY_PREFIX}:tokens", f"{KEY_PREFIX}:pause", f"{KEY_PREFIX}:pause:background"]
        self._warned_down = False

    @contextlib.asynccontextmanager
    async def admit(self, purpose: str, estimate: int) -> AsyncIterator[Admission]:
        """Hold a concurrency slot and a place in the window for one call."""
        background = purpose != CHAT
        async with contextlib.AsyncExitStack() as stack:
            if background:
                await stack.enter_async_context(self._background_slot)
            await stack.enter_async_context(self._any_slot)
            limits = await self.live_limits.current()
            requests, tokens = limits.llm_requests_per_minute, limits.llm_tokens_per_minute
            if tokens > 0:
                # A call bigger than the caller's whole share is let through alone, as that share.
                estimate = min(estimate, max(1, int(tokens * (1 - (self.reserved if background else 0.0)))))
            admission = Admission(member=uuid.uuid4().hex, estimate=estimate, requests=requests, tokens=tokens)
            # Asked even with no limits set: the provider's pauses (retry-after) still hold.
            await self._wait_for_budget(admission, purpose)
            try:
                yield admission
            finally:
                if admission.limits_rates:  # failed calls too: the request may well have reached the provider
                    await asyncio.shield(self._finish_quietly(admission))

    async def _finish_quietly(self, admission: Admission) -> None:
        tokens = ["", ""]
        if admission.tokens > 0:
            tokens = [
                f"{admission.member}:{admission.estimate}",
                f"{admission.member}:{admission.estimate if admission.actual is None else admission.actual}",
            ]
        try:
            await self._finish(
                keys=self.keys[:2], args=[admission.member, *tokens, self.window_ms, "1" if admission.requests > 0 else "0"]
            )
        except REDIS_DOWN as exc:
            self._say_down("the call's place was not settled (its estimate stands in the window)", exc)

    async def _wait_for_budget(self, admission: Admission, purpose: str) -> None:
        background = purpose != CHAT
        waited = 0.0
        keep = self.reserved if background else 0.0
        while True:
            try:
                allowed, wait_ms = await self._admit(
                    keys=self.keys,
                    args=[
                        self.window_ms,
                        admission.requests,
                        admission.tokens,
                        admission.estimate,
                        keep,
                        admission.member,
                        "1" if background else "0",
                    ],
                )
            except REDIS_DOWN as exc:
                if not self._warned_down:
                    log.warning("LLM limiter: Redis unreachable (%s); LLM calls go ahead unlimited until it is back", exc)
                    self._warned_down = True
                return
            self._warned_down = False
            if allowed:
                return
            wait = int(wait_ms) / 1000
            if waited + wait > self.max_wait:
                LLM_RATE_DEFERRED.labels(purpose).inc()
                raise LLMRateLimited(f"LLM rate budget spent; next place in {wait:.1f} s", retry_after=wait)
            # A little jitter, so processes that were refused together do not ask together.
            pause = wait + random.uniform(0, min(0.05, wait / 10 + 0.001))
            LLM_RATE_WAIT.labels(purpose).inc(pause)
            await asyncio.sleep(pause)
            waited += pause

    async def pause(self, seconds: float, background_only: bool) -> None:
        ms = max(1, int(min(seconds, self.retry_after_cap) * 1000))
        try:
            await self._pause(keys=[self.keys[3] if background_only else self.keys[2]], args=[ms])
        except REDIS_DOWN as exc:
            self._say_down(f"the provider's {ms} ms pause was not shared with the other processes", exc)

    def _say_down(self, what: str, exc: BaseException) -> None:
        """One warning per outage (the admission path resets it when Redis answers again)."""
        if not self._warned_down:
            log.warning("LLM limiter: Redis unreachable (%s: %s): %s", type(exc).__name__, exc, what)
            self._warned_down = True

    async def observe_headers(self, headers: Mapping[str, str]) -> None:
        """Slow down on what the provider says: `retry-after`, or a budget nearly spent."""
        retry_after = _seconds(headers.get("retry-after"))
        if retry_after:
            log.warning("LLM provider asks to retry after %.1f s; pausing every process's calls", retry_after)
            await self.pause(retry_after, background_only=False)
            return
        for kind in ("requests", "tokens", "input-tokens", "output-tokens"):
            limit = _number(headers.get(f"anthropic-ratelimit-{kind}-limit"))
            remaining = _number(headers.get(f"anthropic-ratelimit-{kind}-remaining"))
            if not limit or remaining is None or remaining >= limit * self.slowdown_share:
                continue
            until = _until(headers.get(f"anthropic-ratelimit-{kind}-reset"))
            if until > 0:
                log.info("LLM provider: %s %g of %g left; background calls pause %.1f s", kind, remaining, limit, until)
                await self.pause(until, background_only=True)
            return


def _number(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _seconds(value: str | None) -> float | None:
    seconds = _number(value)
    return seconds if seconds is not None and seconds > 0 else None


def _until(reset: str | None) -> float:
    """Seconds until an RFC 3339 reset time (the provider's clock against ours; clamped at 0)."""
    if not reset:
        return 0.0
    try:
        moment = datetime.fromisoformat(reset.replace("Z", "+00:00"))
    except ValueError:
        return 0.0
    return max(0.0, (moment - datetime.now(UTC)).total_seconds())
