"""Reinforcement instead of duplicates, and what the coach recalls."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from shared.store.mongo import SESSION_CONTEXTS, SUMMARIES
from tests.support.memory_docs import DAY, context_doc
from tests.support.product import serve_product
from tests.support.settings import make_settings
from tests.support.worker import drain_queue

# Reinforcement and recall ----------------------------------------------------------------


async def test_a_point_said_again_reinforces_instead_of_duplicating(api, settings, mongo_client, db, stub_llm):
    login = await api.new_user()
    await api.chat(login, "I want to run a marathon")
    await drain_queue(settings, mongo_client)
    first = await db[SESSION_CONTEXTS].find_one({})
    await db[SESSION_CONTEXTS].update_one({"_id": first["_id"]}, {"$set": {"strength": 0.4}})

    again = await api.login(login.email, login.password, login.user_id)
    await api.chat(again, "i want to   run a MARATHON!", "I prefer trails")
    await drain_queue(settings, mongo_client)

    first = await db[SESSION_CONTEXTS].find_one({"session_id": login.session_id})
    [point] = first["context_points"]
    assert point["mentions"] == 2 and first["strength"] == 1.0
    assert point["last_seen_at"] > point["first_seen_at"]
    second = await db[SESSION_CONTEXTS].find_one({"session_id": again.session_id})
    assert [p["content"] for p in second["context_points"]] == ["I prefer trails"]


async def test_recall_puts_summary_and_strongest_points_in_the_prompt_as_data(api, db, stub_llm, redis_url):
    login = await api.new_user()
    now = datetime.now(UTC)
    strong = context_doc(login.user_id, 1, created_at=now, strength=1.0)
    strong["context_points"][0].update(content="Finish the thesis by June", importance=0.9)
    weak = context_doc(login.user_id, 2, created_at=now, strength=0.1)
    weak["context_points"][0].update(content="Likes green tea", importance=1.0)  # 0.1 x 1.0 = 0.1
    middle = context_doc(login.user_id, 3, created_at=now, strength=0.8)
    middle["context_points"][0].update(content="Runs on Sundays", importance=0.5)  # 0.4
    await db[SESSION_CONTEXTS].insert_many([weak, middle, strong])
    await db[SUMMARIES].insert_one(
        {
            "user_id": login.user_id,
            "status": "done",
            "text": "Doctoral student under deadline pressure.",
            "key_points": [],
            "covered_session_ids": [],
            "period": {"start": now, "end": now},
            "strength": 1.0,
            "decayed_at": now,
            "created_at": now,
        }
    )

    await api.chat(login, "How should I plan this week?")
    [request] = stub_llm.chat_requests
    instructions, data = request["system"].split("\n<memory>\n")
    assert "Doctoral student under deadline pressure." in data
    order = [data.index(text) for text in ("Finish the thesis by June", "Runs on Sundays", "Likes green tea")]
    assert order == sorted(order)
    assert "thesis" not in instructions

    memory = await api.memory(login)
    scores = {c["points"][0]["content"]: c["points"][0]["score"] for c in memory["contexts"]}
    assert scores["Finish the thesis by June"] == pytest.approx(0.9, abs=1e-6)
    assert scores["Likes green tea"] == pytest.approx(0.1, abs=1e-6)


async def test_recall_limit_is_a_setting(db, redis_url):
    from shared.memory.recall import recall

    settings = make_settings(redis_url, recall_points=2)
    now = datetime.now(UTC)
    await db[SESSION_CONTEXTS].insert_many([context_doc("u", n, created_at=now) for n in range(5)])
    assert len((await recall(db, "u", settings)).points) == 2


async def test_memory_shows_current_strength(api, db):
    login = await api.new_user()
    three_days_ago = datetime.now(UTC) - 3 * DAY
    await db[SESSION_CONTEXTS].insert_one(context_doc(login.user_id, 1, created_at=three_days_ago))
    [context] = (await api.memory(login))["contexts"]
    assert context["strength"] == pytest.approx(0.95**3, abs=1e-4)
    assert context["score"] == pytest.approx(0.95**3 * 0.5, abs=1e-4)


async def test_offline_reply_draws_on_recalled_memory(redis_url, mongo_client):
    from tests.support.client import reply_text

    settings = make_settings(redis_url, llm_provider="offline")
    db = mongo_client[settings.mongodb_db_name]
    async with serve_product(settings, mongo_client) as api:
        login = await api.new_user()
        doc = context_doc(login.user_id, 1, created_at=datetime.now(UTC))
        doc["context_points"][0].update(content="Run a marathon in May")
        await db[SESSION_CONTEXTS].insert_one(doc)
        [frames] = await api.chat(login, "hello")
        assert 'I remember your goal: "Run a marathon in May"' in reply_text(frames)
