"""Login throttling per client address and per account, in Redis so every process agrees.

- Address: a token bucket of failures (`LOGIN_ADDRESS_FAILURES_PER_MINUTE`). An attempt
  goes ahead while the bucket holds a token; only a failure takes one, so any number of
  users behind one address can log in at once as long as they type their passwords right.
- Account: the first `LOGIN_ACCOUNT_FREE_FAILURES` failures cost nothing; after that each
  attempt must wait `base * 2^(failures - free)` seconds, capped at
  `LOGIN_BACKOFF_CAP_SECONDS`, so a guesser gets a handful of tries a minute while the owner
  is never shut out for longer than the cap. The wait is reserved atomically when an attempt
  starts, so parallel guesses against one account are refused too. A success clears it.

Refusals are 429 with `Retry-After`. If Redis cannot be reached, login fails open (argon2
still bounds the guessing rate) and a warning is logged.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass

from redis.asyncio import Redis

from service.errors import RateLimited
from shared.process.settings import Settings
from shared.redis_structures.rate_limit import TokenBucket
from shared.redis_structures.unavailable import REDIS_DOWN

log = logging.getLogger(__name__)

# KEYS[1] account key. ARGV: free failures, base seconds, cap seconds, memory seconds.
# Returns seconds to wait (as a string); "0" means go ahead.
ACCOUNT_ATTEMPT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'failures', 'locked_until')
local failures = tonumber(state[1]) or 0
local locked_until = tonumber(state[2]) or 0
if now < locked_until then
  return tostring(locked_until - now)
end
local free = tonumber(ARGV[1])
if failures >= free then
  local wait = math.min(tonumber(ARGV[3]), tonumber(ARGV[2]) * 2 ^ (failures - free))
  redis.call('HSET', KEYS[1], 'locked_until', tostring(now + wait))
  redis.call('EXPIRE', KEYS[1], tonumber(ARGV[4]))
end
return '0'
"""

ACCOUNT_FAILURE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local failures = redis.call('HINCRBY', KEYS[1], 'failures', 1)
local free = tonumber(ARGV[1])
if failures >= free then
  local wait = math.min(tonumber(ARGV[3]), tonumber(ARGV[2]) * 2 ^ (failures - free))
  local locked_until = tonumber(redis.call('HGET', KEYS[1], 'locked_until')) or 0
  redis.call('HSET', KEYS[1], 'locked_until', tostring(math.max(locked_until, now + wait)))
end
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[4]))
return failures
"""


@dataclass(frozen=True)
class Attempt:
    address: str
    account: str  # a hash of the email: no addresses in Redis


class LoginThrottle:
    def __init__(self, redis: Redis, settings: Settings) -> None:
        self.redis = redis
        self.addresses = TokenBucket(redis, "login:address", settings.login_address_failures_per_minute, 60)
        self.args = [
            settings.login_account_free_failures,
            settings.login_backoff_base_seconds,
            settings.login_backoff_cap_seconds,
            settings.login_failure_memory_seconds,
        ]
        self._attempt = redis.register_script(ACCOUNT_ATTEMPT)
        self._failure = redis.register_script(ACCOUNT_FAILURE)

    @staticmethod
    def attempt_for(address: str, email: str) -> Attempt:
        return Attempt(address, hashlib.sha256(email.encode()).hexdigest()[:32])

    def _account_key(self, attempt: Attempt) -> str:
        return f"login:account:{attempt.account}"

    async def admit(self, attempt: Attempt) -> None:
        """Raise `RateLimited` if this address or account must wait; else count the attempt."""
        try:
            decision = await self.addresses.peek(attempt.address)
            if not decision.allowed:
                raise RateLimited("too many failed logins from this address; try again later", decision.retry_after)
            wait = float(await self._attempt(keys=[self._account_key(attempt)], args=self.args))
        except REDIS_DOWN as exc:
            log.warning("login throttling skipped, Redis unavailable: %s", exc)
            return
        if wait > 0:
            raise RateLimited("too many failed logins for this account; try again later", wait)

    async def failed(self, attempt: Attempt) -> None:
        try:
            await self.addresses.take(attempt.address)
            await self._failure(keys=[self._account_key(attempt)], args=self.args)
        except REDIS_DOWN as exc:
            log.warning("login failure not counted, Redis unavailable: %s", exc)

    async def succeeded(self, attempt: Attempt) -> None:
        try:
            await self.redis.delete(self._account_key(attempt))
        except REDIS_DOWN as exc:
            log.warning("login throttle not reset, Redis unavailable: %s", exc)
