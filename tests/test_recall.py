"""Recall chosen for the message (issue 20): what reaches the coach's prompt, and memory
search, through the real service, worker, Redis and the stub LLM."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from bson import ObjectId

from shared.memory.embeddings import HttpEmbedder
from shared.memory.ranking import Query
from shared.memory.recall import rank_memories
from shared.memory.strength import point_key
from shared.redis_structures.recall_index import RedisRecallIndex
from shared.store.mongo import SESSION_CONTEXTS
from tests.support.job_ctx import job_ctx
from tests.support.servers import serve_app
from tests.support.worker import drain_queue

T0 = datetime(2026, 1, 1, tzinfo=UTC)
SMALL_TALK = [
    "Work was busy today, lots of meetings about the quarterly report",
    "I had pasta for dinner and watched a documentary about whales",
    "The weather turned cold so I stayed inside and read a novel",
    "My commute took forever because of roadworks on the bridge",
    "I cleaned the apartment and sorted out my winter clothes",
]
WEDDING = "My sister Maya is getting married in Lisbon next June"
ANCHOR = "I want to run a marathon before I turn forty"


def context(user_id: str, n: int, contents: list[str], importance: float = 0.5) -> dict[str, Any]:
    at = T0 + timedelta(days=n)
    points = [
        {"kind": "fact", "content": c, "importance": importance, "key": point_key("fact", c), "mentions": 1} for c in contents
    ]
    return {
        "_id": ObjectId(),
        "user_id": user_id,
        "session_id": f"{user_id}-s{n}",
        "context_points": points,
        "covered": {"last_message_id": f"m{n}", "last_at": at, "message_count": 2},
        "strength": 1.0,
        "decayed_at": datetime.now(UTC),
        "expires_at": None,
        "created_at": at,
        "updated_at": at,
        "summary_id": None,
        "summarized_at": None,
    }


async def seed_long_history(db: Any, user_id: str, sessions: int = 40) -> None:
    """A fact said in the first session, small talk in the 39 after it, one strong goal."""
    docs = [context(user_id, 0, [WEDDING])]
    docs += [context(user_id, n, [f"{SMALL_TALK[n % len(SMALL_TALK)]} (day {n})"]) for n in range(1, sessions)]
    docs.append(context(user_id, sessions, [ANCHOR], importance=1.0))
    await db[SESSION_CONTEXTS].insert_many(docs)


def prompt_memory(stub_llm: Any) -> dict[str, Any]:
    system = stub_llm.chat_requests[-1]["system"]
    return json.loads(system.split("\n<memory>\n")[1].removesuffix("\n</memory>"))


async def search(api: Any, login: Any, q: str, **params: Any) -> Any:
    return await api.http.get("/api/v1/memory/search", params={"q": q, **params}, headers=login.headers)


async def test_a_fact_said_40_sessions_ago_comes_back_when_asked_from_the_database_and_the_index(
    api, db, stub_llm, settings, mongo_client, arq_pool
):
    login = await api.new_user()
    await seed_long_history(db, login.user_id)

    await api.chat(login, "Remind me, where is Maya's wedding going to be?")  # no index yet: MongoDB ranks
    contents = [p["content"] for p in prompt_memory(stub_llm)["points"]]
    assert WEDDING in contents and ANCHOR in contents  # the answer, and the stable core

    await drain_queue(settings, mongo_client)  # the rebuild the miss asked for
    assert await RedisRecallIndex(arq_pool, login.user_id).probe([], []) is not None
    await api.chat(login, "What city is my sister getting married in?")  # from the index
    memory = prompt_memory(stub_llm)
    assert WEDDING in [p["content"] for p in memory["points"]]
    said = next(p for p in memory["points"] if p["content"] == WEDDING and p["kind"] == "fact")["said_at"]
    assert said == T0.date().isoformat()  # the coach can tell when it was said


async def test_the_stable_core_is_in_every_prompt_whatever_the_message(api, db, stub_llm):
    login = await api.new_user()
    await seed_long_history(db, login.user_id)
    await api.chat(login, "Whales are fascinating animals")
    contents = [p["content"] for p in prompt_memory(stub_llm)["points"]]
    assert contents[0] == ANCHOR  # the strongest point leads, though the message is about whales
    assert any("whales" in c for c in contents)


async def test_a_forgotten_point_never_reaches_a_prompt_or_a_search_again(api, db, stub_llm, settings, mongo_client):
    login = await api.new_user()
    await seed_long_history(db, login.user_id)
    await api.chat(login, "Where is Maya's wedding?")
    await drain_queue(settings, mongo_client)  # the index now holds the fact
    hit = next(
        r
        for r in (await search(api, login, "Maya wedding")).json()["results"]
        if r["id"].startswith("p:") and r["content"] == WEDDING
    )

    context_id, key = hit["id"].split(":", 2)[1:]
    forgotten = await api.http.delete(f"/api/v1/memory/contexts/{context_id}/points/{key}", headers=login.headers)
    assert forgotten.status_code == 204
    for _ in range(2):  # before the rebuild (MongoDB ranks), then from the rebuilt index
        await api.chat(login, "Where is Maya's wedding?")
        assert hit["id"] not in [r["id"] for r in (await search(api, login, "Maya wedding")).json()["results"]]
        await drain_queue(settings, mongo_client)


async def test_another_users_memories_never_reach_a_prompt_or_a_search(api, db, stub_llm, settings, mongo_client):
    owner, stranger = await api.new_user(), await api.new_user()
    await seed_long_history(db, owner.user_id)
    await api.chat(owner, "Where is Maya's wedding?")
    await drain_queue(settings, mongo_client)
    await api.chat(stranger, "Where is Maya's wedding?")
    assert prompt_memory(stub_llm).get("points", []) == []
    assert (await search(api, stranger, "Maya wedding Lisbon")).json() == {"results": []}


async def test_search_ranks_with_reasons_and_refuses_malformed_queries(api, db):
    login = await api.new_user()
    await seed_long_history(db, login.user_id)
    found = await search(api, login, "married Lisbon", limit=3)
    assert found.status_code == 200
    [first, *_] = found.json()["results"]
    assert first["content"] == WEDDING and first["kind"] == "fact" and first["session_id"] == f"{login.user_id}-s0"
    assert set(first["reasons"]) >= {"lexical", "entity", "strength"} and first["said_at"].startswith("2026-01-01")

    for params in (
        {"q": ""},
        {"q": "   "},
        {"q": "x" * 501},
        {"q": "a", "limit": 0},
        {"q": "a", "limit": 51},
        {"q": "a", "limit": "many"},
        {"q": "a", "sort": "new"},
    ):
        response = await api.http.get("/api/v1/memory/search", params=params, headers=login.headers)
        assert response.status_code == 422, params
        assert response.json()["errors"][0]["field"] in {"q", "limit", "sort"}
    assert (await api.http.get("/api/v1/memory/search", headers=login.headers)).status_code == 422
    assert (await api.http.get("/api/v1/memory/search", params={"q": "wedding"})).status_code == 401


async def test_a_name_the_graph_knows_by_another_spelling_brings_its_memories(api, db):
    """The entity graph's aliases: "NYC" finds what was said about New York."""
    from shared.store.mongo import ENTITIES

    login = await api.new_user()
    await db[SESSION_CONTEXTS].insert_many(
        [context(login.user_id, 0, ["We are moving to New York in the autumn"]), context(login.user_id, 1, SMALL_TALK)]
    )
    now = datetime.now(UTC)
    await db[ENTITIES].insert_one(
        {
            "user_id": login.user_id,
            "key": "new york",
            "keys": ["new york", "nyc"],
            "name": "New York",
            "kind": "place",
            "aliases": ["NYC"],
            "mentions": 1,
            "context_ids": [],
            "first_seen_at": now,
            "last_seen_at": now,
        }
    )
    [hit] = (await search(api, login, "NYC", limit=5)).json()["results"]
    assert hit["content"].startswith("We are moving to New York") and hit["reasons"]["entity"] == 1.0


# The embeddings provider: an HTTP API answering from its request ---------------------------


def embeddings_app(calls: list[dict[str, Any]], fail: list[bool]) -> Any:
    """Voyage AI's request and answer shape. A vector is the text's letter-trigram counts
    hashed into 64 buckets: deterministic, from the request alone."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    def vector(text: str) -> list[float]:
        buckets = [0.0] * 64
        t = f"  {text.lower()}  "
        for i in range(len(t) - 2):
            buckets[hash(t[i : i + 3]) % 64] += 1.0
        return buckets

    async def embed(request: Request) -> JSONResponse:
        body = await request.json()
        calls.append(body)
        if fail and fail[0]:
            return JSONResponse({"detail": "overloaded"}, status_code=500)
        return JSONResponse(
            {"data": [{"index": i, "embedding": vector(t)} for i, t in enumerate(body["input"])], "model": body["model"]}
        )

    return Starlette(routes=[Route("/v1/embeddings", embed, methods=["POST"])])


async def test_an_embeddings_provider_adds_meaning_and_its_failure_costs_only_that(db, settings, arq_pool):
    from worker.recall_cache import rebuild_recall_cache

    calls: list[dict[str, Any]] = []
    fail: list[bool] = [False]
    await db[SESSION_CONTEXTS].insert_many([context("u1", 0, [WEDDING]), context("u1", 1, SMALL_TALK)])
    async with serve_app(embeddings_app(calls, fail)) as base_url:
        embedder = HttpEmbedder(f"{base_url}/v1", "key", "stub-embed", 2.0)
        ctx = job_ctx(settings, db, arq_pool, embedder=embedder)
        outcome = await rebuild_recall_cache(ctx, "u1")
        assert outcome["written"] and outcome["embedded"] == 6
        assert calls[-1]["input_type"] == "document" and calls[-1]["model"] == "stub-embed"
        again = await rebuild_recall_cache(ctx, "u1")
        assert again["embedded"] == 0  # stored with the memory: not computed twice

        recalled = await rank_memories(
            db, arq_pool, "u1", Query.of("Maya wedding"), settings, embedder=embedder, query_text="Maya wedding"
        )
        assert recalled.from_index and calls[-1]["input_type"] == "query"
        assert recalled.ranked[0].doc.content == WEDDING and recalled.ranked[0].reasons.dense is not None

        fail[0] = True  # the provider fails: lexical ranking, no error
        recalled = await rank_memories(
            db, arq_pool, "u1", Query.of("Maya wedding"), settings, embedder=embedder, query_text="Maya wedding"
        )
        assert recalled.ranked[0].doc.content == WEDDING and recalled.ranked[0].reasons.dense is None
        await embedder.aclose()


@pytest.mark.parametrize("value", ["none", "http"])
def test_the_embeddings_provider_is_a_setting_and_none_by_default(value, redis_url):
    from shared.memory.embeddings import create_embedder
    from tests.support.settings import make_settings

    assert make_settings(redis_url).embeddings_provider == "none"
    embedder = create_embedder(make_settings(redis_url, embeddings_provider=value))
    assert (embedder is None) == (value == "none")


async def test_with_the_index_unreachable_the_reply_still_comes_with_memory_from_mongodb(api, db, stub_llm, monkeypatch):
    from redis.exceptions import ConnectionError as RedisConnectionError

    async def unreachable(*args: Any, **kwargs: Any) -> Any:
        raise RedisConnectionError("recall index unreachable (test)")

    monkeypatch.setattr(RedisRecallIndex, "probe", unreachable)
    login = await api.new_user()
    await seed_long_history(db, login.user_id)
    [frames] = await api.chat(login, "Which city is Maya's wedding in?")
    assert frames[-1]["type"] == "done"
    assert WEDDING in [p["content"] for p in prompt_memory(stub_llm)["points"]]


async def test_the_prompt_keeps_to_its_point_and_token_budgets(db, redis_url):
    from shared.memory.recall import recall
    from shared.models import ChatMessage
    from tests.support.settings import make_settings

    await seed_long_history(db, "u1")
    asked = [
        ChatMessage(id="m", role="user", content="weather dinner commute apartment meetings day", timestamp=datetime.now(UTC))
    ]
    assert len((await recall(db, "u1", make_settings(redis_url), asked)).points) == 20
    assert len((await recall(db, "u1", make_settings(redis_url, recall_points=5), asked)).points) == 5
    small = await recall(db, "u1", make_settings(redis_url, recall_token_budget=60), asked)
    assert 1 <= len(small.points) < 5 and small.points[0].content == ANCHOR
