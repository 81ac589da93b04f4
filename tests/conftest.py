"""Fixtures: a real redis-server per test session, the stub LLM and the service on loopback.

MongoDB is mongomock-motor in-process unless TEST_MONGODB_URI names a real server; then
each test gets its own database, dropped afterwards.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
import redis

from allinone.redis_process import RedisProcess
from service.app import create_app
from shared.settings import Settings
from tests.support.client import Api
from tests.support.servers import serve_app
from tests.support.stub_llm import StubLLM, create_stub_app

TEST_MONGODB_URI = os.environ.get("TEST_MONGODB_URI")
JWT_SECRET = "test-secret-that-is-long-enough-0123456789"
ADMIN_EMAIL = "admin@example.com"


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisProcess]:
    with RedisProcess() as server:
        yield server


@pytest.fixture
def redis_url(redis_server: RedisProcess) -> str:
    client = redis.Redis.from_url(redis_server.url)
    client.flushall()
    client.close()
    return redis_server.url


@pytest.fixture
async def mongo_client() -> AsyncIterator[Any]:
    if TEST_MONGODB_URI:
        from motor.motor_asyncio import AsyncIOMotorClient

        client = AsyncIOMotorClient(TEST_MONGODB_URI, tz_aware=True)
    else:
        from mongomock_motor import AsyncMongoMockClient

        client = AsyncMongoMockClient(tz_aware=True)
    yield client
    client.close()


@pytest.fixture
async def stub_llm() -> AsyncIterator[StubLLM]:
    stub = StubLLM()
    async with serve_app(create_stub_app(stub)) as url:
        stub.url = url  # type: ignore[attr-defined]
        yield stub
    # Every test that reaches the stub also checks what the model was sent: a `$ref` in a
    # tool schema breaks servers that do not resolve refs (see shared/llm/schema.py).
    with_refs = [r["tool_choice"]["name"] for r in stub.requests if '"$ref"' in json.dumps(r.get("tools", []))]
    assert with_refs == [], f"tool schemas sent with $ref: {with_refs}"


def make_settings(redis_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "mongodb_uri": TEST_MONGODB_URI or "memory://",
        "mongodb_db_name": f"coach_test_{uuid.uuid4().hex[:12]}",
        "redis_url": redis_url,
        "jwt_secret": JWT_SECRET,
        "worker_poll_delay_seconds": 0.01,
        "retry_base_seconds": 0.01,
        "retry_cap_seconds": 0.05,
        # Cheap hashing: the suite registers hundreds of users on two cores.
        "password_hash_time_cost": 1,
        "password_hash_memory_kib": 1024,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest.fixture
async def settings(redis_url: str, stub_llm: StubLLM, mongo_client: Any) -> AsyncIterator[Settings]:
    settings = make_settings(
        redis_url, llm_provider="anthropic", anthropic_api_key="test-key", anthropic_base_url=stub_llm.url  # type: ignore[attr-defined]
    )
    yield settings
    if TEST_MONGODB_URI:
        await mongo_client.drop_database(settings.mongodb_db_name)


@pytest.fixture
def db(mongo_client: Any, settings: Settings) -> Any:
    return mongo_client[settings.mongodb_db_name]


@pytest.fixture
async def api(settings: Settings, mongo_client: Any) -> AsyncIterator[Api]:
    async with serve_app(create_app(settings, mongo_client=mongo_client)) as url:
        async with Api(url) as client:
            yield client


@pytest.fixture
async def arq_pool(settings: Settings) -> AsyncIterator[Any]:
    from arq import create_pool

    from shared.queue import arq_redis_settings

    pool = await create_pool(arq_redis_settings(settings), default_queue_name=settings.queue_name)
    yield pool
    await pool.aclose()
