"""The caller's account and memory, on request: download everything, delete everything,
forget one point or a whole session. Real Redis, a real arq worker, the stub LLM over HTTP."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime

import pytest
import websockets

from shared.redis_structures import recall_index
from shared.redis_structures.recall_index import RedisRecallIndex
from shared.store.account import USER_COLLECTIONS
from tests.support.running_worker import running_worker, wait_for
from tests.test_memory_engine import marker_index


async def remembered(api, settings, mongo_client, db):
    """A user who chatted, logged out, and whose session the worker extracted; signed in again."""
    user = await api.new_user()
    await api.chat(user, "I want to run a marathon in Berlin", "I will train with Anna three times a week")
    await api.logout(user)
    async with running_worker(settings, mongo_client):
        await wait_for(lambda: db["session_contexts"].find_one({"user_id": user.user_id}))
    return await api.login(user.email, user.password, user.user_id)


async def fill_the_rest(db, user_id: str) -> None:
    """Documents in the collections one chat does not fill, shaped as their jobs store them."""
    now = datetime.now(UTC)
    await db["summaries"].insert_one({"user_id": user_id, "status": "done", "text": "t", "created_at": now})
    await db["reflections"].insert_one({"user_id": user_id, "insights": [], "created_at": now})
    await db["communities"].update_one({"user_id": user_id}, {"$set": {"groups": []}}, upsert=True)
    await db["empty_extractions"].insert_one({"user_id": user_id, "session_id": "s", "created_at": now})
    await db["replies"].insert_one({"_id": f"r-{user_id}", "user_id": user_id, "status": "done", "created_at": now})
    await db["llm_usage"].insert_one(
        {
            "user_id": user_id,
            "purpose": "chat",
            "model": "m",
            "input_tokens": 1,
            "output_tokens": 1,
            "latency_seconds": 0,
            "at": now,
        }
    )


async def test_export_holds_every_document_and_delete_leaves_none(api, settings, mongo_client, db, arq_pool):
    user = await remembered(api, settings, mongo_client, db)
    other = await api.new_user()
    await fill_the_rest(db, user.user_id)
    await fill_the_rest(db, other.user_id)

    exported = await api.http.get("/api/v1/account/export", headers=user.headers)
    assert exported.status_code == 200, exported.text
    assert "attachment" in exported.headers["content-disposition"]
    body = exported.json()
    assert body["user"]["email"] == user.email and "password_hash" not in body["user"]
    for name in (
        "sessions",
        "chat_messages",
        "session_contexts",
        "summaries",
        "reflections",
        "entities",
        "communities",
        "llm_usage",
        "replies",
    ):
        assert body["collections"][name], f"{name} missing from the export"
        assert {doc["user_id"] for doc in body["collections"][name]} == {user.user_id}, name
    assert "Berlin" in json.dumps(body["collections"]["chat_messages"])

    # A second session with a chat socket open, and a job of the user's waiting in the queue.
    second = await api.login(user.email, user.password, user.user_id)
    await api.chat(second, "one more thing")
    queued_job = (await api.logout(second))["job_id"]
    assert await arq_pool.zscore(settings.queue_name, queued_job) is not None
    third = await api.login(user.email, user.password, user.user_id)
    # Keyed by the user, as extractions make it (there may be one already).
    await db["context_counters"].update_one({"_id": user.user_id}, {"$inc": {"unsummarized": 1}}, upsert=True)
    async with api.connect(third) as socket:
        deleted = await api.http.delete("/api/v1/account", headers=user.headers)
        assert deleted.status_code == 200, deleted.text
        # The open socket of another of the user's sessions is closed at once, as on logout.
        with pytest.raises(websockets.ConnectionClosed) as closed:
            async with asyncio.timeout(5):
                await socket.recv()
        assert closed.value.rcvd.code == 4401
    assert deleted.json()["deleted"]["users"] == 1 and deleted.json()["jobs_cancelled"] >= 1

    # Nothing of the user's is left in any collection, listed or not; the other user keeps all.
    for name in await db.list_collection_names():
        assert await db[name].count_documents({"user_id": user.user_id}) == 0, name
    for name in await db.list_collection_names():  # nor keyed by the user's id (users, context_counters)
        assert await db[name].count_documents({"_id": user.user_id}) == 0, name
    for name in ("summaries", "reflections", "communities", "llm_usage", "replies"):
        assert await db[name].count_documents({"user_id": other.user_id}) == 1, name
    assert await arq_pool.zscore(settings.queue_name, queued_job) is None
    assert not await arq_pool.exists(f"arq:job:{queued_job}")
    # Every token died with it, and signing in again fails.
    for login in (user, third):
        assert (await api.http.get("/api/v1/auth/me", headers=login.headers)).status_code == 401
    again = await api.http.post("/api/v1/auth/login", json={"email": user.email, "password": user.password})
    assert again.status_code == 401
    assert (await api.http.get("/api/v1/account/export", headers=user.headers)).status_code == 401
    assert (await api.http.get("/api/v1/auth/me", headers=other.headers)).status_code == 200


async def test_every_per_user_collection_is_listed(db):
    """What `list_collection_names` above may miss on a fresh database: the list names the
    collections the code writes per user (a renamed one would leave data behind)."""
    assert {
        "sessions",
        "chat_messages",
        "replies",
        "session_contexts",
        "summaries",
        "reflections",
        "entities",
        "relations",
        "communities",
        "llm_usage",
        "job_owners",
        "empty_extractions",
    } <= set(USER_COLLECTIONS)


async def test_export_and_delete_need_a_caller(api):
    assert (await api.http.get("/api/v1/account/export")).status_code == 401
    assert (await api.http.delete("/api/v1/account")).status_code == 401
    assert (await api.http.post("/api/v1/account")).status_code == 405


async def test_forget_a_point_then_the_whole_session(api, settings, mongo_client, db, arq_pool):
    user = await remembered(api, settings, mongo_client, db)
    other = await api.new_user()
    context = (await api.memory(user))["contexts"][0]
    point = context["points"][0]
    assert point["key"] and point["last_seen_at"]
    assert await recall_index.write(
        arq_pool, user.user_id, marker_index("indexed"), await recall_index.version(arq_pool, user.user_id), 60
    )
    path = f"/api/v1/memory/contexts/{context['id']}"

    # Another user cannot touch it: the same 404 as for nothing at all.
    assert (await api.http.delete(f"{path}/points/{point['key']}", headers=other.headers)).status_code == 404
    assert (await api.http.delete(path, headers=other.headers)).status_code == 404
    assert (await api.http.delete("/api/v1/memory/contexts/not-an-id", headers=user.headers)).status_code == 404

    gone = await api.http.delete(f"{path}/points/{point['key']}", headers=user.headers)
    assert gone.status_code == 204, gone.text
    keys = [p["key"] for p in (await api.memory(user))["contexts"][0]["points"]]
    assert point["key"] not in keys and len(keys) == len(context["points"]) - 1
    # The coach stops using it at once: the recall index is dropped and a rebuild queued.
    assert await RedisRecallIndex(arq_pool, user.user_id).probe([], []) is None
    assert any(k.startswith(b"rebuild_recall_cache") or b"recall" in k for k in await arq_pool.zrange(settings.queue_name, 0, -1))
    assert (await api.http.delete(f"{path}/points/{point['key']}", headers=user.headers)).status_code == 404

    assert await db["entities"].count_documents({"user_id": user.user_id}) > 0
    whole = await api.http.delete(path, headers=user.headers)
    assert whole.status_code == 204, whole.text
    assert (await api.memory(user))["contexts"] == []
    # What the graph learned only from that session went with it.
    assert await db["entities"].count_documents({"user_id": user.user_id}) == 0
    assert await db["relations"].count_documents({"user_id": user.user_id}) == 0
    assert (await api.http.delete(path, headers=user.headers)).status_code == 404


async def test_deleting_with_redis_down_still_deletes_and_empties_the_outbox(db, settings, caplog):
    """Redis unreachable: the queue cannot be touched, but the data, the sessions and the
    user's waiting enqueues in the outbox go all the same (a job that runs later finds nothing)."""
    from arq.connections import ArqRedis
    from redis.asyncio import ConnectionPool

    from allinone.redis_process import free_port
    from shared.store.account import delete_account

    quick = settings.model_copy(update={"redis_timeout_seconds": 0.5})
    now = datetime.now(UTC)
    await db["users"].insert_one({"_id": "u-gone", "email": "gone@example.com", "password_hash": "x", "created_at": now})
    await db["sessions"].insert_one(
        {"_id": "s-gone", "user_id": "u-gone", "created_at": now, "expires_at": now, "revoked_at": None}
    )
    await db["job_owners"].insert_one({"_id": "job-gone", "user_id": "u-gone", "created_at": now})
    await db["outbox"].insert_one(
        {"_id": "job-gone", "function": "extract_session_context", "args": ["u-gone", "s-gone"], "created_at": now}
    )
    await db["outbox"].insert_one(
        {"_id": "job-other", "function": "extract_session_context", "args": ["u-other", "s"], "created_at": now}
    )
    dead = ArqRedis(ConnectionPool.from_url(f"redis://127.0.0.1:{free_port()}", socket_connect_timeout=0.2, socket_timeout=0.2))
    try:
        deleted, open_sessions, reply_ids = await delete_account(db, dead, quick, "u-gone")
    finally:
        await dead.aclose()
    assert open_sessions == ["s-gone"] and deleted.deleted["users"] == 1 and deleted.jobs_cancelled == 1
    assert reply_ids == []
    assert [doc["_id"] for doc in await db["outbox"].find().to_list(None)] == ["job-other"]
    assert await db["sessions"].count_documents({"user_id": "u-gone"}) == 0
    assert await delete_account(db, dead, quick, "u-gone") is None  # nothing left to delete
    # What stays behind in Redis is said, not swallowed.
    [warning] = [r for r in caplog.records if r.name == "shared.store.account"]
    assert warning.levelname == "WARNING" and "recall index" in warning.getMessage()


async def test_deleting_an_account_with_no_jobs_drops_its_recall_index(db, settings, arq_pool):
    from shared.redis_structures import recall_index
    from shared.store.account import delete_account

    now = datetime.now(UTC)
    await db["users"].insert_one({"_id": "u-cached", "email": "cached@example.com", "password_hash": "x", "created_at": now})
    await recall_index.drop(arq_pool, "u-cached")  # a version counter
    assert await recall_index.write(arq_pool, "u-cached", marker_index("the user's memory"), "1", 60)
    legacy = "recall:v3:{u-cached}:meta"  # an index an earlier version wrote
    await arq_pool.set(legacy, "the user's memory")
    keys = [recall_index.index_key("u-cached"), "recall:v4:{u-cached}:ver", legacy]
    assert await arq_pool.exists(*keys) == 3
    assert await delete_account(db, arq_pool, settings, "u-cached") is not None
    assert await arq_pool.exists(*keys) == 0
