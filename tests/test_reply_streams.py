"""Replies written by the worker, streamed through Redis, resumable from any client.

Real redis-server, real uvicorn, the real Anthropic SDK against the stub, and our real chat
worker (the `api` fixture runs it beside the service). The stub writes its reply one word per
chunk, `chunk_delay` apart, so a test can leave or cancel a reply half-way.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import websockets

from shared.redis_structures.reply_stream import stream_key
from shared.store.mongo import CHAT_MESSAGES, REPLIES, SESSION_CONTEXTS
from tests.support.client import Api, Login
from tests.support.job_ctx import job_ctx
from tests.support.running_worker import running_worker, wait_for
from tests.support.sse import read_events
from tests.support.stub_llm import Failure
from worker.resources import worker_resources

REPLY = "one two three four five six seven eight"


async def post(api: Api, login: Login, content: str = "I want to run a marathon") -> dict[str, Any]:
    response = await api.http.post("/api/v1/chat/messages", json={"content": content}, headers=login.headers)
    assert response.status_code == 202, response.text
    return response.json()


async def stored_reply(db: Any, reply_id: str) -> dict[str, Any]:
    """The reply once it has ended (done, failed or cancelled)."""

    async def ended() -> dict[str, Any] | None:
        doc = await db[REPLIES].find_one({"_id": reply_id})
        return doc if doc and doc["status"] in ("done", "failed", "cancelled") else None

    return await wait_for(ended)


async def test_post_then_stream_gives_chunks_then_done_and_stores_the_reply(api, db, stub_llm):
    stub_llm.reply_text = REPLY
    login = await api.new_user()
    accepted = await post(api, login)
    assert accepted["stream_url"] == f"/api/v1/chat/replies/{accepted['reply_id']}/stream"
    received = await read_events(api.http, accepted["stream_url"], login.headers)
    # Deltas that reach the worker together go out as one chunk (worker/coalesced_chunks.py).
    events = [e.event for e in received.events]
    assert events[-1] == "done" and set(events[:-1]) == {"chunk"}
    assert all(e.id for e in received.events) and len({e.id for e in received.events}) == len(events)
    done = received.events[-1].data
    assert set(done) >= {"message_id", "usage", "latency_ms", "first_chunk_ms"}
    assert done["usage"]["output_tokens"] > 0 and done["first_chunk_ms"] <= done["latency_ms"]
    # The stored assistant message is the streamed text, exactly.
    messages = (await api.http.get("/api/v1/chat/messages", headers=login.headers)).json()["messages"]
    assert [(m["role"], m["content"]) for m in messages] == [("user", "I want to run a marathon"), ("assistant", received.text)]
    assert messages[1]["id"] == done["message_id"] and received.text == REPLY + " "
    reply = (await api.http.get(f"/api/v1/chat/replies/{accepted['reply_id']}", headers=login.headers)).json()
    assert reply["status"] == "done" and reply["text"] == received.text and reply["model"]
    assert reply["usage"] == done["usage"] and reply["assistant_message_id"] == done["message_id"]
    assert (await db[REPLIES].find_one({"_id": accepted["reply_id"]}))["latency_ms"] == done["latency_ms"]


async def test_a_client_that_drops_and_reconnects_with_last_event_id_misses_nothing_and_repeats_nothing(api, db, stub_llm):
    stub_llm.reply_text, stub_llm.chunk_delay = REPLY, 0.05
    login = await api.new_user()
    accepted = await post(api, login)
    first = await read_events(api.http, accepted["stream_url"], login.headers, stop_after_chunks=3)
    assert [e.event for e in first.events] == ["chunk"] * 3
    rest = await read_events(api.http, accepted["stream_url"], {**login.headers, "Last-Event-ID": first.last_id})
    assert rest.events[0].id > first.last_id and rest.events[-1].event == "done"
    stored = await stored_reply(db, accepted["reply_id"])
    assert first.text + rest.text == stored["text"] == REPLY + " "
    # A finished reply replays whole, from the start, for as long as its stream is kept.
    replay = await read_events(api.http, accepted["stream_url"], login.headers)
    assert [e.id for e in replay.events] == [e.id for e in first.events + rest.events]


async def test_two_listeners_on_one_reply_receive_identical_events(api, stub_llm):
    stub_llm.reply_text, stub_llm.chunk_delay = REPLY, 0.03
    login = await api.new_user()
    accepted = await post(api, login)
    one, two = await asyncio.gather(
        read_events(api.http, accepted["stream_url"], login.headers),
        read_events(api.http, accepted["stream_url"], login.headers),
    )
    assert [(e.id, e.event, e.data) for e in one.events] == [(e.id, e.event, e.data) for e in two.events]
    assert one.events[-1].event == "done" and one.text == REPLY + " "


async def test_closing_the_socket_does_not_stop_the_reply_and_resume_relays_the_rest(api, db, stub_llm):
    stub_llm.reply_text, stub_llm.chunk_delay = REPLY, 0.05
    login = await api.new_user()
    async with api.connect(login) as ws:
        await ws.send(json.dumps({"type": "message", "content": "I want to sleep earlier"}))
        accepted = json.loads(await ws.recv())
        assert accepted["type"] == "accepted"
        chunks = [json.loads(await ws.recv()) for _ in range(2)]
    assert [c["type"] for c in chunks] == ["chunk", "chunk"]
    async with api.connect(login) as ws:
        await ws.send(json.dumps({"type": "resume", "reply_id": accepted["reply_id"], "after": chunks[-1]["id"]}))
        rest = []
        while not rest or rest[-1]["type"] not in ("done", "error"):
            rest.append(json.loads(await ws.recv()))
    assert rest[-1]["type"] == "done" and rest[-1]["reply_id"] == accepted["reply_id"]
    text = "".join(f["text"] for f in chunks + rest if f["type"] == "chunk")
    stored = await stored_reply(db, accepted["reply_id"])
    assert text == stored["text"] == REPLY + " "
    assert await db[CHAT_MESSAGES].count_documents({"reply_id": accepted["reply_id"]}) == 1


async def test_another_user_gets_404_everywhere(api, stub_llm):
    stub_llm.chunk_delay = 0.05
    owner, stranger = await api.new_user(), await api.new_user()
    accepted = await post(api, owner)
    reply_url = f"/api/v1/chat/replies/{accepted['reply_id']}"
    for method, url in (("GET", reply_url), ("DELETE", reply_url), ("GET", accepted["stream_url"])):
        response = await api.http.request(method, url, headers=stranger.headers)
        assert response.status_code == 404, (method, url, response.text)
        assert response.json()["detail"] == "no reply with that id"
    active = (await api.http.get("/api/v1/chat/active-streams", headers=stranger.headers)).json()
    assert active == {"replies": []}
    job = await api.http.get(f"/api/v1/jobs/{accepted['job_id']}", headers=stranger.headers)
    assert job.status_code == 404
    async with api.connect(stranger) as ws:
        await ws.send(json.dumps({"type": "resume", "reply_id": accepted["reply_id"], "after": "0-0"}))
        assert json.loads(await ws.recv()) == {"type": "error", "code": "not_found", "detail": "no reply with that id"}
    # The owner's reply was not disturbed by any of it.
    mine = (await api.http.get("/api/v1/chat/active-streams", headers=owner.headers)).json()["replies"]
    done = await read_events(api.http, accepted["stream_url"], owner.headers)
    assert [r["reply_id"] for r in mine] in ([accepted["reply_id"]], []) and done.events[-1].event == "done"


async def test_active_streams_lists_the_callers_replies_until_they_end(api, stub_llm):
    stub_llm.chunk_delay = 0.1
    login = await api.new_user()
    accepted = await post(api, login)
    active = (await api.http.get("/api/v1/chat/active-streams", headers=login.headers)).json()["replies"]
    assert [(r["reply_id"], r["stream_url"], r["message_id"]) for r in active] == [
        (accepted["reply_id"], accepted["stream_url"], accepted["message_id"])
    ]
    assert active[0]["status"] in ("queued", "generating")
    await read_events(api.http, accepted["stream_url"], login.headers)
    assert (await api.http.get("/api/v1/chat/active-streams", headers=login.headers)).json() == {"replies": []}


async def test_a_cancelled_reply_stops_the_llm_stream_and_ends_the_stream(api, db, stub_llm):
    stub_llm.reply_text, stub_llm.chunk_delay = REPLY, 0.3
    login = await api.new_user()
    accepted = await post(api, login)
    first = await read_events(api.http, accepted["stream_url"], login.headers, stop_after_chunks=1)
    cancelled = await api.http.delete(f"/api/v1/chat/replies/{accepted['reply_id']}", headers=login.headers)
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    rest = await read_events(api.http, accepted["stream_url"], {**login.headers, "Last-Event-ID": first.last_id})
    assert rest.events[-1].event == "error" and rest.events[-1].data["code"] == "cancelled"
    # The worker closed its LLM stream before the stub had sent every word.
    await wait_for(lambda: _true(stub_llm.streams_abandoned == 1 and stub_llm.streams_open == 0))
    assert stub_llm.chunks_streamed < len(REPLY.split())
    stored = await stored_reply(db, accepted["reply_id"])
    assert stored["status"] == "cancelled" and REPLY.startswith(stored["text"].strip())
    assert stored["error"] == {"code": "cancelled", "detail": "the reply was cancelled"}
    assert await db[CHAT_MESSAGES].count_documents({"role": "assistant"}) == 0
    again = await api.http.delete(f"/api/v1/chat/replies/{accepted['reply_id']}", headers=login.headers)
    assert again.status_code == 409 and "already finished: cancelled" in again.json()["detail"]
    # The session is free for the next message.
    assert (await api.http.post("/api/v1/chat/messages", json={"content": "next"}, headers=login.headers)).status_code == 202


async def _true(value: bool) -> bool:
    return value


async def test_a_failure_before_the_first_chunk_is_retried_and_stored_once(api, db, stub_llm):
    stub_llm.reply_text = REPLY
    stub_llm.failures = [Failure(529)]  # overloaded: transient
    login = await api.new_user()
    accepted = await post(api, login)
    received = await read_events(api.http, accepted["stream_url"], login.headers)
    assert received.events[-1].event == "done" and received.text == REPLY + " "
    assert len(stub_llm.chat_requests) == 2
    stored = await stored_reply(db, accepted["reply_id"])
    assert stored["attempts"] == 2 and stored["text"] == received.text
    assert await db[CHAT_MESSAGES].count_documents({"role": "assistant"}) == 1


async def test_a_failure_after_the_first_chunk_ends_the_stream_and_keeps_the_partial_text(api, db, stub_llm):
    stub_llm.reply_text, stub_llm.stream_error_after = REPLY, 3
    login = await api.new_user()
    accepted = await post(api, login)
    received = await read_events(api.http, accepted["stream_url"], login.headers)
    events = [e.event for e in received.events]
    assert events[-1] == "error" and set(events[:-1]) == {"chunk"}
    assert received.events[-1].data["code"] == "llm_unavailable"
    stored = await stored_reply(db, accepted["reply_id"])
    assert stored["status"] == "failed" and stored["text"] == received.text == "one two three "
    assert len(stub_llm.chat_requests) == 1  # not retried: the text already went out
    assert await db[CHAT_MESSAGES].count_documents({"role": "assistant"}) == 0
    reply = (await api.http.get(f"/api/v1/chat/replies/{accepted['reply_id']}", headers=login.headers)).json()
    assert reply["status"] == "failed" and reply["error"]["code"] == "llm_unavailable"


async def test_logout_during_a_reply_the_reply_completes_and_is_in_the_sessions_extraction(
    api, db, settings, mongo_client, stub_llm
):
    stub_llm.reply_text, stub_llm.chunk_delay = REPLY, 0.1
    login = await api.new_user()
    async with running_worker(settings, mongo_client):  # the background queue: extractions
        accepted = await post(api, login, "I want to learn the piano")
        await read_events(api.http, accepted["stream_url"], login.headers, stop_after_chunks=1)
        await api.logout(login)
        stored = await stored_reply(db, accepted["reply_id"])
        assert stored["status"] == "done" and stored["text"] == REPLY + " "

        async def extracted_with_reply() -> dict[str, Any] | None:
            context = await db[SESSION_CONTEXTS].find_one({"session_id": login.session_id})
            if context and context["covered"]["last_message_id"] == stored["assistant_message_id"]:
                return context
            return None

        await wait_for(extracted_with_reply, seconds=20)
    # The extraction that covers the reply was sent the reply's text.
    assert any(REPLY in json.dumps(r["messages"]) for r in stub_llm.extraction_requests)


async def test_logout_ends_the_sessions_open_streams_and_their_reconnect_gets_401(api, db, stub_llm):
    """As it closes the session's sockets; the reply itself goes on and is stored."""
    stub_llm.reply_text, stub_llm.chunk_delay = REPLY, 0.2
    login = await api.new_user()
    accepted = await post(api, login)
    async with api.http.stream("GET", accepted["stream_url"], headers=login.headers) as response:
        lines = response.aiter_lines()
        seen = [line async for line in _until(lines, "event: chunk")]
        await api.logout(login)
        async with asyncio.timeout(10):  # a bound, not a speed: the stream must end
            rest = [line async for line in lines]
    assert seen[-1] == "event: chunk" and ": session logged out" in rest
    assert not any(line in ("event: done", "event: error") for line in rest)  # ended before the reply did
    last_id = [line for line in seen + rest if line.startswith("id: ")][-1][4:]
    again = await read_events(api.http, accepted["stream_url"], {**login.headers, "Last-Event-ID": last_id})
    assert again.status == 401
    stored = await stored_reply(db, accepted["reply_id"])
    assert stored["status"] == "done" and stored["text"] == REPLY + " "


async def _until(lines: AsyncIterator[str], wanted: str) -> AsyncIterator[str]:
    async for line in lines:
        yield line
        if line == wanted:
            return


async def test_a_finished_stream_past_its_ttl_answers_410_and_the_message_is_stored(api, db, redis_url, stub_llm):
    login = await api.new_user()
    accepted = await post(api, login)
    received = await read_events(api.http, accepted["stream_url"], login.headers)
    assert received.events[-1].event == "done"
    from redis.asyncio import Redis

    redis = Redis.from_url(redis_url)
    ttl = await redis.ttl(stream_key(accepted["reply_id"]))
    assert 0 < ttl <= 3600  # STREAM_TTL_SECONDS, set with the terminal event
    await redis.delete(stream_key(accepted["reply_id"]))  # what the expiry does
    await redis.aclose()
    gone = await api.http.get(accepted["stream_url"], headers=login.headers)
    assert gone.status_code == 410 and "/api/v1/chat/messages" in gone.json()["detail"]
    messages = (await api.http.get("/api/v1/chat/messages", headers=login.headers)).json()["messages"]
    assert messages[-1]["content"] == received.text


async def test_an_idle_stream_sends_keep_alive_comments(settings, mongo_client, stub_llm):
    from service.app import create_app
    from tests.support.servers import serve_app

    stub_llm.latency = 1.0  # the first chunk is a second away
    quick = settings.model_copy(update={"stream_keepalive_seconds": 0.2})
    async with serve_app(create_app(quick, mongo_client=mongo_client)) as url, Api(url) as api:
        async with running_worker(quick, mongo_client, queues="chat"):
            login = await api.new_user()
            accepted = await post(api, login)
            received = await read_events(api.http, accepted["stream_url"], login.headers, stop_after_comments=3)
            assert received.comments == 3 and received.events == []


async def test_bad_requests_get_clear_errors_and_store_nothing(api, db, stub_llm):
    stub_llm.chunk_delay = 0.2
    login = await api.new_user()
    for body, status, words in (
        ({"content": ""}, 422, "content"),
        ({"content": "   "}, 422, "empty"),
        ({"content": "x" * 5000}, 422, "maximum is 4000"),
        ({"text": "hi"}, 422, "content"),
    ):
        response = await api.http.post("/api/v1/chat/messages", json=body, headers=login.headers)
        assert response.status_code == status and words in response.json()["detail"], response.text
    no_token = await api.http.post("/api/v1/chat/messages", json={"content": "hi"})
    assert no_token.status_code == 401
    accepted = await post(api, login)
    bad_id = await api.http.get(accepted["stream_url"], headers={**login.headers, "Last-Event-ID": "yesterday"})
    assert bad_id.status_code == 400 and "Last-Event-ID" in bad_id.json()["detail"]
    busy = await api.http.post("/api/v1/chat/messages", json={"content": "again"}, headers=login.headers)
    assert busy.status_code == 409 and busy.json()["errors"] == [{"field": "content", "message": "busy"}]
    assert busy.headers["Retry-After"] == "1"
    assert await db[CHAT_MESSAGES].count_documents({}) == 1  # only the accepted one
    async with api.connect(login) as ws:  # the socket's resume names its problems the same way
        for frame in (
            {"type": "resume", "reply_id": accepted["reply_id"], "after": "yesterday"},
            {"type": "resume", "reply_id": "x" * 65, "after": "0-0"},
            {"type": "resume", "after": "0-0"},
        ):
            await ws.send(json.dumps(frame))
            refused = json.loads(await ws.recv())
            assert refused["type"] == "error" and refused["code"] == "invalid_frame", refused


async def test_the_rate_limit_counts_http_and_socket_messages_alike(api, settings, mongo_client, stub_llm):
    from service.app import create_app
    from tests.support.servers import serve_app

    tight = settings.model_copy(update={"chat_messages_per_minute": 1})
    async with serve_app(create_app(tight, mongo_client=mongo_client)) as url, Api(url) as limited:
        login = await limited.new_user()
        assert (await limited.http.post("/api/v1/chat/messages", json={"content": "a"}, headers=login.headers)).status_code == 202
        refused = await limited.http.post("/api/v1/chat/messages", json={"content": "b"}, headers=login.headers)
        assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1
        assert refused.json()["errors"] == [{"field": "content", "message": "rate_limited"}]
        async with websockets.connect(limited.ws_url(login.token)) as ws:
            await ws.send(json.dumps({"type": "message", "content": "c"}))
            frame = json.loads(await ws.recv())
            assert frame["code"] == "rate_limited" and frame["retry_after"] >= 1


async def test_cleanup_fails_stuck_replies_and_removes_streams_without_expiry(settings, db, redis_url, arq_pool):
    from shared.redis_structures.reply_stream import open_streams_redis
    from shared.store.replies import create_reply
    from worker.cleanup_streams import cleanup_streams

    streams_redis = open_streams_redis(redis_url, 1.0, 1.0)
    ctx = job_ctx(settings, db, arq_pool, streams_redis=streams_redis)
    now = datetime.now(UTC)
    long_ago = now - timedelta(days=1)
    await create_reply(db, "stuck", "u1", "s1", "m1", "generate_reply:stuck", long_ago)
    await db[REPLIES].update_one({"_id": "stuck"}, {"$set": {"status": "generating", "started_at": long_ago}})
    await create_reply(db, "fresh", "u1", "s2", "m2", "generate_reply:fresh", now)
    await db[REPLIES].update_one({"_id": "fresh"}, {"$set": {"status": "generating", "started_at": now}})
    await create_reply(db, "old-done", "u1", "s3", "m3", "generate_reply:old-done", long_ago)
    await db[REPLIES].update_one({"_id": "old-done"}, {"$set": {"status": "done", "finished_at": long_ago}})
    streams = worker_resources(ctx).reply_streams
    await streams_redis.xadd(stream_key("stuck"), {"event": "chunk", "data": '{"text":"half"}'})
    await streams_redis.xadd(stream_key("old-done"), {"event": "done", "data": "{}"})  # its expiry was lost
    await streams_redis.xadd(stream_key("fresh"), {"event": "chunk", "data": '{"text":"on its way"}'})

    result = await cleanup_streams(ctx, now)

    assert result == {"stuck_failed": 1, "streams_removed": 1}
    assert (await db[REPLIES].find_one({"_id": "stuck"}))["status"] == "failed"
    assert (await db[REPLIES].find_one({"_id": "fresh"}))["status"] == "generating"
    stuck_events = await streams.read("stuck")
    assert [e.event for e in stuck_events] == ["chunk", "error"] and stuck_events[-1].data["code"] == "timed_out"
    assert not await streams.exists("old-done") and await streams.exists("fresh")
    await streams_redis.aclose()


async def test_deleting_the_account_removes_its_replies_and_their_streams(api, db, redis_url, stub_llm):
    login = await api.new_user()
    accepted = await post(api, login)
    await read_events(api.http, accepted["stream_url"], login.headers)
    from redis.asyncio import Redis

    redis = Redis.from_url(redis_url)
    assert await redis.exists(stream_key(accepted["reply_id"]))
    deleted = await api.http.delete("/api/v1/account", headers=login.headers)
    assert deleted.status_code == 200 and deleted.json()["deleted"]["replies"] == 1
    assert not await redis.exists(stream_key(accepted["reply_id"]))
    await redis.aclose()
    assert await db[REPLIES].count_documents({}) == 0


async def test_resuming_at_or_past_the_end_ends_at_once_and_hostile_ids_are_refused(api, db, redis_url, stub_llm):
    login = await api.new_user()
    accepted = await post(api, login)
    received = await read_events(api.http, accepted["stream_url"], login.headers)
    done_id = received.events[-1].id
    for after in (done_id, "99999999999999-0"):  # at the end, past it: 204 tells an EventSource to stop
        response = await api.http.get(accepted["stream_url"], headers={**login.headers, "Last-Event-ID": after})
        assert response.status_code == 204, (after, response.text)
    for after in ("\u0661\u0662-0", "99999999999999999999999-0", "1-" + "9" * 21):  # digits Redis would refuse
        response = await api.http.get(accepted["stream_url"], params={"after": after}, headers=login.headers)
        assert response.status_code == 400 and response.json()["detail"].startswith("after "), response.text
    async with api.connect(login) as ws:
        await ws.send(json.dumps({"type": "resume", "reply_id": accepted["reply_id"], "after": done_id}))
        assert json.loads(await ws.recv())["code"] == "ended"
        await ws.send(json.dumps({"type": "resume", "reply_id": accepted["reply_id"], "after": "\u0661-0"}))
        assert json.loads(await ws.recv())["code"] == "invalid_frame"
        from redis.asyncio import Redis

        redis = Redis.from_url(redis_url)
        await redis.delete(stream_key(accepted["reply_id"]))  # what STREAM_TTL_SECONDS does
        await redis.aclose()
        await ws.send(json.dumps({"type": "resume", "reply_id": accepted["reply_id"], "after": "0-0"}))
        gone = json.loads(await ws.recv())
        assert gone["code"] == "gone" and "/api/v1/chat/messages" in gone["detail"]


async def test_a_chunk_for_a_deleted_stream_does_not_make_it_again(redis_url):
    from redis.asyncio import Redis

    from shared.redis_structures.reply_stream import ReplyStreams

    redis = Redis.from_url(redis_url)
    streams = ReplyStreams(redis, ttl_seconds=60, max_entries=100, unfinished_ttl_seconds=120)
    await streams.append("r1", "chunk", {"text": "first"}, first=True)
    assert 0 < await redis.ttl(stream_key("r1")) <= 120
    await streams.delete("r1")  # the account was deleted while the worker was writing
    await streams.append("r1", "chunk", {"text": "late"})
    assert not await redis.exists(stream_key("r1"))
    await redis.aclose()


async def test_with_the_streams_redis_away_the_stream_answers_503_and_a_cut_stream_ends_cleanly(
    settings, mongo_client, stub_llm, caplog
):
    from allinone.redis_process import free_port
    from service.app import create_app
    from service.routes.replies import events
    from shared.redis_structures.reply_stream import StreamEvent
    from tests.support.product import serve_product

    away = settings.model_copy(update={"streams_redis_url": f"redis://127.0.0.1:{free_port()}/0"})
    async with serve_product(settings, mongo_client) as api:  # the worker writes the stream
        login = await api.new_user()
        accepted = await post(api, login)
        await read_events(api.http, accepted["stream_url"], login.headers)
    from tests.support.servers import serve_app

    async with serve_app(create_app(away, mongo_client=mongo_client)) as url, Api(url) as reader:
        response = await reader.http.get(accepted["stream_url"], headers=login.headers)
    assert response.status_code == 503 and "cannot be read right now" in response.json()["detail"]

    class Cut:  # a stream whose Redis goes away after one event
        async def follow(self, *args: Any) -> Any:
            yield StreamEvent(id="1-0", event="chunk", data={"text": "one "})
            raise ConnectionError("Connection closed by server.")

    from types import SimpleNamespace

    from service.socket_registry import SocketRegistry

    state = SimpleNamespace(reply_streams=Cut(), settings=settings, sockets=SocketRegistry())
    sent = [part async for part in events(state, "r1", "0-0", "s1")]  # type: ignore[arg-type]
    assert sent == ["retry: 1000\n\n", 'id: 1-0\nevent: chunk\ndata: {"text":"one "}\n\n']
    assert "its stream could not be read" in caplog.text
    assert state.sockets.close_session("s1", 4401, "gone") == 0  # the ended stream left the registry
