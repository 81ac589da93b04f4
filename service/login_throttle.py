"""Login throttling per client address and per account, in Redis so every process agrees.

Throttling must not become the attacker's weapon: whoever knows an email must not be able
to keep its owner out by failing on purpose. So:

- Address: a token bucket of failures (`LOGIN_ADDRESS_FAILURES_PER_MINUTE`) over all
  accounts. An attempt goes ahead while the bucket holds a token; only a failure takes one,
  so any number of users behind one address can log in as long as they type their
  passwords right.
- Account and address: failures are counted per (account, address). The first
  `LOGIN_ACCOUNT_FREE_FAILURES` cost nothing; after that each attempt *from that address*
  must wait `base * 2^(failures - free)` seconds, capped at `LOGIN_BACKOFF_CAP_SECONDS`.
  The wait is reserved atomically when an attempt starts, so parallel guesses from one
  address are refused too. A success clears that address's count.
- Account ceiling: every failure against the account, from any address, takes a token from
  the account's bucket (`LOGIN_ACCOUNT_FAILURES_PER_HOUR`). While it is empty, addresses
  that have failed against this account wait for it to refill, which slows guessing from
  many addresses; an address that never failed against the account is never refused by it,
  so the owner gets in during an attack from elsewhere.

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

# The account ceiling's token bucket, as shared/redis_structures/rate_limit.py keeps one
# ('tokens', 'ts'), inlined: one script decides with both keys. Defines `ceiling_tokens()`.
CEILING = """
local function ceiling_tokens(now)
  local capacity, rate = tonumber(ARGV[5]), tonumber(ARGV[6])
  local state = redis.call('HMGET', KEYS[2], 'tokens', 'ts')
  local tokens = tonumber(state[1]) or capacity
  local ts = tonumber(state[2]) or now
  return math.min(capacity, tokens + math.max(0, now - ts) * rate), capacity, rate
end
"""

# KEYS: the (account, address) key, the account's ceiling. ARGV: free failures, base
# seconds, cap seconds, memory seconds, ceiling capacity, ceiling rate per second.
# Returns {why, seconds to wait}: why 0 = go ahead, 1 = this address backs off, 2 = ceiling.
ATTEMPT = (
    CEILING
    + """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'failures', 'locked_until')
local failures = tonumber(state[1]) or 0
local locked_until = tonumber(state[2]) or 0
if now < locked_until then
  return {1, tostring(locked_until - now)}
end
if failures > 0 then
  local tokens, capacity, rate = ceiling_tokens(now)
  if tokens < 1 then
    return {2, tostring((1 - tokens) / rate)}
  end
end
local free = tonumber(ARGV[1])
if failures >= free then
  local wait = math.min(tonumber(ARGV[3]), tonumber(ARGV[2]) * 2 ^ (failures - free))
  redis.call('HSET', KEYS[1], 'locked_until', tostring(now + wait))
  redis.call('EXPIRE', KEYS[1], tonumber(ARGV[4]))
end
return {0, '0'}
"""
)

FAILURE = (
    CEILING
    + """
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
-- Never below empty: fresh addresses failing cannot push the refill further out.
local tokens, capacity, rate = ceiling_tokens(now)
tokens = math.max(0, tokens - 1)
redis.call('HSET', KEYS[2], 'tokens', tostring(tokens), 'ts', tostring(now))
redis.call('PEXPIRE', KEYS[2], math.ceil((capacity - tokens) / rate * 1000) + 1000)
return failures
"""
)


def _digest(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:32]


@dataclass(frozen=True)
class Attempt:
    address: str
    account: str  # a hash of the email: no emails in Redis
    pair: str  # a hash of (email, address)


class LoginThrottle:
    def __init__(self, redis: Redis, settings: Settings) -> None:
        self.redis = redis
        self.addresses = TokenBucket(redis, "login:address", settings.login_address_failures_per_minute, 60)
        ceiling = settings.login_account_failures_per_hour
        self.args = [
            settings.login_account_free_failures,
            settings.login_backoff_base_seconds,
            settings.login_backoff_cap_seconds,
            settings.login_failure_memory_seconds,
            ceiling,
            ceiling / 3600,
        ]
        self._attempt = redis.register_script(ATTEMPT)
        self._failure = redis.register_script(FAILURE)

    @staticmethod
    def attempt_for(address: str, email: str) -> Attempt:
        return Attempt(address, _digest(email), _digest(email, address))

    @staticmethod
    def _keys(attempt: Attempt) -> list[str]:
        return [f"login:pair:{attempt.pair}", f"login:account:{attempt.account}"]

    async def admit(self, attempt: Attempt) -> None:
        """Raise `RateLimited` if this address, or this address for this account, must wait."""
        try:
            decision = await self.addresses.peek(attempt.address)
            if not decision.allowed:
                raise RateLimited("too many failed logins from this address; try again later", decision.retry_after)
            why, wait = await self._attempt(keys=self._keys(attempt), args=self.args)
        except REDIS_DOWN as exc:
            log.warning("login throttling skipped, Redis unavailable: %s", exc)
            return
        if int(why) == 1:
            raise RateLimited("too many failed logins for this account from this address; try again later", float(wait))
        if int(why) == 2:
            raise RateLimited(
                "too many failed logins for this account; addresses that failed must wait (others may try)", float(wait)
            )

    async def failed(self, attempt: Attempt) -> None:
        try:
            await self.addresses.take(attempt.address)
            await self._failure(keys=self._keys(attempt), args=self.args)
        except REDIS_DOWN as exc:
            log.warning("login failure not counted, Redis unavailable: %s", exc)

    async def succeeded(self, attempt: Attempt) -> None:
        try:
            await self.redis.delete(self._keys(attempt)[0])
        except REDIS_DOWN as exc:
            log.warning("login throttle not reset, Redis unavailable: %s", exc)
