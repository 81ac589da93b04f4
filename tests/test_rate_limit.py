"""The generic Redis limiters in shared/redis_structures/rate_limit.py, against a real redis-server."""

from __future__ import annotations

import asyncio

import pytest
from redis.asyncio import Redis

from shared.redis_structures.rate_limit import LeaseSemaphore, TokenBucket


@pytest.fixture
async def redis(redis_url):
    client = Redis.from_url(redis_url)
    yield client
    await client.aclose()


async def test_a_token_bucket_allows_its_capacity_then_says_how_long_to_wait(redis):
    bucket = TokenBucket(redis, "test:bucket", capacity=3, period_seconds=60)
    decisions = [await bucket.take("alice") for _ in range(4)]
    assert [d.allowed for d in decisions] == [True, True, True, False]
    assert 19 <= decisions[-1].retry_after <= 20  # 3 a minute: one token every 20 s
    assert decisions[-1].retry_after_seconds == 20
    assert (await bucket.take("bob")).allowed  # buckets are per key


async def test_a_token_bucket_refills_with_time_and_takes_tokens_given_back(redis):
    bucket = TokenBucket(redis, "test:bucket", capacity=2, period_seconds=2)  # a token a second
    assert [(await bucket.take("k")).allowed for _ in range(3)] == [True, True, False]
    async with asyncio.timeout(5):  # a token comes back with time
        while not (await bucket.take("k")).allowed:
            await asyncio.sleep(0.05)
    assert not (await bucket.take("k")).allowed  # and only the one: the next is a second away
    await bucket.give_back("k")
    assert (await bucket.take("k")).allowed


async def test_a_token_bucket_refuses_a_cost_above_its_capacity(redis):
    with pytest.raises(ValueError):
        await TokenBucket(redis, "test:bucket", capacity=2, period_seconds=1).take("k", cost=3)


async def test_a_lease_semaphore_holds_limit_places_and_a_holder_that_stops_refreshing_loses_its_place(redis):
    sockets = LeaseSemaphore(redis, "test:sockets", limit=2, lease_seconds=1.0)
    assert await sockets.acquire("user", "a")
    assert await sockets.acquire("user", "b")
    assert not await sockets.acquire("user", "c")
    assert await sockets.acquire("user", "a")  # a holder asking again keeps its place
    # "b" dies without releasing (a killed process); "a" keeps refreshing.
    for _ in range(12):  # 1.2 s: past b's lease, refreshed well within a's
        await asyncio.sleep(0.1)
        assert await sockets.refresh("user", "a")
    assert await sockets.holders("user") == 1
    assert not await sockets.refresh("user", "b")  # its lease lapsed
    assert await sockets.acquire("user", "c")


async def test_a_released_place_is_free_at_once(redis):
    replies = LeaseSemaphore(redis, "test:replies", limit=1, lease_seconds=30)
    assert await replies.acquire("session", "socket-1")
    assert not await replies.acquire("session", "socket-2")
    await replies.release("session", "socket-1")
    assert await replies.acquire("session", "socket-2")


async def test_peek_says_what_take_would_do_and_takes_nothing(redis):
    bucket = TokenBucket(redis, "test:bucket", capacity=1, period_seconds=60)
    assert all([(await bucket.peek("k")).allowed for _ in range(3)])
    assert (await bucket.take("k")).allowed
    refused = await bucket.peek("k")
    assert not refused.allowed and 59 <= refused.retry_after <= 60
