"""Registrations per client address, in Redis so every service process agrees.

Each new account costs an argon2 hash and brings its own chat, socket and stream quotas, so
one address may register `REGISTRATIONS_PER_HOUR_PER_ADDRESS` accounts an hour (a token
bucket: that many at once, then one every hour / N). The bucket is charged before the
password is hashed, so a refused registration costs no argon2 work; past it, 429 with
`Retry-After`. If Redis cannot be reached, registration fails open with a warning, as login
does (the hashing queue still bounds the work: service/credentials.py).
"""

from __future__ import annotations

import logging

from redis.asyncio import Redis

from service.errors import RateLimited
from shared.process.settings import Settings
from shared.redis_structures.rate_limit import TokenBucket
from shared.redis_structures.unavailable import REDIS_DOWN

log = logging.getLogger(__name__)


class RegistrationThrottle:
    def __init__(self, redis: Redis, settings: Settings) -> None:
        self.per_hour = settings.registrations_per_hour_per_address
        self.addresses = TokenBucket(redis, "register:address", self.per_hour, 3600)

    async def admit(self, address: str) -> None:
        """Count one registration from `address`; raise `RateLimited` past the hourly limit."""
        try:
            decision = await self.addresses.take(address)
        except REDIS_DOWN as exc:
            log.warning("registration throttling skipped, Redis unavailable: %s", exc)
            return
        if not decision.allowed:
            raise RateLimited(
                f"more than {self.per_hour} registrations an hour from this address; try again later", decision.retry_after
            )
