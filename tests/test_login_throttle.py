"""Login throttling per client address and per account, in Redis, over real HTTP.

Tests that need several client addresses connect from different loopback addresses
(127.0.0.x), which the kernel routes to the same server: real, distinct peers.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis

from service.app import create_app
from service.errors import RateLimited
from service.login_throttle import LoginThrottle
from tests.support.client import Api
from tests.support.servers import serve_app

WRONG = "not the password"


@contextlib.asynccontextmanager
async def service(settings: Any, mongo_client: Any, **overrides: Any) -> AsyncIterator[Api]:
    async with serve_app(create_app(settings.model_copy(update=overrides), mongo_client=mongo_client)) as url:
        async with Api(url) as api:
            yield api


async def attempt(api: Api, email: str, password: str) -> Any:
    return await api.http.post("/api/v1/auth/login", json={"email": email, "password": password})


def client_from(api: Api, address: str) -> httpx.AsyncClient:
    """A client of the same service connecting from another loopback address."""
    transport = httpx.AsyncHTTPTransport(local_address=address)
    return httpx.AsyncClient(base_url=api.base_url, transport=transport, timeout=10)


async def login_from(client: httpx.AsyncClient, email: str, password: str) -> httpx.Response:
    return await client.post("/api/v1/auth/login", json={"email": email, "password": password})


async def test_repeated_failures_for_an_account_get_429_with_retry_after_and_a_success_resets_them(settings, mongo_client):
    account_limits = {"login_account_free_failures": 2, "login_backoff_base_seconds": 0.2, "login_backoff_cap_seconds": 0.4}
    async with service(settings, mongo_client, **account_limits) as api:
        user = await api.new_user()
        assert [(await attempt(api, user.email, WRONG)).status_code for _ in range(2)] == [401, 401]
        throttled = await attempt(api, user.email, user.password)  # even the right password waits
        assert throttled.status_code == 429
        assert int(throttled.headers["Retry-After"]) >= 1
        assert "account" in throttled.json()["detail"]

        await asyncio.sleep(0.5)  # past the (capped) wait
        assert (await attempt(api, user.email, user.password)).status_code == 200
        # The success cleared the account's count: two more failures before the next wait.
        assert [(await attempt(api, user.email, WRONG)).status_code for _ in range(3)] == [401, 401, 429]


async def test_failures_from_one_address_across_accounts_get_429(settings, mongo_client):
    async with service(settings, mongo_client, login_address_failures_per_minute=3) as api:
        statuses = [(await attempt(api, f"nobody{i}@example.com", WRONG)).status_code for i in range(3)]
        refused = await attempt(api, "someone-else@example.com", WRONG)
    assert statuses == [401, 401, 401]
    assert refused.status_code == 429 and "address" in refused.json()["detail"]
    assert 15 <= int(refused.headers["Retry-After"]) <= 20  # one failure's worth of a 3-per-minute bucket


async def test_a_successful_login_does_not_count_against_the_address(settings, mongo_client):
    async with service(settings, mongo_client, login_address_failures_per_minute=2) as api:
        user = await api.new_user()  # one login
        for _ in range(3):
            await api.login(user.email, user.password, user.user_id)
        assert (await attempt(api, user.email, WRONG)).status_code == 401


async def test_throttling_is_shared_by_two_service_processes(settings, mongo_client):
    limits = {"login_account_free_failures": 2, "login_backoff_base_seconds": 30}
    async with service(settings, mongo_client, **limits) as a, service(settings, mongo_client, **limits) as b:
        user = await a.new_user()
        assert (await attempt(a, user.email, WRONG)).status_code == 401
        assert (await attempt(b, user.email, WRONG)).status_code == 401
        throttled = await attempt(a, user.email, WRONG)
        assert throttled.status_code == 429 and 25 <= int(throttled.headers["Retry-After"]) <= 30


async def test_an_attacker_cannot_lock_an_account_for_longer_than_the_cap(settings, redis_url):
    redis = Redis.from_url(redis_url)
    limits = {
        "login_account_free_failures": 3,
        "login_backoff_base_seconds": 1,
        "login_backoff_cap_seconds": 5,
        "login_address_failures_per_minute": 1000,  # a botnet: the address limit is out of the way
    }
    throttle = LoginThrottle(redis, settings.model_copy(update=limits))
    victim = throttle.attempt_for("203.0.113.9", "victim@example.com")
    try:
        for _ in range(40):  # uncapped, the wait would be 2^37 s
            await throttle.failed(victim)
        with pytest.raises(RateLimited) as refused:
            await throttle.admit(victim)
        assert 1 <= refused.value.retry_after <= 5
    finally:
        await redis.aclose()


async def test_with_redis_down_login_fails_open(settings, mongo_client):
    from allinone.redis_process import free_port

    async with service(settings, mongo_client, redis_url=f"redis://127.0.0.1:{free_port()}/0", redis_timeout_seconds=0.2) as api:
        user = await api.new_user()
        statuses = [(await attempt(api, user.email, WRONG)).status_code for _ in range(6)]
        assert statuses == [401] * 6
        assert (await attempt(api, user.email, user.password)).status_code == 200


async def test_the_owner_gets_in_during_a_sustained_attack_from_other_addresses(settings, mongo_client):
    """The attack of issue 25: wrong passwords sent whenever Retry-After ends kept the account
    at 429 for its owner. Failures now count per (account, address): the attackers' own
    addresses back off, the owner's address never failed and is never refused."""
    limits = {"login_account_free_failures": 2, "login_backoff_base_seconds": 0.2, "login_backoff_cap_seconds": 0.4}
    async with service(settings, mongo_client, **limits) as api:
        user = await api.new_user()
        attackers = [client_from(api, f"127.0.0.{i}") for i in range(2, 6)]
        owner = client_from(api, "127.0.0.1")
        try:
            attacker_statuses: list[int] = []
            owner_statuses: list[int] = []
            for _ in range(6):  # rounds: every attacker guesses, then the owner logs in
                for attacker in attackers:
                    attacker_statuses.append((await login_from(attacker, user.email, WRONG)).status_code)
                owner_statuses.append((await login_from(owner, user.email, user.password)).status_code)
                await asyncio.sleep(0.1)
        finally:
            for client in (*attackers, owner):
                await client.aclose()
    assert owner_statuses == [200] * 6
    assert 429 in attacker_statuses  # the guessers themselves were slowed down


async def test_past_the_account_ceiling_addresses_that_failed_wait_and_a_fresh_one_may_try(settings, mongo_client):
    limits = {"login_account_failures_per_hour": 3, "login_account_free_failures": 100}
    async with service(settings, mongo_client, **limits) as api:
        user = await api.new_user()
        guesser, second, owner = (client_from(api, f"127.0.0.{i}") for i in (11, 12, 13))
        try:
            first = [(await login_from(guesser, user.email, WRONG)).status_code for _ in range(3)]
            slowed = await login_from(guesser, user.email, user.password)  # the ceiling is spent
            fresh = await login_from(second, user.email, WRONG)  # never failed here: it may try
            owner_in = await login_from(owner, user.email, user.password)
            again = await login_from(second, user.email, user.password)  # it failed: now it waits
        finally:
            for client in (guesser, second, owner):
                await client.aclose()
    assert first == [401, 401, 401]
    assert slowed.status_code == 429 and "account" in slowed.json()["detail"]
    assert 1100 <= int(slowed.headers["Retry-After"]) <= 1200  # one failure's worth of 3 an hour
    assert fresh.status_code == 401
    assert owner_in.status_code == 200
    assert again.status_code == 429
