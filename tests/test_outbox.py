"""Redis down at logout: logout still answers 200, the job waits in the outbox, and runs later."""

from __future__ import annotations

import asyncio
import socket

import pytest
from arq.connections import ArqRedis
from redis.asyncio import ConnectionPool

from allinone.redis_process import RedisProcess
from service.app import create_app
from shared.store.mongo import OUTBOX, SESSION_CONTEXTS
from shared.store.outbox import enqueue_or_store, relay_outbox
from tests.support import waiting
from tests.support.client import Api, say
from tests.support.dropping_redis import dropping_redis
from tests.support.product import serve_product
from tests.support.servers import serve_app
from tests.support.settings import make_settings
from tests.support.worker import drain_queue


async def wait_for(predicate, seconds: float = 15.0) -> None:
    await waiting.wait_for(predicate, seconds)


@pytest.mark.slow  # fifty users through a Redis outage
async def test_fifty_logouts_while_redis_is_down_all_get_extracted(mongo_client, stub_llm):
    with RedisProcess() as redis_proc:
        settings = make_settings(
            redis_proc.url,
            llm_provider="anthropic",
            anthropic_api_key="k",
            anthropic_base_url=stub_llm.url,
            outbox_relay_interval_seconds=0.1,
        )
        db = mongo_client[settings.mongodb_db_name]
        async with serve_product(settings, mongo_client) as api:
            users = await asyncio.gather(*(api.new_user() for _ in range(50)))
            sockets = [await api.connect(u).__aenter__() for u in users]
            for ws in sockets:
                assert (await say(ws, "I want to stay calm"))[-1]["type"] == "done"

            redis_proc.stop()
            for user in users:
                logout = await api.logout(user)  # asserts 200
                assert logout["status"] == "logged_out"
            for ws in sockets:  # each close enqueues the same job id again: one outbox entry each
                await ws.close()
            await wait_for(lambda: _count(db, OUTBOX, 50))
            assert await db[SESSION_CONTEXTS].count_documents({}) == 0

            redis_proc.start()
            await wait_for(lambda: _count(db, OUTBOX, 0))
        await drain_queue(settings, mongo_client)
    assert await db[SESSION_CONTEXTS].count_documents({}) == 50
    assert len(stub_llm.extraction_requests) == 50


async def _count(db, collection: str, expected: int) -> bool:
    return await db[collection].count_documents({}) == expected


async def test_a_redis_that_never_answers_costs_logout_only_the_configured_timeout(mongo_client, stub_llm):
    # Accepts connections, never replies: the worst kind of down.
    black_hole = socket.socket()
    black_hole.bind(("127.0.0.1", 0))
    black_hole.listen(64)
    port = black_hole.getsockname()[1]
    settings = make_settings(f"redis://127.0.0.1:{port}/0", redis_timeout_seconds=0.3, outbox_relay_interval_seconds=60)
    db = mongo_client[settings.mongodb_db_name]
    try:
        async with serve_app(create_app(settings, mongo_client=mongo_client)) as url, Api(url) as api:
            user = await api.new_user()
            logout = await api.logout(user)
            assert (await db[OUTBOX].find_one({}))["_id"] == logout["job_id"]
            assert (await api.http.get("/api/v1/auth/me", headers=user.headers)).status_code == 401
    finally:
        black_hole.close()


async def test_an_enqueue_whose_connection_is_lost_stays_in_the_outbox(mongo_client, settings):
    """The enqueue's script (arq_adapter/enqueue.py) sent, its answer lost: an outage, not
    "already queued" (what arq's own enqueue answered for a connection lost at its EXEC).
    The job stays in the outbox, and the relay keeps it there too."""
    db = mongo_client[settings.mongodb_db_name]
    async with dropping_redis("EVALSHA") as url:
        arq = ArqRedis(ConnectionPool.from_url(url, socket_connect_timeout=0.5))
        try:
            enqueued = await enqueue_or_store(db, arq, 2.0, "extract_session_context", "u", "s", job_id="lost-at-exec")
            assert not enqueued
            assert (await db[OUTBOX].find_one({"_id": "lost-at-exec"}))["args"] == ["u", "s"]
            assert await relay_outbox(db, arq, 2.0) == 0
            assert await db[OUTBOX].count_documents({}) == 1
        finally:
            await arq.aclose()


async def test_an_id_already_queued_is_not_kept_in_the_outbox(mongo_client, settings, arq_pool):
    db = mongo_client[settings.mongodb_db_name]
    for _ in range(2):  # the logout's enqueue, then the socket's close with the same id
        assert await enqueue_or_store(db, arq_pool, 2.0, "extract_session_context", "u", "s", job_id="once")
    assert await db[OUTBOX].count_documents({}) == 0
    assert [job.job_id for job in await arq_pool.queued_jobs()] == ["once"]
