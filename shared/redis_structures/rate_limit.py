"""Limits shared by every process, kept in Redis: a token bucket and a semaphore of leases.

Each decision is one Lua script, so it is atomic across processes and costs one round trip.
Time comes from Redis (`TIME`), never from the callers' clocks, which may disagree.

- `TokenBucket`: `capacity` tokens, refilled at `capacity / period` per second. A take that
  finds too few tokens is refused with the seconds until enough will be there. `peek` asks
  without taking (for limits charged only on failure); a negative cost gives tokens back.
- `LeaseSemaphore`: at most `limit` holders per key, each holding a lease that expires
  unless refreshed. A process that dies without releasing stops refreshing, and its
  holds lapse on their own: counts never leak.

Both raise one of REDIS_DOWN (shared/redis_structures/unavailable.py) when Redis cannot be
reached; whether to fail open or closed is the caller's decision, not the limiter's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from redis.asyncio import Redis

TOKEN_BUCKET = """
local capacity = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1]) or capacity
local ts = tonumber(state[2]) or now
tokens = math.min(capacity, tokens + math.max(0, now - ts) * rate)
local allowed = 1
local retry_after = 0
if cost > tokens then
  allowed = 0
  retry_after = (cost - tokens) / rate
elseif ARGV[4] == 'take' then
  tokens = math.min(capacity, tokens - cost)
end
if ARGV[4] ~= 'take' then
  return {allowed, tostring(retry_after), tostring(tokens)}
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(now))
-- A full bucket carries no information: let the key go once it would have refilled.
redis.call('PEXPIRE', KEYS[1], math.ceil((capacity - tokens) / rate * 1000) + 1000)
return {allowed, tostring(retry_after), tostring(tokens)}
"""

LEASE_ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local lease_ms = tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if not redis.call('ZSCORE', KEYS[1], ARGV[1]) and redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then
  return 0
end
redis.call('ZADD', KEYS[1], now + lease_ms, ARGV[1])
redis.call('PEXPIRE', KEYS[1], lease_ms)
return 1
"""

LEASE_REFRESH = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local lease_ms = tonumber(ARGV[2])
local expires = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not expires or tonumber(expires) <= now then
  redis.call('ZREM', KEYS[1], ARGV[1])
  return 0
end
redis.call('ZADD', KEYS[1], now + lease_ms, ARGV[1])
if redis.call('PTTL', KEYS[1]) < lease_ms then
  redis.call('PEXPIRE', KEYS[1], lease_ms)
end
return 1
"""


@dataclass(frozen=True)
class Decision:
    allowed: bool
    retry_after: float  # seconds until the refused take would succeed; 0 when allowed
    remaining: float

    @property
    def retry_after_seconds(self) -> int:
        """Whole seconds, rounded up, for `Retry-After` headers and error frames."""
        return max(1, math.ceil(self.retry_after)) if not self.allowed else 0


class TokenBucket:
    def __init__(self, redis: Redis, prefix: str, capacity: float, period_seconds: float) -> None:
        if capacity <= 0 or period_seconds <= 0:
            raise ValueError("capacity and period must be positive")
        self.redis = redis
        self.prefix = prefix
        self.capacity = capacity
        self.rate = capacity / period_seconds
        self._script = redis.register_script(TOKEN_BUCKET)

    def resize(self, capacity: float) -> None:
        """A new capacity (same period), for limits changed at run time. The state in Redis
        holds only tokens and a time, so the next take applies it: a smaller bucket is
        clipped at once, a bigger one fills at the new rate."""
        if capacity <= 0:
            raise ValueError("capacity must be positive")
        period = self.capacity / self.rate
        self.capacity, self.rate = capacity, capacity / period

    async def take(self, key: str, cost: float = 1) -> Decision:
        return await self._run(key, cost, "take")

    async def peek(self, key: str, cost: float = 1) -> Decision:
        """Would `take` allow this? Nothing is taken (for limits charged only on failure)."""
        return await self._run(key, cost, "peek")

    async def _run(self, key: str, cost: float, mode: str) -> Decision:
        if cost > self.capacity:
            raise ValueError(f"cost {cost} exceeds the bucket's capacity {self.capacity}")
        allowed, retry_after, remaining = await self._script(
            keys=[f"{self.prefix}:{key}"], args=[self.capacity, self.rate, cost, mode]
        )
        return Decision(bool(allowed), float(retry_after), float(remaining))

    async def give_back(self, key: str, cost: float = 1) -> None:
        await self.take(key, -cost)


class LeaseSemaphore:
    def __init__(self, redis: Redis, prefix: str, limit: int, lease_seconds: float) -> None:
        if limit < 1 or lease_seconds <= 0:
            raise ValueError("limit must be at least 1 and the lease positive")
        self.redis = redis
        self.prefix = prefix
        self.limit = limit
        self.lease_ms = max(1, int(lease_seconds * 1000))
        self._acquire = redis.register_script(LEASE_ACQUIRE)
        self._refresh = redis.register_script(LEASE_REFRESH)

    def _key(self, key: str) -> str:
        return f"{self.prefix}:{key}"

    async def acquire(self, key: str, holder: str) -> bool:
        """Take one of the `limit` places under `key` for `holder`; a holder that already has one keeps it."""
        return bool(await self._acquire(keys=[self._key(key)], args=[holder, self.limit, self.lease_ms]))

    async def refresh(self, key: str, holder: str) -> bool:
        """Extend the holder's lease; False when it had already lapsed (the place may be gone)."""
        return bool(await self._refresh(keys=[self._key(key)], args=[holder, self.lease_ms]))

    async def release(self, key: str, holder: str) -> None:
        await self.redis.zrem(self._key(key), holder)

    async def holders(self, key: str) -> int:
        """Live holders now (lapsed leases not counted)."""
        now_s, now_us = await self.redis.time()
        now_ms = now_s * 1000 + now_us // 1000
        return int(await self.redis.zcount(self._key(key), f"({now_ms}", "+inf"))
