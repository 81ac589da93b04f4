"""Conversations (issue 24, item 1): a user keeps several and switches between them; chat
routes and socket frames name one (default: the newest); memory stays per user; export and
deletion include them. Real Redis, real HTTP and WebSockets, the real chat worker."""

from __future__ import annotations

import json
from typing import Any

from shared.store.mongo import CHAT_MESSAGES, CONVERSATIONS
from tests.support.client import Api, Login, read_reply
from tests.support.sse import read_events
from tests.test_reply_streams import REPLY


async def new_conversation(api: Api, login: Login, title: str | None = None) -> dict[str, Any]:
    response = await api.http.post("/api/v1/conversations", json={"title": title} if title else {}, headers=login.headers)
    assert response.status_code == 201, response.text
    return response.json()


async def say(api: Api, login: Login, content: str, conversation_id: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"content": content}
    if conversation_id is not None:
        body["conversation_id"] = conversation_id
    response = await api.http.post("/api/v1/chat/messages", json=body, headers=login.headers)
    assert response.status_code == 202, response.text
    accepted = response.json()
    await read_events(api.http, accepted["stream_url"], login.headers)
    return accepted


async def shown(api: Api, login: Login, conversation_id: str | None = None) -> list[tuple[str, str]]:
    query = f"?conversation_id={conversation_id}" if conversation_id else ""
    response = await api.http.get(f"/api/v1/chat/messages{query}", headers=login.headers)
    assert response.status_code == 200, response.text
    return [(m["role"], m["content"]) for m in response.json()["messages"]]


async def test_each_conversation_keeps_its_own_messages_and_the_newest_is_the_default(api, db, stub_llm):
    stub_llm.reply_text = REPLY
    login = await api.new_user()
    # The first message of a user with none makes one.
    first = await say(api, login, "about running")
    [made] = (await api.http.get("/api/v1/conversations", headers=login.headers)).json()["conversations"]
    # Named after its first message, as an untitled one is.
    assert made["title"] == "about running" and first["conversation_id"] == made["id"]
    work = await new_conversation(api, login, "Work")
    assert work["title"] == "Work"
    await say(api, login, "about my job")  # no id: the newest, which is Work now
    await say(api, login, "more running", made["id"])  # and Running is the newest again
    assert await shown(api, login, work["id"]) == [("user", "about my job"), ("assistant", REPLY + " ")]
    assert await shown(api, login) == [
        ("user", "about running"),
        ("assistant", REPLY + " "),
        ("user", "more running"),
        ("assistant", REPLY + " "),
    ]
    listed = (await api.http.get("/api/v1/conversations", headers=login.headers)).json()["conversations"]
    assert [c["id"] for c in listed] == [made["id"], work["id"]]  # latest activity first
    # The reply in a conversation was written from that conversation's turns only.
    last_request = stub_llm.chat_requests[-1]
    said = json.dumps(last_request["messages"])
    assert "more running" in said and "about running" in said and "about my job" not in said


async def test_an_untitled_conversation_is_named_after_its_first_message_and_a_title_is_kept(api, db, stub_llm):
    stub_llm.reply_text = REPLY
    login = await api.new_user()
    untitled = await new_conversation(api, login)
    assert untitled["title"] == "New conversation"
    await say(api, login, "I want to run a marathon in Berlin next spring, with Anna", untitled["id"])
    await say(api, login, "Second thoughts", untitled["id"])
    titled = await new_conversation(api, login, "My title")
    await say(api, login, "Not a title", titled["id"])
    listed = (await api.http.get("/api/v1/conversations", headers=login.headers)).json()["conversations"]
    assert [c["title"] for c in listed] == ["My title", "I want to run a marathon in Berlin next…"]


async def test_rename_archive_and_paging(api, db):
    login = await api.new_user()
    made = [await new_conversation(api, login, f"Talk {n}") for n in range(5)]
    renamed = await api.http.patch(f"/api/v1/conversations/{made[0]['id']}", json={"title": "  Renamed  "}, headers=login.headers)
    assert renamed.status_code == 200 and renamed.json()["title"] == "Renamed"
    page = (await api.http.get("/api/v1/conversations?limit=2", headers=login.headers)).json()
    assert [c["title"] for c in page["conversations"]] == ["Renamed", "Talk 4"] and page["next_before"]
    rest = await api.http.get("/api/v1/conversations", params={"limit": 10, "before": page["next_before"]}, headers=login.headers)
    assert [c["title"] for c in rest.json()["conversations"]] == ["Talk 3", "Talk 2", "Talk 1"]
    assert rest.json()["next_before"] is None
    archived = await api.http.delete(f"/api/v1/conversations/{made[1]['id']}", headers=login.headers)
    assert archived.status_code == 200 and archived.json()["archived_at"]
    titles = [c["title"] for c in (await api.http.get("/api/v1/conversations", headers=login.headers)).json()["conversations"]]
    assert "Talk 1" not in titles and len(titles) == 4
    # An archived conversation takes no new messages; its history can still be read.
    refused = await api.http.post(
        "/api/v1/chat/messages", json={"content": "hello", "conversation_id": made[1]["id"]}, headers=login.headers
    )
    assert refused.status_code == 409 and "archived" in refused.json()["detail"]
    assert await shown(api, login, made[1]["id"]) == []
    assert await db[CHAT_MESSAGES].count_documents({}) == 0


async def test_another_users_conversation_is_404_everywhere(api, db):
    owner, stranger = await api.new_user(), await api.new_user()
    theirs = await new_conversation(api, owner, "Private")
    for cid in (theirs["id"], "no-such-id", "0" * 24):
        url = f"/api/v1/conversations/{cid}"
        assert (await api.http.patch(url, json={"title": "mine"}, headers=stranger.headers)).status_code == 404
        assert (await api.http.delete(url, headers=stranger.headers)).status_code == 404
        assert (await api.http.get(f"/api/v1/chat/messages?conversation_id={cid}", headers=stranger.headers)).status_code == 404
        posted = await api.http.post(
            "/api/v1/chat/messages", json={"content": "hi", "conversation_id": cid}, headers=stranger.headers
        )
        assert posted.status_code == 404 and posted.json()["detail"] == "no conversation with that id"
    assert (await db[CONVERSATIONS].find_one({"title": "Private"})) is not None
    assert await db[CHAT_MESSAGES].count_documents({}) == 0


async def test_bad_conversation_bodies_are_refused(api):
    login = await api.new_user()
    for body in ({"title": ""}, {"title": "   "}, {"title": "\u200b\u00a0"}, {"title": "x" * 201}, {"name": "x"}):
        response = await api.http.post("/api/v1/conversations", json=body, headers=login.headers)
        assert response.status_code == 422, body
    made = await new_conversation(api, login)
    response = await api.http.patch(f"/api/v1/conversations/{made['id']}", json={}, headers=login.headers)
    assert response.status_code == 422
    assert (await api.http.get("/api/v1/conversations?limit=0", headers=login.headers)).status_code == 422
    assert (await api.http.get("/api/v1/conversations")).status_code == 401


async def test_creating_a_conversation_with_an_idempotency_key_makes_one(api, db):
    login = await api.new_user()
    headers = {**login.headers, "Idempotency-Key": "new-talk-1"}
    first = await api.http.post("/api/v1/conversations", json={"title": "Once"}, headers=headers)
    again = await api.http.post("/api/v1/conversations", json={"title": "Once"}, headers=headers)
    assert first.status_code == again.status_code == 201 and first.json() == again.json()
    assert await db[CONVERSATIONS].count_documents({"title": "Once"}) == 1


async def test_socket_frames_name_their_conversation(api, db, stub_llm):
    stub_llm.reply_text = REPLY
    login = await api.new_user()
    talk = await new_conversation(api, login, "Socket talk")
    other = await new_conversation(api, login, "Newer")
    async with api.connect(login) as ws:
        await ws.send(json.dumps({"type": "message", "content": "to the newest"}))
        frames = await read_reply(ws)
        assert frames[0]["type"] == "accepted" and frames[0]["conversation_id"] == other["id"]
        await ws.send(json.dumps({"type": "message", "content": "over the socket", "conversation_id": talk["id"]}))
        frames = await read_reply(ws)
        assert frames[0]["conversation_id"] == talk["id"]
        await ws.send(json.dumps({"type": "message", "content": "x", "conversation_id": "0" * 24}))
        assert json.loads(await ws.recv())["code"] == "not_found"
        await api.http.delete(f"/api/v1/conversations/{talk['id']}", headers=login.headers)
        await ws.send(json.dumps({"type": "message", "content": "x", "conversation_id": talk["id"]}))
        assert json.loads(await ws.recv())["code"] == "conversation_archived"
    assert await shown(api, login, talk["id"]) == [("user", "over the socket"), ("assistant", REPLY + " ")]


async def test_export_and_deletion_include_conversations(api, db, stub_llm):
    stub_llm.reply_text = REPLY
    login = await api.new_user()
    talk = await new_conversation(api, login, "Exported")
    await say(api, login, "in a conversation", talk["id"])
    exported = (await api.http.get("/api/v1/account/export", headers=login.headers)).json()["collections"]
    assert [c["title"] for c in exported["conversations"]] == ["Exported"]
    assert {m["conversation_id"] for m in exported["chat_messages"]} == {talk["id"]}
    deleted = await api.http.delete("/api/v1/account", headers=login.headers)
    assert deleted.json()["deleted"]["conversations"] == 1
    assert await db[CONVERSATIONS].count_documents({}) == 0


async def test_messages_from_before_conversations_show_in_the_oldest(api, db):
    """Stored before this change: no conversation_id. They stay visible, in the first conversation."""
    from datetime import UTC, datetime

    from bson import ObjectId

    login = await api.new_user()
    await db[CHAT_MESSAGES].insert_one(
        {
            "_id": ObjectId(),
            "user_id": login.user_id,
            "session_id": login.session_id,
            "role": "user",
            "content": "said long ago",
            "timestamp": datetime.now(UTC),
        }
    )
    assert await shown(api, login) == [("user", "said long ago")]  # no conversation yet
    first = await new_conversation(api, login, "First")
    await new_conversation(api, login, "Second")
    assert await shown(api, login, first["id"]) == [("user", "said long ago")]
    assert await shown(api, login) == []  # the newest, Second, has none of them


async def test_a_socket_frame_with_a_bad_conversation_id_is_refused(api, db):
    login = await api.new_user()
    async with api.connect(login) as ws:
        for bad in (7, "", "x" * 65):
            await ws.send(json.dumps({"type": "message", "content": "x", "conversation_id": bad}))
            assert json.loads(await ws.recv())["code"] == "invalid_frame"
    assert await db[CHAT_MESSAGES].count_documents({}) == 0
