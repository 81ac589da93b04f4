"""Login throttling per client address and per account, in Redis, over real HTTP."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

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
