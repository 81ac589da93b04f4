"""The memory engine (issue 15): entity resolution, the per-user graph, reflections,
communities and the recall cache, against real Redis, real HTTP and the stub LLM."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from bson import ObjectId

from shared.llm import LLMOutputError
from shared.llm.anthropic_provider import AnthropicProvider
from shared.llm.offline import OFFLINE_LABEL, OfflineProvider
from shared.memory.community_detection import detect, entity_graph
from shared.memory.entity_resolution import match_key
from shared.memory.ranking import build_index
from shared.memory.recall import recall
from shared.memory.strength import point_key
from shared.models import ExtractedEntity, ExtractedRelation, MemoryDoc
from shared.redis_structures import recall_index
from shared.redis_structures.recall_index import RedisRecallIndex
from shared.store import communities, entities, relations
from shared.store.messages import store_message
from shared.store.mongo import COMMUNITIES, ENTITIES, REFLECTIONS, SESSION_CONTEXTS
from tests.support.job_ctx import changed, job_ctx
from tests.support.settings import make_settings
from tests.support.stub_llm import Failure
from tests.support.worker import drain_queue
from worker.communities import detect_communities
from worker.decay import decay_memories
from worker.extract import extract_session_context
from worker.reflect import generate_reflection, generate_reflections

T0 = datetime(2026, 3, 1, tzinfo=UTC)
HALF_MARATHON_NAMES = ["half marathon", "the half-marathon", "Riverside half marathon race"]


def context_doc(user_id: str, n: int, kind: str = "goal", content: str | None = None) -> dict:
    content = content or f"{user_id} point {n}"
    created = T0 + timedelta(hours=n)
    return {
        "_id": ObjectId(),
        "user_id": user_id,
        "session_id": f"{user_id}-s{n}",
        "context_points": [{"kind": kind, "content": content, "importance": 0.8, "key": point_key(kind, content), "mentions": 1}],
        "covered": {"last_message_id": f"m{n}", "last_at": created, "message_count": 2},
        "strength": 1.0,
        "decayed_at": created,
        "expires_at": None,
        "created_at": created,
        "updated_at": created,
        "summary_id": None,
        "summarized_at": None,
    }


@pytest.fixture
def ctx(db, settings, arq_pool):
    return job_ctx(settings, db, arq_pool, llm=AnthropicProvider(settings))


def graph_answer(*names: str, relation: tuple[str, str] | None = None, kind: str = "event") -> dict:
    """A scripted extraction: one point, these entities, and optionally one relation."""
    answer = {
        "points": [{"kind": "goal", "content": f"Train for {names[0]}", "importance": 0.9}],
        "entities": [{"name": n, "kind": kind} for n in names],
        "relations": [],
    }
    if relation:
        answer["relations"] = [{"source": relation[0], "target": relation[1], "relation": "trains for"}]
    return answer


# Entity resolution ---------------------------------------------------------------------


def test_names_that_mean_one_thing_share_a_key_and_marathon_stays_apart():
    assert {match_key(n) for n in HALF_MARATHON_NAMES} == {"half marathon"}
    assert match_key("marathon") == "marathon"
    # Sentence case does not make "Half" a proper-name qualifier: one word would remain.
    assert match_key("Half marathon") == "half marathon"
    assert match_key("Boston marathon") == "boston marathon"


async def test_three_spellings_merge_into_one_entity_with_two_aliases(db):
    for n, name in enumerate([*HALF_MARATHON_NAMES, "marathon", "half marathons"]):
        named = [ExtractedEntity(name=name, kind="event")]
        await entities.record_entities(db, "u1", named, f"ctx{n}", T0 + timedelta(hours=n), threshold=92)
    docs = await entities.user_entities(db, "u1")
    by_name = {d["name"]: d for d in docs}
    assert sorted(by_name) == ["half marathon", "marathon"]
    half = by_name["half marathon"]
    # The plural is a fuzzy match (rapidfuzz ratio 96): a third alias, a fourth mention.
    assert half["aliases"] == ["the half-marathon", "Riverside half marathon race", "half marathons"]
    assert half["mentions"] == 4 and half["context_ids"] == ["ctx0", "ctx1", "ctx2", "ctx4"]
    assert by_name["marathon"]["mentions"] == 1 and by_name["marathon"]["aliases"] == []


async def test_the_three_names_alone_give_exactly_two_aliases(db):
    for n, name in enumerate(HALF_MARATHON_NAMES):
        await entities.record_entities(db, "u1", [ExtractedEntity(name=name, kind="event")], f"c{n}", T0, threshold=92)
    [entity] = await entities.user_entities(db, "u1")
    assert (entity["name"], entity["aliases"], entity["mentions"]) == ("half marathon", HALF_MARATHON_NAMES[1:], 3)


async def test_one_extraction_naming_one_thing_twice_counts_one_mention(db):
    named = [ExtractedEntity(name="half marathon", kind="event"), ExtractedEntity(name="The half-marathon", kind="goal")]
    resolved = await entities.record_entities(db, "u1", named, "c1", T0, threshold=92)
    assert len(set(resolved.values())) == 1
    [entity] = await entities.user_entities(db, "u1")
    assert entity["mentions"] == 1 and entity["aliases"] == ["The half-marathon"]


async def test_relations_need_two_known_distinct_ends(db):
    named = [ExtractedEntity(name="Anna", kind="person"), ExtractedEntity(name="half marathon", kind="event")]
    resolved = await entities.record_entities(db, "u1", named, "c1", T0, threshold=92)
    stated = [
        ExtractedRelation(source="Anna", target="the half-marathon", relation="Trains  for"),  # end by its key
        ExtractedRelation(source="Anna", target="Anna", relation="is"),  # self-loop
        ExtractedRelation(source="Anna", target="Bob", relation="knows"),  # Bob is not an entity
    ]
    assert await relations.record_relations(db, "u1", stated, resolved, T0) == 1
    [edge] = await relations.user_relations(db, "u1")
    assert (edge["source_id"], edge["target_id"], edge["relation"], edge["weight"]) == (
        resolved["Anna"],
        resolved["half marathon"],
        "trains for",
        1,
    )


async def test_forgetting_a_context_removes_what_only_it_named(db):
    a = await entities.record_entities(
        db, "u1", [ExtractedEntity(name="Anna", kind="person"), ExtractedEntity(name="gym", kind="place")], "c1", T0, 92
    )
    await entities.record_entities(db, "u1", [ExtractedEntity(name="gym", kind="place")], "c2", T0, 92)
    await relations.record_relations(db, "u1", [ExtractedRelation(source="Anna", target="gym", relation="meets at")], a, T0)
    removed = await entities.forget_context(db, "u1", "c1")
    assert removed == [a["Anna"]]
    assert await relations.forget_entities(db, "u1", removed) == 1
    [gym] = await entities.user_entities(db, "u1")
    assert (gym["name"], gym["mentions"], gym["context_ids"]) == ("gym", 1, ["c2"])


# The graph through the product, per user -------------------------------------------------


async def test_one_users_graph_is_never_visible_to_another(api, settings, mongo_client, stub_llm, db):
    alice, bob = await api.new_user(), await api.new_user()
    stub_llm.raw_tool_input = graph_answer("half marathon", "Anna", relation=("Anna", "half marathon"))
    await api.chat(alice, "I train with Anna for the half marathon")
    await api.logout(alice)
    await drain_queue(settings, mongo_client)
    # Bob names the same race: it must become his own entity, not an alias of Alice's.
    stub_llm.raw_tool_input = graph_answer("the half-marathon")
    await api.chat(bob, "I signed up for the half-marathon")
    await api.logout(bob)
    await drain_queue(settings, mongo_client)

    alice_login = await api.login(alice.email, alice.password, alice.user_id)
    bob_login = await api.login(bob.email, bob.password, bob.user_id)
    alice_graph = (await api.http.get("/api/v1/memory/graph", headers=alice_login.headers)).json()
    bob_graph = (await api.http.get("/api/v1/memory/graph", headers=bob_login.headers)).json()
    assert sorted(n["name"] for n in alice_graph["nodes"]) == ["Anna", "half marathon"]
    assert [(n["name"], n["aliases"], n["mentions"]) for n in bob_graph["nodes"]] == [("the half-marathon", [], 1)]
    assert len(alice_graph["edges"]) == 1 and bob_graph["edges"] == [] and bob_graph["communities"] == []
    alice_ids = {n["id"] for n in alice_graph["nodes"]}
    assert not alice_ids & {n["id"] for n in bob_graph["nodes"]}
    assert await db[ENTITIES].count_documents({"user_id": bob.user_id, "aliases": {"$ne": []}}) == 0
    assert (await api.http.get("/api/v1/memory/graph")).status_code == 401


# Reflections -----------------------------------------------------------------------------


async def test_a_reflection_cites_only_the_users_own_contexts(ctx, db, stub_llm):
    mine = [context_doc("u1", n) for n in range(4)]
    theirs = [context_doc("u2", n) for n in range(4)]
    await db[SESSION_CONTEXTS].insert_many(mine + theirs)
    outcome = await generate_reflection(ctx, "u1")
    assert outcome["reason"] == "reflected" and outcome["insights"] >= 1

    [request] = [r for r in stub_llm.requests if r["tool_choice"]["name"] == "record_reflection"]
    schema = request["tools"][0]["input_schema"]
    allowed = schema["properties"]["insights"]["items"]["properties"]["context_ids"]["items"]["enum"]
    assert sorted(allowed) == sorted(str(d["_id"]) for d in mine)  # the model is offered only hers
    reflection = await db[REFLECTIONS].find_one({"user_id": "u1"})
    cited = {cid for insight in reflection["insights"] for cid in insight["context_ids"]}
    assert cited and cited <= set(allowed)
    # Everything it read is marked; another user's contexts are untouched.
    assert await db[SESSION_CONTEXTS].count_documents({"user_id": "u1", "reflected_at": None}) == 0
    assert await db[SESSION_CONTEXTS].count_documents({"user_id": "u2", "reflected_at": None}) == 4


async def test_fabricated_context_ids_are_refused(ctx, db, stub_llm):
    mine = [context_doc("u1", n) for n in range(3)]
    await db[SESSION_CONTEXTS].insert_many([*mine, context_doc("u2", 0)])
    other_users = str((await db[SESSION_CONTEXTS].find_one({"user_id": "u2"}))["_id"])
    fabricated = {"insights": [{"kind": "pattern", "text": "You run a lot", "context_ids": [str(ObjectId())]}]}
    foreign = {"insights": [{"kind": "pattern", "text": "You run a lot", "context_ids": [other_users]}]}

    # Twice wrong (the answer and the repair): a permanent output error, nothing stored.
    stub_llm.failures = [Failure(status=200, tool_input=fabricated), Failure(status=200, tool_input=foreign)]
    with pytest.raises(LLMOutputError, match="record_reflection"):
        await generate_reflection(ctx, "u1")
    assert await db[REFLECTIONS].count_documents({}) == 0
    assert await db[SESSION_CONTEXTS].count_documents({"reflected_at": {"$ne": None}}) == 0

    # Wrong once: the repair request names the problem, the second answer is stored.
    stub_llm.failures = [Failure(status=200, tool_input=fabricated)]
    assert (await generate_reflection(ctx, "u1"))["reason"] == "reflected"
    repair = stub_llm.requests[-1]["messages"][-1]["content"][0]
    assert repair["is_error"] and "context_ids" in repair["content"]
    reflection = await db[REFLECTIONS].find_one({})
    assert {c for i in reflection["insights"] for c in i["context_ids"]} <= {str(d["_id"]) for d in mine}


async def test_the_hourly_cron_reflects_for_users_with_enough_new_contexts(settings, mongo_client, db, stub_llm, arq_pool):
    await db[SESSION_CONTEXTS].insert_many(
        [context_doc("due", n) for n in range(3)] + [context_doc("early", n) for n in range(2)]
    )
    ctx = job_ctx(settings, db, arq_pool)  # no LLM: these calls must not reach one
    assert await generate_reflections(ctx) == {"enqueued": 1}
    await drain_queue(settings, mongo_client)
    assert [r["user_id"] for r in await db[REFLECTIONS].find({}).to_list(None)] == ["due"]
    # Read contexts no longer count: the next run has nothing to do until three new ones.
    assert await generate_reflections(ctx) == {"enqueued": 0}
    assert (await generate_reflection(ctx, "early"))["reason"] == "too_few_new_contexts"
    assert (await generate_reflection(ctx, "nobody", True))["reason"] == "no_contexts"


async def test_post_reflections_queues_one_that_memory_shows_and_the_coach_uses(api, settings, mongo_client, stub_llm, arq_pool):
    login = await api.new_user()
    await api.chat(login, "I want to run a half marathon")
    await api.logout(login)
    await drain_queue(settings, mongo_client)
    login = await api.login(login.email, login.password, login.user_id)

    first = await api.http.post("/api/v1/memory/reflections", headers=login.headers)
    again = await api.http.post("/api/v1/memory/reflections", headers=login.headers)
    assert first.status_code == 202 and again.json() == first.json()  # nothing changed: one job
    job_id = first.json()["job_id"]
    await drain_queue(settings, mongo_client)
    from arq.jobs import Job

    result = await Job(job_id, arq_pool, _queue_name=settings.queue_name).result(timeout=5)
    assert result["reason"] == "reflected"
    # The job id handed out is the caller's to follow, and nobody else's.
    status = await api.http.get(f"/api/v1/jobs/{job_id}", headers=login.headers)
    assert status.status_code == 200 and status.json()["status"] == "complete"
    stranger = await api.new_user()
    assert (await api.http.get(f"/api/v1/jobs/{job_id}", headers=stranger.headers)).status_code == 404

    memory = await api.memory(login)
    [reflection] = memory["reflections"]
    assert reflection["id"] == result["reflection_id"] and reflection["strength"] == pytest.approx(1.0, abs=1e-3)
    assert reflection["insights"][0]["context_ids"] == [memory["contexts"][0]["id"]]

    stub_llm.requests.clear()
    await api.chat(login, "what next?")
    system = stub_llm.chat_requests[-1]["system"]
    assert reflection["insights"][0]["text"] in system and '"reflections"' in system
    assert (await api.http.post("/api/v1/memory/reflections")).status_code == 401


async def test_reflections_decay_like_the_rest(ctx, db):
    await db[REFLECTIONS].insert_one(
        {
            "user_id": "u",
            "insights": [],
            "strength": 1.0,
            "decayed_at": T0,
            "expires_at": T0 + 5 * timedelta(days=1),
            "created_at": T0,
        }
    )
    await decay_memories(ctx, now=T0 + timedelta(days=2))
    assert (await db[REFLECTIONS].find_one({}))["strength"] == pytest.approx(0.95**2)
    await decay_memories(ctx, now=T0 + timedelta(days=6))
    assert await db[REFLECTIONS].count_documents({}) == 0


# Communities -----------------------------------------------------------------------------


def fixed_graph():
    """Two tight triangles (running; work) joined by one weak edge."""
    names = ["half marathon", "Anna", "morning runs", "promotion", "manager", "presentation"]
    nodes = [{"_id": f"e{i}", "name": n, "mentions": 6 - i} for i, n in enumerate(names)]
    pairs = [(0, 1, 3), (1, 2, 3), (0, 2, 3), (3, 4, 3), (4, 5, 3), (3, 5, 3), (2, 3, 1)]
    edges = [{"source_id": f"e{a}", "target_id": f"e{b}", "weight": w} for a, b, w in pairs]
    return nodes, edges


def test_louvain_on_a_fixed_graph_gives_the_expected_groups_twice():
    nodes, edges = fixed_graph()
    first = detect(entity_graph(nodes, edges))
    second = detect(entity_graph(list(reversed(nodes)), list(reversed(edges))))
    assert first == second
    assert [g["entity_ids"] for g in first] == [["e0", "e1", "e2"], ["e3", "e4", "e5"]]
    assert [g["label"] for g in first] == ["half marathon & Anna", "promotion & manager"]
    assert detect(entity_graph(nodes, [])) == []  # no relation, no community


async def test_the_nightly_job_groups_changed_graphs_only_and_keeps_a_change_made_meanwhile(settings, db, arq_pool):
    for user_id in ("u1", "u2"):
        named = [ExtractedEntity(name=n, kind="event") for n in ("Anna", "half marathon", "gym")]
        resolved = await entities.record_entities(db, user_id, named, "c1", T0, 92)
        stated = [
            ExtractedRelation(source="Anna", target="half marathon", relation="trains for"),
            ExtractedRelation(source="Anna", target="gym", relation="goes to"),
        ]
        await relations.record_relations(db, user_id, stated, resolved, T0)
    await communities.mark_changed(db, "u1", T0)
    result = await detect_communities(job_ctx(settings, db, arq_pool), now=T0 + timedelta(hours=1))
    assert (result["users"], result["communities"]) == (1, 1)
    [group] = await communities.user_communities(db, "u1")
    assert group["label"].startswith("Anna") and len(group["entity_ids"]) == 3
    assert await communities.user_communities(db, "u2") == []  # never marked changed: not computed
    assert await db[COMMUNITIES].count_documents({"stale": True}) == 0

    # A change that lands while groups are computed keeps the user stale for the next run.
    await communities.mark_changed(db, "u1", T0 + timedelta(hours=2))
    assert await communities.store_groups(db, "u1", [], T0, T0 + timedelta(hours=3)) is False
    assert await communities.stale_users(db, 10) == [("u1", T0 + timedelta(hours=2))]


# The recall index ------------------------------------------------------------------------


def marker_index(content: str) -> object:
    now = datetime.now(UTC)
    doc = MemoryDoc(id="p:x:marker", source="point", kind="goal", content=content, importance=1.0, strength=1.0, decayed_at=now)
    return build_index([doc], [], None, now, 0.95)


async def test_an_index_larger_than_one_scripts_arguments_is_written_whole(arq_pool):
    """The write is one script call; Lua unpacks its HSET arguments in chunks (recall_index.py),
    so 3,000 memories (some 9,000 fields) arrive whole, the last of them too."""
    now = datetime.now(UTC)
    docs = [
        MemoryDoc(
            id=f"m:{n}",
            source="point",
            kind="fact",
            content=f"note {n} about topic{n}",
            importance=0.5,
            strength=1.0,
            decayed_at=now,
        )
        for n in range(3000)
    ]
    built = build_index(docs, [], None, now, 0.95)
    assert await recall_index.write(arq_pool, "big", built, await recall_index.version(arq_pool, "big"), 60)
    index = RedisRecallIndex(arq_pool, "big")
    probe = await index.probe(["topic2999", "note"], [])
    assert probe is not None and probe.n_docs == 3000 and len(probe.postings["note"]) == 3000
    [last] = (await index.documents(list(probe.postings["topic2999"]))).values()
    assert last.content == "note 2999 about topic2999"
    assert 0 < await arq_pool.ttl(recall_index.index_key("big")) <= 60


async def test_after_an_extraction_the_index_holds_the_new_points_before_the_next_chat(
    api, settings, mongo_client, stub_llm, arq_pool
):
    login = await api.new_user()
    await api.chat(login, "I want to swim a mile")
    # No index yet: the chat ranked from the database and asked for a rebuild.
    assert "rebuild_recall_cache" in [j.function for j in await arq_pool.queued_jobs(queue_name=settings.queue_name)]
    await api.logout(login)
    await drain_queue(settings, mongo_client)  # the extraction, then the rebuild it enqueued

    index = RedisRecallIndex(arq_pool, login.user_id)
    probe = await index.probe(["swim"], [])
    assert probe is not None and probe.n_docs == 1
    [doc] = (await index.documents(list(probe.postings["swim"]))).values()
    assert doc.content == "I want to swim a mile"

    # The chat reads that index (and not the database): a marker put there reaches the prompt.
    seen = await recall_index.version(arq_pool, login.user_id)
    assert await recall_index.write(arq_pool, login.user_id, marker_index("marker from the index"), seen, 60)
    login = await api.login(login.email, login.password, login.user_id)
    await api.chat(login, "hello")
    assert "marker from the index" in stub_llm.chat_requests[-1]["system"]

    # No index: the database answers.
    await recall_index.drop(arq_pool, login.user_id)
    await api.chat(login, "hello again")
    system = stub_llm.chat_requests[-1]["system"]
    assert "I want to swim a mile" in system and "marker from the index" not in system


async def test_a_change_drops_the_old_index_at_once_and_a_rebuild_from_before_writes_nothing(
    ctx, db, arq_pool, stub_llm, settings
):
    seen = await recall_index.version(arq_pool, "u1")
    assert await recall_index.write(arq_pool, "u1", marker_index("old"), seen, 60)
    await store_message(db, "u1", "s1", "user", "I want to learn Spanish")
    await store_message(db, "u1", "s1", "assistant", "Good.")
    await extract_session_context(ctx, "u1", "s1")
    # The extraction dropped the old index and wrote the new one itself: no job of its own.
    index = RedisRecallIndex(arq_pool, "u1")
    probe = await index.probe(["spanish"], [])
    assert probe is not None and probe.n_docs == 1
    assert [d.content for d in (await index.documents(list(probe.postings["spanish"]))).values()] == ["I want to learn Spanish"]
    assert not await arq_pool.queued_jobs(queue_name=settings.queue_name)
    # A rebuild that read the database before that change writes nothing.
    assert not await recall_index.write(arq_pool, "u1", marker_index("stale"), seen, 60)
    assert (await index.probe([], [])).n_docs == 1

    seen = await recall_index.version(arq_pool, "u2")
    assert await recall_index.write(arq_pool, "u2", marker_index("old"), seen, 60)
    result = await decay_memories(ctx, now=datetime.now(UTC))
    assert result["recall_caches_rebuilt"] == 2  # u1's, written by its extraction, and u2's
    assert await RedisRecallIndex(arq_pool, "u2").probe([], []) is None


async def test_an_extraction_that_cannot_refresh_the_index_leaves_it_to_a_rebuild_job(ctx, db, arq_pool, stub_llm, settings):
    """The embeddings provider fails while the extraction refreshes the index: the
    extraction's memory stands, the old index is gone, and a rebuild job is queued."""

    class FailingEmbedder:
        model = "failing"

        async def embed(self, texts: list[str], purpose: str) -> list[list[float]]:
            raise RuntimeError("embeddings provider down")

    seen = await recall_index.version(arq_pool, "u1")
    assert await recall_index.write(arq_pool, "u1", marker_index("old"), seen, 60)
    await store_message(db, "u1", "s1", "user", "I want to learn Spanish")
    await store_message(db, "u1", "s1", "assistant", "Good.")
    outcome = await extract_session_context(changed(ctx, embedder=FailingEmbedder()), "u1", "s1")
    assert outcome["reason"] == "extracted"
    assert await RedisRecallIndex(arq_pool, "u1").probe([], []) is None  # never the old one
    queued = await arq_pool.queued_jobs(queue_name=settings.queue_name)
    assert [j.function for j in queued] == ["rebuild_recall_cache"] and queued[0].args == ("u1",)


async def test_redis_down_means_the_database_and_the_outbox_not_an_error(db, settings):
    import redis.asyncio as aioredis
    from arq.connections import ArqRedis

    from allinone.redis_process import free_port
    from shared.memory.recall_cache import drop_and_rebuild
    from shared.models import ChatMessage
    from shared.store.mongo import OUTBOX

    await db[SESSION_CONTEXTS].insert_one(context_doc("u1", 1, content="from the database"))
    gone = ArqRedis(
        aioredis.ConnectionPool.from_url(f"redis://127.0.0.1:{free_port()}/0", socket_connect_timeout=0.5, socket_timeout=0.5)
    )
    asked = [ChatMessage(id="m", role="user", content="what do you have from the database?", timestamp=datetime.now(UTC))]
    digest = await recall(db, "u1", settings, asked, cache=gone)
    assert [p.content for p in digest.points] == ["from the database"]
    # A job that changed memory while Redis is away does not fail: the rebuild waits in the outbox.
    await drop_and_rebuild(db, gone, 0.5, "u1")
    [entry] = await db[OUTBOX].find({}).to_list(None)
    assert entry["function"] == "rebuild_recall_cache" and entry["args"] == ["u1"]
    await gone.aclose()


# The offline provider, end to end --------------------------------------------------------


async def test_offline_provider_builds_the_graph_reflects_and_groups(redis_url, mongo_client, arq_pool):
    settings = make_settings(redis_url, llm_provider="offline")
    db = mongo_client[settings.mongodb_db_name]
    ctx = job_ctx(settings, db, arq_pool, llm=OfflineProvider())
    lines = [
        "I want to run the Riverside half marathon race. I train with Anna every morning.",
        "I will run the half-marathon in April. My coach says rest matters.",
        "I decided to train with Anna and my coach at the Riverside Park.",
    ]
    for n, line in enumerate(lines):
        await store_message(db, "u1", f"s{n}", "user", line)
        await store_message(db, "u1", f"s{n}", "assistant", "ok")
        assert (await extract_session_context(ctx, "u1", f"s{n}"))["reason"] == "extracted"

    docs = await entities.user_entities(db, "u1")
    by_name = {d["name"]: d for d in docs}
    assert by_name["Riverside half marathon race"]["aliases"] == ["half-marathon"]  # resolved across sessions
    assert by_name["Anna"]["mentions"] == 2 and by_name["coach"]["mentions"] == 2

    outcome = await generate_reflection(ctx, "u1")
    assert outcome["reason"] == "reflected"
    reflection = await db[REFLECTIONS].find_one({})
    kinds = [i["kind"] for i in reflection["insights"]]
    assert kinds == ["pattern", "progress", "next_step"] and all(
        i["text"].startswith(OFFLINE_LABEL) for i in reflection["insights"]
    )
    own = {str(d["_id"]) for d in await db[SESSION_CONTEXTS].find({}).to_list(None)}
    assert {c for i in reflection["insights"] for c in i["context_ids"]} <= own

    assert (await detect_communities(ctx))["communities"] >= 1
    groups = await communities.user_communities(db, "u1")
    assert all(" & " in g["label"] or len(g["entity_ids"]) >= 2 for g in groups)
    reply = "".join([t async for t in OfflineProvider().stream_reply([], await recall(db, "u1", settings, cache=arq_pool))])
    assert reply.startswith(OFFLINE_LABEL)


def test_the_extraction_schema_keeps_the_stub_sane():
    """The stub answers from the schema: its bounds cap what one session adds to the graph."""
    from shared.llm.anthropic_provider import EXTRACTION_TOOL

    props = EXTRACTION_TOOL["input_schema"]["properties"]
    assert props["entities"]["maxItems"] == 30 and props["relations"]["maxItems"] == 30
    assert props["entities"]["items"]["properties"]["aliases"]["maxItems"] == 5  # then checked (shared/memory/llm_aliases.py)
    assert EXTRACTION_TOOL["input_schema"]["required"] == ["points"]
    assert "$ref" not in json.dumps(EXTRACTION_TOOL)
