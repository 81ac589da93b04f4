"""One user cannot hurt the others: chat limits, socket counts, busy, disconnects, logout, idle.

Real redis-server, real uvicorn, real WebSockets, the real Anthropic SDK against the stub.
Services with non-default limits are started with `service(...)`; two of them on one Redis
and one database stand for two service processes.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
import websockets
from redis.asyncio import Redis

from service.app import create_app
from shared.redis_structures.live_limits import LIMITS_KEY
from shared.store.mongo import CHAT_MESSAGES, REPLIES, SESSIONS
from tests.support.client import Api, Login, say
from tests.support.dropping_redis import silent_redis
from tests.support.metrics import open_sockets
from tests.support.product import serve_product
from tests.support.servers import serve_app
from tests.support.waiting import wait_for

BOUND = 5.0  # generous upper bound for anything that should happen within a second


@contextlib.asynccontextmanager
async def service(settings: Any, mongo_client: Any, **overrides: Any) -> AsyncIterator[Api]:
    """A service process with these settings, and the chat worker that writes its replies."""
    async with serve_product(settings.model_copy(update=overrides), mongo_client) as api:
        yield api


def message(content: str) -> str:
    return json.dumps({"type": "message", "content": content})


async def closed_code(ws: Any) -> int:
    """Read until the server closes the socket; its close code."""
    with pytest.raises(websockets.ConnectionClosed) as closed:
        async with asyncio.timeout(BOUND):
            while True:
                await ws.recv()
    assert closed.value.rcvd is not None, "the server sent no close frame"
    return closed.value.rcvd.code


async def terminal_frames(ws: Any, count: int) -> list[dict[str, Any]]:
    """The frame that ends each of `count` messages: done, or an error; `accepted` and chunks skipped."""
    ends = []
    async with asyncio.timeout(BOUND * 2):
        while len(ends) < count:
            frame = json.loads(await ws.recv())
            if frame["type"] not in ("chunk", "accepted"):
                ends.append(frame)
    return ends


async def stored(db: Any, login: Login, role: str) -> int:
    return await db[CHAT_MESSAGES].count_documents({"session_id": login.session_id, "role": role})


async def test_a_flooding_socket_is_rate_limited_and_only_the_allowed_messages_are_stored(settings, mongo_client, db):
    async with service(settings, mongo_client, chat_messages_per_minute=3) as api:
        login = await api.new_user()
        async with api.connect(login) as ws:
            for i in range(15):
                await ws.send(message(f"flood {i}"))
            ends = await terminal_frames(ws, 15)
    codes = [e.get("code", e["type"]) for e in ends]
    limited = [e for e in ends if e.get("code") == "rate_limited"]
    # 3 tokens: at most 3 messages were admitted (answered or refused as busy); every other one
    # was refused as rate_limited, with a whole number of seconds to wait.
    assert len(limited) >= 12, codes
    assert all(isinstance(e["retry_after"], int) and e["retry_after"] >= 1 for e in limited)
    assert set(codes) <= {"done", "busy", "rate_limited"}, codes
    assert 1 <= codes.count("done") <= 3
    assert await stored(db, login, "user") == codes.count("done")


async def test_the_sixth_socket_of_a_user_is_closed_with_4429_and_a_closed_one_frees_its_place(api):
    login = await api.new_user()
    baseline = open_sockets()
    async with contextlib.AsyncExitStack() as stack:
        sockets = [await stack.enter_async_context(api.connect(login)) for _ in range(5)]
        for ws in sockets:  # all five are really open: each answers
            assert (await say(ws, "hello"))[-1]["type"] == "done"
        async with api.connect(login) as sixth:
            assert await closed_code(sixth) == 4429
        await wait_for(lambda: open_sockets() == baseline + 5, what="the refused sixth socket gone")
        await sockets[0].close()
        # The server notices the close and releases the place, then lets go of the socket.
        await wait_for(lambda: open_sockets() == baseline + 4, what="the closed socket's place released")
        async with api.connect(login) as replacement:
            assert (await say(replacement, "back again"))[-1]["type"] == "done"


async def test_a_message_sent_while_a_reply_is_written_gets_busy_on_any_socket_of_the_session(api, stub_llm, db):
    stub_llm.reply_text = " ".join(f"w{i}" for i in range(20))
    stub_llm.chunk_delay = 0.05
    login = await api.new_user()
    async with api.connect(login) as first, api.connect(login) as second:
        await first.send(message("write me something long"))
        assert json.loads(await first.recv())["type"] == "accepted"
        assert json.loads(await first.recv())["type"] == "chunk"  # the reply is being written
        await first.send(message("and another"))
        await second.send(message("me too"))
        [busy_second] = await terminal_frames(second, 1)
        ends_first = await terminal_frames(first, 2)
        assert busy_second["code"] == "busy"
        assert [e.get("code", e["type"]) for e in ends_first] == ["busy", "done"]
        # Once the reply is done, the session takes a message again.
        stub_llm.chunk_delay = 0
        assert (await say(second, "now?"))[-1]["type"] == "done"
    assert await stored(db, login, "user") == 2


async def test_a_disconnect_mid_reply_does_not_stop_the_reply_it_is_written_and_stored(api, stub_llm, db):
    stub_llm.reply_text = " ".join(f"w{i}" for i in range(10))
    stub_llm.chunk_delay = 0.1
    login = await api.new_user()
    async with api.connect(login) as ws:
        await ws.send(message("talk for a while"))
        assert json.loads(await ws.recv())["type"] == "accepted"
        assert json.loads(await ws.recv())["type"] == "chunk"
    # The client left after one word; the worker writes the rest and stores it all.
    await wait_for(lambda: stored(db, login, "assistant"), BOUND, what="the reply stored")
    reply = await db[CHAT_MESSAGES].find_one({"session_id": login.session_id, "role": "assistant"})
    assert reply["content"] == stub_llm.reply_text + " "
    assert stub_llm.streams_abandoned == 0 and stub_llm.chunks_streamed == 10
    assert await stored(db, login, "user") == 1


async def test_logout_on_one_service_process_closes_the_sessions_socket_on_another_with_4401(settings, mongo_client):
    async with service(settings, mongo_client) as a, service(settings, mongo_client) as b:
        login = await a.new_user()
        async with a.connect(login) as ws:
            assert (await say(ws, "hello"))[-1]["type"] == "done"
            await b.logout(login)
            assert await closed_code(ws) == 4401


async def test_an_idle_socket_is_closed_with_4408(settings, mongo_client):
    async with service(settings, mongo_client, ws_idle_seconds=0.3) as api:
        login = await api.new_user()
        async with api.connect(login) as ws:
            assert (await say(ws, "one message, then silence"))[-1]["type"] == "done"
            assert await closed_code(ws) == 4408


async def test_limits_are_shared_by_two_service_processes_on_one_redis(settings, mongo_client):
    async with (
        service(settings, mongo_client, chat_messages_per_minute=3, max_sockets_per_user=2) as a,
        service(settings, mongo_client, chat_messages_per_minute=3, max_sockets_per_user=2) as b,
    ):
        login = await a.new_user()
        async with a.connect(login) as on_a, b.connect(login) as on_b:
            assert (await say(on_a, "one"))[-1]["type"] == "done"
            assert (await say(on_b, "two"))[-1]["type"] == "done"
            assert (await say(on_a, "three"))[-1]["type"] == "done"
            refused = await say(on_b, "four")
            assert refused[-1]["code"] == "rate_limited" and refused[-1]["retry_after"] >= 1
            # Two sockets open, one on each process: a third on either is refused.
            async with a.connect(login) as third:
                assert await closed_code(third) == 4429


async def test_with_redis_down_a_message_is_refused_as_unavailable_and_nothing_is_stored(settings, mongo_client, db):
    # The limits fail open, but a reply is queued and streamed through Redis: with Redis
    # gone there is nothing to answer with, so the client is told to send again, at once.
    from allinone.redis_process import free_port

    down = settings.model_copy(update={"redis_url": f"redis://127.0.0.1:{free_port()}/0", "redis_timeout_seconds": 0.2})
    async with serve_app(create_app(down, mongo_client=mongo_client)) as url, Api(url) as api:
        login = await api.new_user()
        async with api.connect(login) as ws:
            refusals = [await say(ws, f"message {i}") for i in range(2)]
        posted = await api.http.post("/api/v1/chat/messages", json={"content": "over http"}, headers=login.headers)
    assert [r[-1]["code"] for r in refusals] == ["unavailable", "unavailable"]
    assert all(r[-1]["retry_after"] >= 1 for r in refusals)
    assert posted.status_code == 503 and int(posted.headers["Retry-After"]) >= 1
    assert posted.json()["errors"] == [{"field": "content", "message": "unavailable"}]
    assert await stored(db, login, "user") == 0 and await db[REPLIES].count_documents({}) == 0


async def test_a_silent_redis_costs_a_message_one_wait_and_nothing_is_stored(settings, mongo_client, db):
    """A Redis that accepts connections and never answers (stalled, or SIGSTOPped): the first
    step that needs it (the messages-per-minute bucket) waits REDIS_TIMEOUT_SECONDS and the
    message is refused; the lease and the enqueue are never tried, so the client is not kept
    waiting once per step (four waits, before)."""
    async with silent_redis() as (redis_url, received):
        stalled = settings.model_copy(update={"redis_url": redis_url, "redis_timeout_seconds": 0.3})
        async with serve_app(create_app(stalled, mongo_client=mongo_client)) as url, Api(url) as api:
            login = await api.new_user()
            received.clear()
            posted = await api.http.post("/api/v1/chat/messages", json={"content": "anyone?"}, headers=login.headers)
            sent_for_the_message = [
                c for c in received if any(b"chat:" in part or b"arq:" in part or LIMITS_KEY.encode() in part for part in c)
            ]
    assert posted.status_code == 503 and posted.json()["errors"] == [{"field": "content", "message": "unavailable"}]
    # The first step is reading the limits in force (shared/redis_structures/live_limits.py),
    # then the bucket: nothing past them.
    first_steps = (b"chat:messages", LIMITS_KEY.encode())
    assert sent_for_the_message and all(any(step in part for step in first_steps for part in c) for c in sent_for_the_message)
    assert await stored(db, login, "user") == 0 and await db[REPLIES].count_documents({}) == 0


async def test_a_socket_that_lost_its_session_gets_4401_at_its_next_message_even_without_the_broadcast(api, db):
    # The broadcast can be missed (Redis down while logging out); the per-message check is the backstop.
    login = await api.new_user()
    async with api.connect(login) as ws:
        await db[SESSIONS].update_one({"_id": login.session_id}, {"$set": {"revoked_at": datetime.now(UTC)}})
        await ws.send(message("still there?"))
        assert await closed_code(ws) == 4401


async def test_the_logout_listener_resubscribes_after_losing_its_redis_connection(api, redis_url):
    redis = Redis.from_url(redis_url)
    try:
        login = await api.new_user()
        async with api.connect(login) as ws:
            assert (await say(ws, "hello"))[-1]["type"] == "done"
            assert await redis.execute_command("CLIENT", "KILL", "TYPE", "pubsub") >= 1

            async def subscribed() -> bool:  # the supervisor notices and subscribes again
                return (await redis.pubsub_numsub("chat:logout"))[0][1] >= 1

            await wait_for(subscribed, BOUND, what="the logout listener subscribed again")
            await api.logout(login)
            assert await closed_code(ws) == 4401
    finally:
        await redis.aclose()


async def test_a_message_that_cannot_be_stored_closes_its_socket_with_1011_and_frees_the_session(api, monkeypatch):
    import service.reply_start

    async def broken_store(*args: Any) -> Any:
        raise RuntimeError("the database went away")

    login = await api.new_user()
    with monkeypatch.context() as patch:
        patch.setattr(service.reply_start, "store_message", broken_store)
        async with api.connect(login) as ws:
            await ws.send(message("hello"))
            assert await closed_code(ws) == 1011
    async with api.connect(login) as ws:  # the session is not left `busy`
        assert (await say(ws, "hello again"))[-1]["type"] == "done"


async def test_a_reply_that_crashes_in_the_worker_ends_with_an_error_and_frees_the_session(api, monkeypatch):
    import worker.reply

    async def broken_recall(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("the database went away")

    login = await api.new_user()
    async with api.connect(login) as ws:
        with monkeypatch.context() as patch:
            patch.setattr(worker.reply, "recall", broken_recall)
            failed = await say(ws, "hello")
        assert failed[-1]["type"] == "error" and failed[-1]["code"] == "internal_error"
        assert (await say(ws, "hello again"))[-1]["type"] == "done"  # the session is not left `busy`


async def test_an_open_socket_keeps_its_place_beyond_one_lease(settings, mongo_client):
    # Leases lapse unless refreshed (that is how a dead process frees its places); a live
    # socket refreshes its own, so it still counts long after its first lease ran out.
    async with service(settings, mongo_client, ws_lease_seconds=0.3, max_sockets_per_user=1) as api:
        login = await api.new_user()
        async with api.connect(login) as first:
            await asyncio.sleep(1.0)  # more than three leases
            async with api.connect(login) as second:
                assert await closed_code(second) == 4429
            assert (await say(first, "still here"))[-1]["type"] == "done"


async def test_a_reply_whose_failure_cannot_be_written_says_so_in_the_log(api, monkeypatch, caplog):
    import worker.reply

    async def broken_recall(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("the database went away")

    async def broken_fail(self: Any, *args: Any, **kwargs: Any) -> None:
        raise ConnectionError("and Redis too")

    login = await api.new_user()
    monkeypatch.setattr(worker.reply, "recall", broken_recall)
    monkeypatch.setattr(worker.reply.ReplyWriter, "fail", broken_fail)
    sent = await api.http.post("/api/v1/chat/messages", json={"content": "hello"}, headers=login.headers)
    assert sent.status_code == 202

    async def said() -> list[Any]:
        return [r for r in caplog.records if r.name == "worker.reply" and "could not be written either" in r.getMessage()]

    [record] = await wait_for(said)
    assert record.levelname == "ERROR" and "and Redis too" in record.getMessage()
