"""Fixtures: a real redis-server per test session, the stub LLM and the service on loopback.

MongoDB is mongomock-motor in-process unless TEST_MONGODB_URI names a real server; then
each test gets its own database, dropped afterwards.
"""

from __future__ import annotations

import functools
import json
import ssl
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
import redis

from allinone.redis_process import RedisProcess
from shared.process.settings import Settings
from tests.support.client import Api
from tests.support.product import serve_product
from tests.support.servers import serve_app
from tests.support.settings import TEST_MONGODB_URI, make_settings
from tests.support.stub_llm import StubLLM, create_stub_app


@pytest.fixture(scope="session", autouse=True)
def one_tls_context_per_set_of_arguments() -> Iterator[None]:
    """Each test's worker makes an LLM client, and each client loads the CA bundle into a new
    TLS context: about 80 ms of CPU, an eighth of a typical test's. Every connection here is
    plain HTTP on loopback, so one context per set of arguments serves them all unchanged."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(ssl, "create_default_context", functools.cache(ssl.create_default_context))
        yield


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


@pytest.fixture
async def settings(redis_url: str, stub_llm: StubLLM, mongo_client: Any) -> AsyncIterator[Settings]:
    settings = make_settings(
        redis_url,
        llm_provider="anthropic",
        anthropic_api_key="test-key",
        anthropic_base_url=stub_llm.url,  # type: ignore[attr-defined]
    )
    yield settings
    if TEST_MONGODB_URI:
        await mongo_client.drop_database(settings.mongodb_db_name)


@pytest.fixture
def db(mongo_client: Any, settings: Settings) -> Any:
    return mongo_client[settings.mongodb_db_name]


@pytest.fixture
async def api(settings: Settings, mongo_client: Any) -> AsyncIterator[Api]:
    """The service on loopback, with the chat queue's worker beside it (it writes the replies)."""
    async with serve_product(settings, mongo_client) as client:
        yield client


@pytest.fixture
async def arq_pool(settings: Settings) -> AsyncIterator[Any]:
    from arq import create_pool

    from shared.queue.arq_adapter.pool import redis_settings as arq_redis_settings

    pool = await create_pool(arq_redis_settings(settings), default_queue_name=settings.queue_name)
    yield pool
    await pool.aclose()


@pytest.fixture
def ctx(db: Any, settings: Settings, arq_pool: Any) -> dict[str, Any]:
    """A job's ctx as the worker makes it: the test database, the stub LLM, the arq pool."""
    from shared.llm.anthropic_provider import AnthropicProvider
    from tests.support.job_ctx import job_ctx

    return job_ctx(settings, db, arq_pool, llm=AnthropicProvider(settings))
