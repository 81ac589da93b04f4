"""Bad input gets a clear error and the process keeps serving."""

from __future__ import annotations

import json

import pytest

from tests.support.client import read_reply, say


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ("not json at all", "invalid_json"),
        ("[1, 2]", "invalid_frame"),
        ('{"type": "shout", "content": "hi"}', "unknown_type"),
        ('{"content": "hi"}', "unknown_type"),
        ('{"type": "message"}', "invalid_frame"),
        ('{"type": "message", "content": 7}', "invalid_frame"),
        ('{"type": "message", "content": "   "}', "empty_content"),
        (json.dumps({"type": "message", "content": "x" * 4_001}), "content_too_long"),
        (b"\x00\x01binary", "invalid_frame"),
        (json.dumps({"type": "message", "content": "hi", "padding": "x" * 200_000}), "frame_too_large"),
    ],
)
async def test_bad_frame_gets_an_error_frame_and_the_socket_stays_open(api, frame, code, db):
    login = await api.new_user()
    async with api.connect(login) as ws:
        await ws.send(frame)
        [error] = await read_reply(ws)
        assert error["type"] == "error" and error["code"] == code and error["detail"]
        # The same socket still chats.
        assert (await say(ws, "I want to keep going"))[-1]["type"] == "done"
    assert await db["chat_messages"].count_documents({"session_id": login.session_id}) == 2


async def test_llm_failure_during_chat_is_an_error_frame(api, stub_llm):
    from tests.support.stub_llm import Failure

    stub_llm.failures = [Failure(status=400)]
    login = await api.new_user()
    async with api.connect(login) as ws:
        frames = await say(ws, "hello coach")
        accepted, failed = frames
        assert accepted["type"] == "accepted"
        assert failed == {
            "type": "error",
            "code": "llm_unavailable",
            "detail": "the coach could not answer; try again",
            "reply_id": accepted["reply_id"],
            "id": failed["id"],
        }
        assert (await say(ws, "hello again"))[-1]["type"] == "done"


@pytest.mark.parametrize(
    ("query", "status", "named"),
    [
        ("limit=abc", 422, "limit"),
        ("limit=0", 422, "limit"),
        ("limit=201", 422, "limit"),
        ("limt=5", 422, "limt"),
        ("limit=5", 200, None),
    ],
)
async def test_messages_query_is_checked(api, query, status, named):
    login = await api.new_user()
    response = await api.http.get(f"/api/v1/chat/messages?{query}", headers=login.headers)
    assert response.status_code == status
    if named:
        assert named in response.json()["detail"]


async def test_messages_are_the_callers_own_and_limited(api):
    alice, bob = await api.new_user(), await api.new_user()
    await api.chat(alice, "one", "two", "three")
    await api.chat(bob, "bob's secret")
    response = await api.http.get("/api/v1/chat/messages?limit=4", headers=alice.headers)
    messages = response.json()["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant", "user", "assistant"]
    assert [m["content"] for m in messages if m["role"] == "user"] == ["two", "three"]


async def test_unknown_path_and_wrong_method_are_json_errors(api):
    missing = await api.http.get("/api/v1/nope")
    assert missing.status_code == 404 and missing.json()["detail"] == "Not Found"
    wrong = await api.http.get("/api/v1/auth/logout")
    assert wrong.status_code == 405


async def test_body_over_the_limit_is_413_naming_the_limit(api):
    response = await api.http.post(
        "/api/v1/auth/register", content=b"x" * (65 * 1024), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413
    assert response.json()["detail"] == "request body is 66560 bytes; the limit is 65536"


async def test_streamed_body_over_the_limit_is_413(api):
    async def chunks():
        for _ in range(70):
            yield b"x" * 1024

    response = await api.http.post("/api/v1/auth/register", content=chunks(), headers={"Content-Type": "application/json"})
    assert response.status_code == 413
    assert "the limit is 65536" in response.json()["detail"]
    assert (await api.http.get("/healthz")).status_code == 200
