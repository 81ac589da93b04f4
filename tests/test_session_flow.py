"""The spine end to end: chat over a real WebSocket, log out or disconnect, the worker extracts."""

from __future__ import annotations

from datetime import UTC, datetime

from arq.jobs import Job

from shared.queue.jobs import extract_job_id
from shared.store.mongo import SESSION_CONTEXTS
from tests.support.client import reply_text, say
from tests.support.metrics import open_sockets
from tests.support.waiting import wait_for
from tests.support.worker import drain_queue


async def result_of(arq_pool, job_id):
    return await Job(job_id, arq_pool).result(timeout=5)


async def test_chat_then_logout_stores_context_the_user_can_read(api, settings, mongo_client, stub_llm, arq_pool):
    # Deltas a moment apart, as an LLM sends them: each goes out as it comes (deltas that
    # arrive together would go out as one chunk: worker/coalesced_chunks.py).
    stub_llm.chunk_delay = 0.02
    login = await api.new_user()
    replies = await api.chat(login, "I want to run a marathon in spring", "I will train three times a week")
    for frames in replies:
        assert frames[-1]["type"] == "done"
        assert len([f for f in frames if f["type"] == "chunk"]) > 1, "reply should arrive in several chunks"
        assert reply_text(frames).startswith("Stub coach reply")

    # The socket's close already queued the session; nothing has run yet.
    logout = await api.logout(login)
    assert logout["status"] == "logged_out" and logout["session_id"] == login.session_id
    assert stub_llm.extraction_requests == []

    await drain_queue(settings, mongo_client)
    assert len(stub_llm.extraction_requests) == 1
    outcome = await result_of(arq_pool, logout["job_id"])
    assert outcome["success"] is True and outcome["reason"] == "extracted" and outcome["context_id"]

    again = await api.login(login.email, login.password, login.user_id)  # the old token is revoked
    memory = await api.memory(again)
    [context] = memory["contexts"]
    assert context["session_id"] == login.session_id
    assert context["id"] == outcome["context_id"]
    assert [p["content"] for p in context["points"]] == ["I want to run a marathon in spring", "I will train three times a week"]
    assert context["message_count"] == 4


async def test_disconnect_alone_extracts_the_session(api, settings, mongo_client, stub_llm):
    login = await api.new_user()
    await api.chat(login, "My goal is to sleep eight hours")
    await drain_queue(settings, mongo_client)
    memory = await api.memory(login)  # still logged in
    assert [c["session_id"] for c in memory["contexts"]] == [login.session_id]
    assert memory["contexts"][0]["points"][0]["content"] == "My goal is to sleep eight hours"


async def test_logout_and_disconnect_of_one_session_extract_once(api, settings, mongo_client, stub_llm, db):
    login = await api.new_user()
    sockets_before = open_sockets()
    async with api.connect(login) as ws:
        await say(ws, "I decided to quit coffee")
        logout = await api.logout(login)  # while the socket is still open
    # The socket closed after the logout: its enqueue used the same job id. Once the service
    # is done with the socket, that enqueue has happened.
    await wait_for(lambda: open_sockets() == sockets_before, what="the service finishing with the closed socket")
    await drain_queue(settings, mongo_client)
    assert len(stub_llm.extraction_requests) == 1
    assert await db[SESSION_CONTEXTS].count_documents({"session_id": login.session_id}) == 1
    newest = (await db["chat_messages"].find({"session_id": login.session_id}).sort("timestamp", -1).to_list(1))[0]
    assert logout["job_id"] == extract_job_id(login.session_id, str(newest["_id"]))


async def test_resumed_session_with_new_messages_is_extracted_again(api, settings, mongo_client, stub_llm, db):
    login = await api.new_user()
    await api.chat(login, "I want to learn Spanish")
    await drain_queue(settings, mongo_client)
    await api.chat(login, "I prefer learning in the evening")  # same token, new socket
    await drain_queue(settings, mongo_client)
    assert len(stub_llm.extraction_requests) == 2
    context = await db[SESSION_CONTEXTS].find_one({"session_id": login.session_id})
    assert context["covered"]["message_count"] == 4
    assert {p["content"] for p in context["context_points"]} == {"I want to learn Spanish", "I prefer learning in the evening"}


async def test_second_extraction_with_no_new_messages_makes_no_llm_call(api, settings, mongo_client, stub_llm, arq_pool):
    login = await api.new_user()
    await api.chat(login, "I will walk every day")
    await drain_queue(settings, mongo_client)
    assert len(stub_llm.extraction_requests) == 1
    # A later enqueue under a fresh id (say, after arq dropped the old result).
    await arq_pool.enqueue_job("extract_session_context", login.user_id, login.session_id, _job_id="again")
    await drain_queue(settings, mongo_client)
    outcome = await result_of(arq_pool, "again")
    assert outcome["reason"] == "up_to_date" and outcome["context_id"]
    assert len(stub_llm.extraction_requests) == 1


async def test_fewer_than_two_messages_is_not_extracted(api, settings, mongo_client, stub_llm, arq_pool, db):
    login = await api.new_user()
    logout = await api.logout(login)  # no messages at all
    await drain_queue(settings, mongo_client)
    outcome = await result_of(arq_pool, logout["job_id"])
    assert outcome == {"success": True, "context_id": None, "reason": "insufficient_messages"}

    other = await api.new_user()
    await db["chat_messages"].insert_one(
        {
            "user_id": other.user_id,
            "session_id": other.session_id,
            "role": "user",
            "content": "hi",
            "timestamp": datetime.now(UTC),
        }
    )
    await arq_pool.enqueue_job("extract_session_context", other.user_id, other.session_id, _job_id="one-message")
    await drain_queue(settings, mongo_client)
    assert (await result_of(arq_pool, "one-message"))["reason"] == "insufficient_messages"
    assert stub_llm.extraction_requests == []
    assert await db[SESSION_CONTEXTS].count_documents({}) == 0


async def test_logout_does_not_wait_for_the_llm(api, stub_llm):
    stub_llm.latency = 3.0
    login = await api.new_user()
    await api.chat(login, "I want to write a book")  # the chat reply itself waits 3 s
    stub_llm.requests.clear()
    await api.logout(login)
    # No worker runs in this test: the logout cannot have touched the LLM.
    assert stub_llm.requests == []
