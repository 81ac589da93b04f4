"""Reply streams are capped per user and per session, read without a Redis connection each,
and a process past its open-connection cap answers 503.

Real redis-server, real uvicorn. The replies here are queued and never written (no worker
runs), so each stream stays open, sending keep-alives, as long as the test holds it. Before:
no cap (one user held 2,000 streams), a Redis connection per stream that stayed after the
stream closed, and no per-process cap (descriptors ran out and `accept()` failed for all).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest
import websockets
from redis.asyncio import Redis

from service.app import create_app
from tests.support.client import Api, Login
from tests.support.servers import serve_app
from tests.support.sse import read_events

BOUND = 5.0


@contextlib.asynccontextmanager
async def service_only(settings: Any, mongo_client: Any, **overrides: Any) -> AsyncIterator[tuple[Api, Any]]:
    app = create_app(settings.model_copy(update=overrides), mongo_client=mongo_client)
    async with serve_app(app) as url, Api(url) as api:
        yield api, app


async def queued_reply(api: Api, login: Login) -> str:
    response = await api.http.post("/api/v1/chat/messages", json={"content": "hello"}, headers=login.headers)
    assert response.status_code == 202, response.text
    return str(response.json()["stream_url"])


async def hold(stack: contextlib.AsyncExitStack, api: Api, url: str, login: Login) -> Any:
    """Open a stream and keep it open; its response (status 200, or the refusal)."""
    response = await stack.enter_async_context(api.http.stream("GET", url, headers=login.headers, timeout=30))
    if response.status_code == 200:
        lines = response.aiter_lines()
        stack.push_async_callback(lines.aclose)  # held, or collecting it would close the stream
        async with asyncio.timeout(BOUND):
            assert await anext(lines) == "retry: 1000"  # the stream is open and counted
    else:
        await response.aread()
    return response


async def test_a_users_streams_past_the_cap_get_429_and_a_closed_one_frees_its_place(settings, mongo_client):
    async with service_only(settings, mongo_client, max_streams_per_user=3) as (api, _):
        login = await api.new_user()
        url = await queued_reply(api, login)
        async with contextlib.AsyncExitStack() as stack:
            held = [await hold(stack, api, url, login) for _ in range(3)]
            assert [r.status_code for r in held] == [200] * 3
            async with contextlib.AsyncExitStack() as extra:
                refused = await hold(extra, api, url, login)
            assert refused.status_code == 429
            assert refused.json()["errors"] == [{"field": "stream", "message": "too_many_streams"}]
            assert "at most 3 open reply streams per user" in refused.json()["detail"]
            other = await api.new_user()  # another user is not affected
            async with contextlib.AsyncExitStack() as theirs:
                assert (await hold(theirs, api, await queued_reply(api, other), other)).status_code == 200
            await held[0].aclose()
            async with asyncio.timeout(BOUND):
                while True:  # the server notices the close and gives the place back
                    async with contextlib.AsyncExitStack() as again:
                        if (await hold(again, api, url, login)).status_code == 200:
                            break
                    await asyncio.sleep(0.05)


async def test_one_session_cannot_take_all_of_its_users_places(settings, mongo_client):
    async with service_only(settings, mongo_client, max_streams_per_user=4, max_streams_per_session=2) as (api, _):
        phone = await api.new_user()
        laptop = await api.login(phone.email, phone.password, phone.user_id)
        url = await queued_reply(api, phone)
        async with contextlib.AsyncExitStack() as stack:
            assert [(await hold(stack, api, url, phone)).status_code for _ in range(3)] == [200, 200, 429]
            assert [(await hold(stack, api, url, laptop)).status_code for _ in range(2)] == [200, 200]
            third = await api.login(phone.email, phone.password, phone.user_id)
            refused = await hold(stack, api, url, third)
            assert refused.status_code == 429 and "per user" in refused.json()["detail"]


async def redis_clients(redis: Redis) -> int:
    return len(await redis.client_list())


async def test_open_streams_share_one_redis_reader_and_give_nothing_back_to_keep(settings, mongo_client):
    async with service_only(settings, mongo_client, max_streams_per_user=100, max_streams_per_session=100) as (api, app):
        redis = Redis.from_url(settings.redis_url)
        try:
            login = await api.new_user()
            urls = [await queued_reply(api, await api.new_user()) for _ in range(3)]
            mine = await queued_reply(api, login)
            before = await redis_clients(redis)
            async with contextlib.AsyncExitStack() as stack:
                for i in range(40):
                    await hold(stack, api, mine if i % 2 else urls[i % 3], login)
                during = await redis_clients(redis)
            await asyncio.sleep(0.2)
            after = await redis_clients(redis)
        finally:
            await redis.aclose()
    # Before: one connection per open stream (40), all of them kept after the streams closed.
    assert during - before <= 3, (before, during)
    assert after - before <= 3, (before, after)


async def test_followers_joining_a_blocked_read_get_their_events_and_a_killed_reader_comes_back(api, redis_url, stub_llm):
    stub_llm.reply_text, stub_llm.chunk_delay = " ".join(f"w{i}" for i in range(30)), 0.03
    login = await api.new_user()
    response = await api.http.post("/api/v1/chat/messages", json={"content": "hi"}, headers=login.headers)
    url = response.json()["stream_url"]
    redis = Redis.from_url(redis_url)
    try:
        first = asyncio.create_task(read_events(api.http, url, login.headers))
        await asyncio.sleep(0.3)
        # The reader's connection is cut (a Redis restart, a proxy): it reads again from
        # every follower's cursor; nobody sees a gap or a repeat.
        killed = await redis.client_kill_filter(_type="normal", skipme=True)
        assert killed >= 1
        late = await read_events(api.http, url, login.headers)  # joins while the read is blocked
        whole = await first
    finally:
        await redis.aclose()
    assert whole.events[-1].event == "done" and late.events[-1].event == "done"
    assert whole.text == late.text == stub_llm.reply_text + " "


async def test_past_the_open_connection_cap_requests_and_sockets_get_503_and_healthz_answers(settings, mongo_client):
    async with service_only(settings, mongo_client, max_open_connections=3, max_streams_per_user=10) as (api, _):
        login = await api.new_user()
        url = await queued_reply(api, login)
        async with contextlib.AsyncExitStack() as stack:
            held = [await hold(stack, api, url, login) for _ in range(3)]
            assert [r.status_code for r in held] == [200] * 3
            busy = await api.http.get("/api/v1/auth/me", headers=login.headers)
            assert busy.status_code == 503 and busy.headers["retry-after"] == "1"
            assert set(busy.json()) == {"detail", "errors"}
            with pytest.raises(websockets.InvalidStatus) as refused:
                await websockets.connect(api.ws_url(login.token))
            assert refused.value.response.status_code == 503
            assert (await api.http.get("/healthz")).status_code == 200
            await held[0].aclose()
            async with asyncio.timeout(BOUND):
                while (await api.http.get("/api/v1/auth/me", headers=login.headers)).status_code == 503:
                    await asyncio.sleep(0.05)
