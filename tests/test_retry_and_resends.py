"""Stop and retry a reply; resend a POST safely with `Idempotency-Key` (issue 24, items 2 and 4).

Real redis-server, real uvicorn, the real Anthropic SDK against the stub and the real chat
worker (the `api` fixture), as in tests/test_reply_streams.py.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from shared.store.mongo import CHAT_MESSAGES, REPLIES
from tests.support.client import Api, Login
from tests.support.running_worker import wait_for
from tests.support.sse import read_events
from tests.support.stub_llm import Failure
from tests.test_reply_streams import REPLY, post, stored_reply


def retry_url(reply_id: str) -> str:
    return f"/api/v1/chat/replies/{reply_id}/retry"


async def failed_reply(api: Api, login: Login, stub_llm: Any) -> dict[str, Any]:
    """A reply the LLM could not write at all (a permanent 400 from the provider)."""
    stub_llm.failures = [Failure(400)]
    accepted = await post(api, login, "Are you there?")

    async def failed() -> bool:
        reply = await api.http.get(f"/api/v1/chat/replies/{accepted['reply_id']}", headers=login.headers)
        return reply.json()["status"] == "failed"

    await wait_for(failed)
    return accepted


async def test_a_failed_reply_is_retried_as_a_new_reply_to_the_same_message(api, db, stub_llm):
    login = await api.new_user()
    first = await failed_reply(api, login, stub_llm)
    stub_llm.reply_text = REPLY
    response = await api.http.post(retry_url(first["reply_id"]), headers=login.headers)
    assert response.status_code == 202, response.text
    again = response.json()
    assert again["message_id"] == first["message_id"] and again["reply_id"] != first["reply_id"]
    received = await read_events(api.http, again["stream_url"], login.headers)
    assert received.events[-1].event == "done" and received.text == REPLY + " "
    messages = (await api.http.get("/api/v1/chat/messages", headers=login.headers)).json()["messages"]
    assert [(m["role"], m["content"]) for m in messages] == [("user", "Are you there?"), ("assistant", REPLY + " ")]
    assert (await db[REPLIES].find_one({"_id": first["reply_id"]}))["retried_by"] == again["reply_id"]
    # Once is enough: a second retry of the same failed reply names the first retry instead.
    twice = await api.http.post(retry_url(first["reply_id"]), headers=login.headers)
    assert twice.status_code == 409 and twice.json()["retried_by"] == again["reply_id"]
    assert await db[REPLIES].count_documents({"message_id": first["message_id"]}) == 2


async def test_a_stopped_reply_can_be_retried(api, db, stub_llm):
    stub_llm.reply_text, stub_llm.chunk_delay = REPLY, 0.3
    login = await api.new_user()
    accepted = await post(api, login)
    await read_events(api.http, accepted["stream_url"], login.headers, stop_after_chunks=1)
    assert (await api.http.delete(f"/api/v1/chat/replies/{accepted['reply_id']}", headers=login.headers)).status_code == 200
    await stored_reply(db, accepted["reply_id"])
    stub_llm.chunk_delay = 0.0
    response = await api.http.post(retry_url(accepted["reply_id"]), headers=login.headers)
    assert response.status_code == 202, response.text
    received = await read_events(api.http, response.json()["stream_url"], login.headers)
    assert received.text == REPLY + " "


async def test_retry_refuses_replies_that_are_not_failed_or_not_yours(api, db, stub_llm):
    stub_llm.reply_text = REPLY
    owner, stranger = await api.new_user(), await api.new_user()
    done = await post(api, owner)
    await read_events(api.http, done["stream_url"], owner.headers)
    refused = await api.http.post(retry_url(done["reply_id"]), headers=owner.headers)
    assert refused.status_code == 409 and "this one is done" in refused.json()["detail"]
    failed = await failed_reply(api, owner, stub_llm)
    for reply_id in (failed["reply_id"], "no-such-reply"):
        missing = await api.http.post(retry_url(reply_id), headers=stranger.headers)
        assert missing.status_code == 404 and missing.json()["detail"] == "no reply with that id"
    assert (await api.http.post(retry_url(failed["reply_id"]), headers={})).status_code == 401
    assert await db[REPLIES].count_documents({}) == 2  # nothing was created by the refusals


async def test_a_retry_over_the_rate_limit_is_refused_and_can_be_sent_again(api, db, settings, stub_llm, redis_url):
    """Refused by the messages-per-minute bucket: nothing is created, and the reply stays retryable."""
    login = await api.new_user()
    failed = await failed_reply(api, login, stub_llm)
    limits = api_state_limits(settings)
    for _ in range(settings.chat_messages_per_minute):  # spend the bucket
        await limits.take_message(login.user_id)
    refused = await api.http.post(retry_url(failed["reply_id"]), headers=login.headers)
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1
    assert (await db[REPLIES].find_one({"_id": failed["reply_id"]})).get("retried_by") is None
    assert await db[REPLIES].count_documents({}) == 1


def api_state_limits(settings: Any) -> Any:
    from arq.connections import ArqRedis
    from redis.asyncio import ConnectionPool

    from service.chat_limits import ChatLimits

    return ChatLimits(ArqRedis(ConnectionPool.from_url(settings.redis_url)), settings)


async def test_the_same_idempotency_key_returns_the_first_answer_and_stores_once(api, db, stub_llm):
    stub_llm.reply_text = REPLY
    login = await api.new_user()
    key = {**login.headers, "Idempotency-Key": str(uuid.uuid4())}
    first = await api.http.post("/api/v1/chat/messages", json={"content": "I want to swim"}, headers=key)
    assert first.status_code == 202
    await read_events(api.http, first.json()["stream_url"], login.headers)
    again = await api.http.post("/api/v1/chat/messages", json={"content": "I want to swim"}, headers=key)
    assert again.status_code == 202 and again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert await db[CHAT_MESSAGES].count_documents({"role": "user"}) == 1
    assert await db[REPLIES].count_documents({}) == 1
    # The same key with another body is a client's mistake, said as such; nothing is stored.
    other = await api.http.post("/api/v1/chat/messages", json={"content": "I want to fly"}, headers=key)
    assert other.status_code == 422 and other.json()["errors"][0]["field"] == "Idempotency-Key"
    # Keys are each user's own: another user's same key is a new request.
    stranger = await api.new_user()
    theirs = {**stranger.headers, "Idempotency-Key": key["Idempotency-Key"]}
    mine = await api.http.post("/api/v1/chat/messages", json={"content": "I want to swim"}, headers=theirs)
    assert mine.status_code == 202 and mine.json()["reply_id"] != first.json()["reply_id"]
    assert await db[CHAT_MESSAGES].count_documents({"role": "user"}) == 2


async def test_concurrent_resends_with_one_key_store_one_message(api, db, stub_llm):
    """Five copies of one POST at once (a client retrying a stalled request): one message, one reply."""
    stub_llm.reply_text = REPLY
    login = await api.new_user()
    key = {**login.headers, "Idempotency-Key": "resend-" + uuid.uuid4().hex}
    responses = await asyncio.gather(
        *(api.http.post("/api/v1/chat/messages", json={"content": "once"}, headers=key) for _ in range(5))
    )
    assert {r.status_code for r in responses} <= {202, 409}
    accepted = {r.json()["reply_id"] for r in responses if r.status_code == 202}
    assert len(accepted) == 1
    assert await db[CHAT_MESSAGES].count_documents({"role": "user"}) == 1
    assert await db[REPLIES].count_documents({}) == 1


async def test_a_refused_request_does_not_keep_its_key(api, db, stub_llm):
    """A 422 (or 429, 503) is not the answer to keep: the same key sent again, fixed, is handled."""
    stub_llm.reply_text = REPLY
    login = await api.new_user()
    key = {**login.headers, "Idempotency-Key": "k-" + uuid.uuid4().hex}
    blank = await api.http.post("/api/v1/chat/messages", json={"content": "   "}, headers=key)
    assert blank.status_code == 422
    fixed = await api.http.post("/api/v1/chat/messages", json={"content": "   "}, headers=key)
    assert fixed.status_code == 422 and "Idempotent-Replayed" not in fixed.headers


async def test_bad_idempotency_keys_are_refused_in_words(api, db, stub_llm):
    login = await api.new_user()
    for bad in (b"", b"x" * 256, b"has space", "caf\u00e9".encode()):
        response = await api.http.post(
            "/api/v1/chat/messages",
            json={"content": "hello"},
            headers={**login.headers, "Idempotency-Key": bad},
        )
        assert response.status_code == 422, bad
        assert response.json()["errors"] == [
            {"field": "Idempotency-Key", "message": "must be 1 to 255 visible ASCII characters (a UUID, say)"}
        ]
    assert await db[CHAT_MESSAGES].count_documents({}) == 0


async def test_a_retry_resent_with_its_key_makes_one_new_reply(api, db, stub_llm):
    login = await api.new_user()
    failed = await failed_reply(api, login, stub_llm)
    stub_llm.reply_text = REPLY
    key = {**login.headers, "Idempotency-Key": uuid.uuid4().hex}
    first = await api.http.post(retry_url(failed["reply_id"]), headers=key)
    second = await api.http.post(retry_url(failed["reply_id"]), headers=key)
    assert first.status_code == second.status_code == 202 and first.json() == second.json()
    assert await db[REPLIES].count_documents({}) == 2


async def test_with_redis_silent_a_keyed_post_is_refused_503_and_nothing_is_stored(settings, mongo_client, db):
    """The keys live in Redis: a Redis that never answers refuses the POST (503, Retry-After)
    after one REDIS_TIMEOUT_SECONDS, rather than handling it without the resend guard."""
    from service.app import create_app
    from tests.support.dropping_redis import silent_redis
    from tests.support.servers import serve_app

    async with silent_redis() as (redis_url, _):
        stalled = settings.model_copy(update={"redis_url": redis_url, "redis_timeout_seconds": 0.3})
        async with serve_app(create_app(stalled, mongo_client=mongo_client)) as url, Api(url) as api:
            login = await api.new_user()
            response = await api.http.post(
                "/api/v1/chat/messages", json={"content": "hello"}, headers={**login.headers, "Idempotency-Key": "k1"}
            )
    assert response.status_code == 503 and response.headers["Retry-After"] == "5"
    assert "request keys" in response.json()["detail"]
    assert await db[CHAT_MESSAGES].count_documents({}) == 0
