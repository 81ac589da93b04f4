"""Memories as living facts (issue 21): one record per fact, consolidated at extraction
(add, update, supersede, none), dated, editable by their owner, with history; and the
migration of memory written by the earlier code. The stub LLM decides each point's action
by a rule each test gives it, from the <known_memories> the request carries."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

from shared.llm.anthropic_provider import AnthropicProvider
from shared.llm.offline import OfflineProvider
from shared.memory.migrate import migrate_contexts
from shared.store.messages import store_message
from shared.store.mongo import CHAT_MESSAGES, MEMORIES, SESSION_CONTEXTS
from tests.support.job_ctx import job_ctx
from tests.test_recall import context, prompt_memory
from worker.extract import extract_session_context


def shares_word(word: str, action: str) -> Any:
    """The rule given to the stub: a point naming `word` does `action` to the known memory naming it."""

    def rule(point: dict[str, Any], known: list[dict[str, Any]]) -> tuple[str, str | None]:
        target = next((k for k in known if word in k["content"].lower()), None)
        if target and word in point["content"].lower():
            return action, target["id"]
        return "add", None

    return rule


async def say(db: Any, settings: Any, arq_pool: Any, user_id: str, session_id: str, text: str, llm: Any = None) -> dict[str, Any]:
    await store_message(db, user_id, session_id, "user", text)
    await store_message(db, user_id, session_id, "assistant", "Noted.")
    provider = llm or AnthropicProvider(settings)
    try:
        return await extract_session_context(job_ctx(settings, db, arq_pool, llm=provider), user_id, session_id)
    finally:
        if llm is None:
            await provider.aclose()


async def active(db: Any, user_id: str) -> list[str]:
    return [m["content"] for m in await db[MEMORIES].find({"user_id": user_id, "status": "active"}).to_list(None)]


async def test_an_update_replaces_the_old_fact_in_the_prompt_and_history_keeps_both(api, db, settings, arq_pool, stub_llm):
    login = await api.new_user()
    await say(db, settings, arq_pool, login.user_id, "s1", "I train every morning at 6")
    stub_llm.consolidate = shares_word("train", "update")
    outcome = await say(db, settings, arq_pool, login.user_id, "s2", "I prefer to train in the evening now")
    assert outcome["reason"] == "extracted"
    assert await active(db, login.user_id) == ["I prefer to train in the evening now"]

    await api.chat(login, "When do I like to train?")
    contents = [p["content"] for p in prompt_memory(stub_llm)["points"]]
    assert "I prefer to train in the evening now" in contents and "I train every morning at 6" not in contents

    [memory] = await db[MEMORIES].find({"user_id": login.user_id}).to_list(None)
    history = (await api.http.get(f"/api/v1/memory/points/{memory['_id']}/history", headers=login.headers)).json()
    assert [(v["content"], v["changed_by"]) for v in history["versions"]] == [
        ("I train every morning at 6", "extraction"),
        ("I prefer to train in the evening now", "consolidation"),
    ]
    assert [v["session_id"] for v in history["versions"]] == ["s1", "s2"]


async def test_a_supersede_retires_the_old_fact_which_stays_in_its_history(api, db, settings, arq_pool, stub_llm):
    login = await api.new_user()
    await say(db, settings, arq_pool, login.user_id, "s1", "I work at the bank downtown")
    stub_llm.consolidate = shares_word("bank", "supersede")
    await say(db, settings, arq_pool, login.user_id, "s2", "I quit my job at the bank last Friday")
    old = await db[MEMORIES].find_one({"content": "I work at the bank downtown"})
    new = await db[MEMORIES].find_one({"content": "I quit my job at the bank last Friday"})
    assert old["status"] == "superseded" and old["superseded_by"] == str(new["_id"]) and new["status"] == "active"
    assert new["valid_from"] is not None  # "last Friday", resolved against the session's time

    await api.chat(login, "Where do I work, at the bank?")
    points = prompt_memory(stub_llm)["points"]
    assert [p["content"] for p in points if "bank" in p["content"]] == ["I quit my job at the bank last Friday"]
    assert points[0]["valid_from"] and points[0]["said_at"]  # the coach sees when
    found = (await api.http.get("/api/v1/memory/search", params={"q": "bank"}, headers=login.headers)).json()["results"]
    assert [r["content"] for r in found] == ["I quit my job at the bank last Friday"]
    superseded = (await api.http.get("/api/v1/memory/points", params={"status": "superseded"}, headers=login.headers)).json()
    assert [m["content"] for m in superseded["memories"]] == ["I work at the bank downtown"]


async def test_a_repeat_reinforces_instead_of_adding(db, settings, arq_pool, stub_llm):
    await say(db, settings, arq_pool, "u1", "s1", "I want to run a marathon")
    await say(db, settings, arq_pool, "u1", "s2", "I want to run a marathon")  # same words: none, whatever the model says
    [memory] = await db[MEMORIES].find({"user_id": "u1"}).to_list(None)
    assert memory["mentions"] == 2 and [s["session_id"] for s in memory["sources"]] == ["s1", "s2"]


async def test_the_users_own_edit_is_not_undone_by_an_extraction_of_older_messages(api, db, settings, arq_pool, stub_llm):
    """The rule: a memory the user changed after a point was said (the newest user message
    that says it) is not updated or superseded by that point; later words still update it."""
    login = await api.new_user()
    await say(db, settings, arq_pool, login.user_id, "s1", "I train every morning at 6")
    # Said before the edit, extracted after it (a slow or re-run extraction).
    await store_message(db, login.user_id, "s2", "user", "I train at 6 in the morning, sharp")
    await store_message(db, login.user_id, "s2", "assistant", "Noted.")
    await db[CHAT_MESSAGES].update_many({"session_id": "s2"}, {"$set": {"timestamp": datetime.now(UTC) - timedelta(minutes=5)}})
    [memory] = await db[MEMORIES].find({"user_id": login.user_id}).to_list(None)
    path = f"/api/v1/memory/points/{memory['_id']}"
    edited = await api.http.patch(path, json={"content": "I train at 7 now, not 6"}, headers=login.headers)
    assert edited.status_code == 200 and edited.json()["content"] == "I train at 7 now, not 6"

    stub_llm.consolidate = shares_word("train", "update")
    provider = AnthropicProvider(settings)
    await extract_session_context(job_ctx(settings, db, arq_pool, llm=provider), login.user_id, "s2")
    assert await active(db, login.user_id) == ["I train at 7 now, not 6"]

    await say(db, settings, arq_pool, login.user_id, "s3", "I train at 8 these days", provider)  # said after the edit
    assert await active(db, login.user_id) == ["I train at 8 these days"]
    await provider.aclose()


async def test_a_session_that_goes_on_after_the_edit_does_not_undo_it(api, db, settings, arq_pool, stub_llm):
    """Found from outside: the user corrected a memory mid-session, then said something else
    ("thanks"); the logout's extraction read the older sentence as newer than the edit,
    because the session's newest message was."""
    login = await api.new_user()
    await say(db, settings, arq_pool, login.user_id, "s1", "I train every morning at 6")
    await store_message(db, login.user_id, "s2", "user", "I train every day at noon")
    await store_message(db, login.user_id, "s2", "assistant", "Noted.")
    await db[CHAT_MESSAGES].update_many({"session_id": "s2"}, {"$set": {"timestamp": datetime.now(UTC) - timedelta(minutes=5)}})
    [memory] = await db[MEMORIES].find({"user_id": login.user_id}).to_list(None)
    path = f"/api/v1/memory/points/{memory['_id']}"
    edited = await api.http.patch(path, json={"content": "I train every evening at 7"}, headers=login.headers)
    assert edited.status_code == 200
    await store_message(db, login.user_id, "s2", "user", "Hello there, thanks")  # after the edit, about nothing
    await store_message(db, login.user_id, "s2", "assistant", "Any time.")

    stub_llm.consolidate = shares_word("train", "update")
    provider = AnthropicProvider(settings)
    try:
        await extract_session_context(job_ctx(settings, db, arq_pool, llm=provider), login.user_id, "s2")
    finally:
        await provider.aclose()
    now_held = await active(db, login.user_id)  # the stub makes a point of every user line
    assert "I train every evening at 7" in now_held and "I train every day at noon" not in now_held
    assert (await db[MEMORIES].find_one({"_id": memory["_id"]}))["content"] == "I train every evening at 7"


async def test_a_users_own_memory_gets_the_date_its_words_give_and_loses_one_they_no_longer_give(api):
    """Found from outside: a POSTed "my race is next week" had no date, and a PATCH kept the
    date of the words it replaced."""
    login = await api.new_user()
    today = datetime.now(UTC).date()
    created = await api.http.post(
        "/api/v1/memory/points", json={"kind": "fact", "content": "My race is next week"}, headers=login.headers
    )
    path = f"/api/v1/memory/points/{created.json()['id']}"
    [memory] = (await api.http.get("/api/v1/memory/points", headers=login.headers)).json()["memories"]
    assert memory["valid_from"] == (today + timedelta(weeks=1)).isoformat()
    changed = await api.http.patch(path, json={"content": "The wedding is on 2027-01-16"}, headers=login.headers)
    assert changed.json()["valid_from"] == "2027-01-16"
    changed = await api.http.patch(path, json={"content": "I like my sister's cooking"}, headers=login.headers)
    assert changed.json()["valid_from"] is None  # no date in these words: none kept from the old ones
    changed = await api.http.patch(path, json={"importance": 0.9}, headers=login.headers)
    assert changed.json()["valid_from"] is None and changed.json()["importance"] == 0.9


async def test_deleting_a_memory_pulls_every_wording_it_had_from_the_sessions(api, db, settings, arq_pool, stub_llm):
    """Found from outside: a memory updated by a later session, then deleted, still showed
    its first wording in the first session's context (GET /api/v1/memory, the export)."""
    login = await api.new_user()
    await say(db, settings, arq_pool, login.user_id, "s1", "I live in NYC")
    stub_llm.consolidate = shares_word("live", "update")
    await say(db, settings, arq_pool, login.user_id, "s2", "I live in New York now")
    [memory] = await db[MEMORIES].find({"user_id": login.user_id}).to_list(None)
    assert memory["content"] == "I live in New York now" and len(memory["versions"]) == 2
    deleted = await api.http.delete(f"/api/v1/memory/points/{memory['_id']}", headers=login.headers)
    assert deleted.status_code == 204
    shown = (await api.http.get("/api/v1/memory", headers=login.headers)).json()
    words = [p["content"] for c in shown["contexts"] for p in c["points"]]
    assert "I live in NYC" not in words and "I live in New York now" not in words


async def test_the_owner_adds_edits_retracts_and_pages_through_memories(api, db, stub_llm):
    owner, stranger = await api.new_user(), await api.new_user()
    created = await api.http.post(
        "/api/v1/memory/points", json={"kind": "fact", "content": "My race is on 12 April"}, headers=owner.headers
    )
    assert created.status_code == 201
    memory_id = created.json()["id"]
    path = f"/api/v1/memory/points/{memory_id}"

    for body in ({}, {"content": ""}, {"kind": "wish"}, {"importance": 2}, {"content": "x", "extra": 1}):
        assert (await api.http.patch(path, json=body, headers=owner.headers)).status_code == 422, body
    for body in ({"kind": "fact"}, {"kind": "fact", "content": "   "}, {"kind": "fact", "content": "x" * 1001}):
        assert (await api.http.post("/api/v1/memory/points", json=body, headers=owner.headers)).status_code == 422, body
    for call in (
        api.http.patch(path, json={"content": "mine now"}, headers=stranger.headers),
        api.http.delete(path, headers=stranger.headers),
        api.http.get(f"{path}/history", headers=stranger.headers),
    ):
        assert (await call).status_code == 404
    assert (await api.http.get("/api/v1/memory/points/nonsense/history", headers=owner.headers)).status_code == 404

    assert (await api.http.patch(path, json={"importance": 0.9}, headers=owner.headers)).json()["importance"] == 0.9
    await api.chat(owner, "When is my race?")
    assert "My race is on 12 April" in [p["content"] for p in prompt_memory(stub_llm)["points"]]

    assert (await api.http.delete(path, headers=owner.headers)).status_code == 204
    assert (await api.http.patch(path, json={"content": "back"}, headers=owner.headers)).status_code == 409
    await api.chat(owner, "When is my race?")
    assert "My race is on 12 April" not in [p["content"] for p in prompt_memory(stub_llm).get("points", [])]
    history = (await api.http.get(f"{path}/history", headers=owner.headers)).json()
    assert history["status"] == "retracted" and [v["status"] for v in history["versions"]] == ["active", "active", "retracted"]

    for n in range(5):
        await api.http.post("/api/v1/memory/points", json={"kind": "goal", "content": f"goal {n}"}, headers=owner.headers)
    first = (await api.http.get("/api/v1/memory/points", params={"limit": 3}, headers=owner.headers)).json()
    second = (
        await api.http.get("/api/v1/memory/points", params={"limit": 3, "cursor": first["next_cursor"]}, headers=owner.headers)
    ).json()
    assert [m["content"] for m in first["memories"] + second["memories"]] == [f"goal {n}" for n in range(4, -1, -1)]
    assert second["next_cursor"] is None
    for params in ({"status": "gone"}, {"limit": 0}, {"cursor": "zzz"}):
        assert (await api.http.get("/api/v1/memory/points", params=params, headers=owner.headers)).status_code == 422


async def test_the_offline_provider_consolidates_by_rules(db, settings, arq_pool):
    offline = OfflineProvider()
    await say(db, settings, arq_pool, "u1", "s1", "I want to run the Boston marathon this year.", offline)
    await say(db, settings, arq_pool, "u1", "s2", "I want to run the Boston marathon next spring.", offline)
    assert await active(db, "u1") == ["I want to run the Boston marathon next spring."]  # same kind, same subject: update
    await say(db, settings, arq_pool, "u1", "s3", "I no longer want to run the Boston marathon.", offline)
    statuses = {m["content"]: m["status"] for m in await db[MEMORIES].find({"user_id": "u1"}).to_list(None)}
    assert statuses["I want to run the Boston marathon next spring."] == "superseded"


async def test_migration_moves_contexts_of_the_earlier_code_once(db, settings, arq_pool):
    """Contexts as the earlier code wrote them: points inline, no memory ids."""
    from shared.memory.recall import search

    await db[SESSION_CONTEXTS].insert_many(
        [context("u1", 0, ["My sister Maya lives in Lisbon", "I like tea"]), context("u1", 1, ["I like tea"])]
    )
    first = await migrate_contexts(db)
    assert (first.contexts, first.memories_created, first.memories_reinforced) == (2, 2, 1)
    again = await migrate_contexts(db)
    assert (again.contexts, again.memories_created) == (0, 0)
    tea = await db[MEMORIES].find_one({"content": "I like tea"})
    assert tea["mentions"] == 2 and len(tea["sources"]) == 2
    [hit] = await search(db, arq_pool, "u1", "Maya Lisbon", 1, settings)
    assert hit.doc.id.startswith("m:") and hit.doc.said_at is not None


def test_the_migrate_command_refuses_the_in_memory_store_with_a_clear_message():
    done = subprocess.run(
        [sys.executable, "-m", "worker", "migrate"],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "MONGODB_URI": "memory://", "ALLOW_IN_MEMORY_MONGODB": "true"},
    )
    assert done.returncode == 1 and "memory://" in done.stderr


async def test_short_names_and_known_aliases_merge_with_a_record_and_a_user_can_split_them(api, db):
    from shared.models import ExtractedEntity
    from shared.store import entities
    from shared.store.mongo import ENTITIES, ENTITY_MERGES

    owner, stranger = await api.new_user(), await api.new_user()
    now = datetime.now(UTC)
    named = [ExtractedEntity(name=n, kind=k) for n, k in [("Sarah", "person"), ("Mark", "person"), ("New York", "place")]]
    await entities.record_entities(db, owner.user_id, named, "c1", now, 92.0)
    later = [ExtractedEntity(name=n, kind=k) for n, k in [("Sara", "person"), ("Mike", "person"), ("NYC", "place")]]
    resolved = await entities.record_entities(db, owner.user_id, later, "c2", now, 92.0)

    by_name = {d["name"]: d for d in await db[ENTITIES].find({"user_id": owner.user_id}).to_list(None)}
    assert by_name["Sarah"]["aliases"] == ["Sara"] and resolved["Sara"] == by_name["Sarah"]["_id"]
    assert by_name["New York"]["aliases"] == ["NYC"]
    assert "Mike" in by_name and by_name["Mark"]["aliases"] == []  # a different person
    why = {m["name"]: m["why"] for m in await db[ENTITY_MERGES].find({"user_id": owner.user_id}).to_list(None)}
    assert "Jaro-Winkler" in why["Sara"] and "alias" in why["NYC"] and set(why) == {"Sara", "NYC"}

    sarah = str(by_name["Sarah"]["_id"])
    path = f"/api/v1/memory/graph/entities/{sarah}/split"
    assert (await api.http.post(path, json={"alias": "Sara"}, headers=stranger.headers)).status_code == 404
    assert (await api.http.post(path, json={"alias": "Nobody"}, headers=owner.headers)).status_code == 404
    assert (await api.http.post(path, json={"name": "Sara"}, headers=owner.headers)).status_code == 422
    split = await api.http.post(path, json={"alias": "Sara"}, headers=owner.headers)
    assert split.status_code == 201
    assert (await db[ENTITIES].find_one({"_id": by_name["Sarah"]["_id"]}))["aliases"] == []
    assert (await db[ENTITIES].find_one({"name": "Sara", "user_id": owner.user_id}))["kind"] == "person"
    assert (await db[ENTITY_MERGES].find_one({"name": "Sara"}))["split_at"] is not None


async def test_a_session_extracted_again_does_not_bring_back_what_the_user_deleted_or_corrected(
    api, db, settings, arq_pool, stub_llm
):
    """Found from outside: a socket closed (one extraction), then logout (another, of the
    same session, re-reading everything said in it)."""
    login = await api.new_user()
    await say(db, settings, arq_pool, login.user_id, "s1", "I decided to swim on Sundays")
    await say(db, settings, arq_pool, login.user_id, "s1", "I want to learn the piano")  # the same session, extracted again
    memories_now = {m["content"]: m for m in await db[MEMORIES].find({"user_id": login.user_id}).to_list(None)}
    assert memories_now["I decided to swim on Sundays"]["mentions"] == 1  # said once, counted once

    swim = str(memories_now["I decided to swim on Sundays"]["_id"])
    piano = str(memories_now["I want to learn the piano"]["_id"])
    assert (await api.http.delete(f"/api/v1/memory/points/{swim}", headers=login.headers)).status_code == 204
    fixed = await api.http.patch(
        f"/api/v1/memory/points/{piano}", json={"content": "I want to learn the cello"}, headers=login.headers
    )
    assert fixed.status_code == 200
    shown = (await api.memory(login))["contexts"][0]["points"]
    assert "I decided to swim on Sundays" not in [p["content"] for p in shown]  # the session view agrees

    await say(db, settings, arq_pool, login.user_id, "s1", "ok thanks")  # logout: the session once more
    assert sorted(await active(db, login.user_id)) == ["I want to learn the cello", "ok thanks"]
    # ... and from another session whose words were said before the changes (a slow extraction).
    await store_message(db, login.user_id, "s0", "user", "I want to learn the piano")
    await store_message(db, login.user_id, "s0", "assistant", "Noted.")
    await db[CHAT_MESSAGES].update_many({"session_id": "s0"}, {"$set": {"timestamp": datetime.now(UTC) - timedelta(hours=1)}})
    provider = AnthropicProvider(settings)
    outcome = await extract_session_context(job_ctx(settings, db, arq_pool, llm=provider), login.user_id, "s0")
    await provider.aclose()
    assert outcome["reason"] in ("extracted", "no_new_points")
    assert "I want to learn the piano" not in await active(db, login.user_id)


async def test_a_search_result_names_the_memory_the_points_routes_take(api, db, settings, arq_pool, stub_llm):
    login = await api.new_user()
    await say(db, settings, arq_pool, login.user_id, "s1", "I want to run the Berlin marathon")
    [hit] = (await api.http.get("/api/v1/memory/search", params={"q": "Berlin marathon"}, headers=login.headers)).json()[
        "results"
    ]
    history = await api.http.get(f"/api/v1/memory/points/{hit['id']}/history", headers=login.headers)
    assert history.status_code == 200 and history.json()["versions"][0]["content"] == "I want to run the Berlin marathon"


async def test_the_offline_rules_follow_a_routine_changing(db, settings, arq_pool):
    offline = OfflineProvider()
    await say(db, settings, arq_pool, "u1", "s1", "I train every morning at 6.", offline)
    assert await active(db, "u1") == ["I train every morning at 6."]  # a routine is remembered
    await say(db, settings, arq_pool, "u1", "s2", "I like to cook on Fridays.", offline)
    await say(
        db, settings, arq_pool, "u1", "s3", "I prefer to cook on Saturdays now.", offline
    )  # the same subject: a new version
    assert sorted(await active(db, "u1")) == ["I prefer to cook on Saturdays now.", "I train every morning at 6."]
    await say(db, settings, arq_pool, "u1", "s4", "I no longer train in the morning.", offline)
    assert "I train every morning at 6." not in await active(db, "u1")


async def test_the_offline_rules_keep_facts_that_only_share_a_person_or_a_routine(db, settings, arq_pool):
    """Found from outside: "my sister is getting married" was overwritten by "my sister called
    me"; a negation of the morning routine retired the evening one; questions were stored."""
    offline = OfflineProvider()
    await say(db, settings, arq_pool, "u1", "s1", "My sister Sara is getting married in June.", offline)
    await say(db, settings, arq_pool, "u1", "s2", "My sister Sarah called me yesterday.", offline)
    assert len(await active(db, "u1")) == 2  # two facts about one person, both kept
    await say(db, settings, arq_pool, "u2", "s1", "I train every evening now.", offline)
    await say(db, settings, arq_pool, "u2", "s2", "I no longer train every morning.", offline)
    assert "I train every evening now." in await active(db, "u2")
    await say(db, settings, arq_pool, "u3", "s1", "Where do I live? I now prefer running in the evening.", offline)
    # u3's "s1" is read alone, though u1 had a session of that id too.
    assert await active(db, "u3") == ["I now prefer running in the evening."]


async def test_the_offline_coach_quotes_the_memory_the_message_is_about():
    from shared.llm.offline import write_reply
    from shared.models import MemoryDigest, RecalledPoint

    points = [  # the strongest first, as the stable core puts it
        RecalledPoint(kind="goal", content="I want to run a marathon"),
        RecalledPoint(kind="fact", content="My sister Sara is getting married in June"),
    ]
    reply = write_reply("When is my sister's wedding? Is Sara married yet?", MemoryDigest(points=points))
    assert "getting married in June" in reply and "marathon" not in reply
    assert "I noted" not in reply  # questions, not something to note


async def test_summaries_and_reflections_read_memory_as_it_is_now(db, settings, arq_pool, stub_llm):
    """A session's context keeps its memories by reference: a correction reaches the summary
    and the reflection, a retracted or superseded fact does not."""
    from shared.store import contexts, reflections
    from shared.store.memories import end, revise

    await say(db, settings, arq_pool, "u1", "s1", "I want to learn the piano")
    await say(db, settings, arq_pool, "u1", "s2", "I decided to swim on Sundays")
    by_content = {m["content"]: str(m["_id"]) for m in await db[MEMORIES].find({"user_id": "u1"}).to_list(None)}
    await revise(
        db, "u1", by_content["I want to learn the piano"], datetime.now(UTC), by="user", content="I want to learn the cello"
    )
    await end(db, "u1", by_content["I decided to swim on Sundays"], "retracted", datetime.now(UTC), by="user")

    stored = await db[SESSION_CONTEXTS].find({"user_id": "u1"}).sort("created_at", 1).to_list(None)
    digests = await contexts.digests(db, stored)
    assert [[p.content for p in d.points] for d in digests] == [["I want to learn the cello"], []]
    notes, _, _ = await reflections.notes_to_reflect_on(db, "u1", 10)
    assert [p.content for n in notes for p in n.points] == ["I want to learn the cello"]
