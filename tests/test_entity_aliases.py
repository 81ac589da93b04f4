"""Aliases the LLM names (issue 21, item 5): the extraction tool lets the model give each
entity the other names the user used for it ("Bob" for Robert), which spelling and the
offline alias table cannot see. The model's word is checked before anything merges
(shared/memory/llm_aliases.py, shared/store/entities.py), every merge it causes is recorded
with the LLM as its reason, and a user's split undoes it for good. The stub LLM says what
each test scripts (`raw_tool_input`), or, left to itself, fills every alias list with the
user's lines, as a schema-following model may."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from shared.memory.llm_aliases import MAX_PER_ENTITY, accepted
from shared.models import ExtractedEntity
from shared.store import entities
from shared.store.entities import LLM_ALIAS
from shared.store.mongo import ENTITIES, ENTITY_MERGES
from tests.support.schema_instance import tool_answer
from tests.test_living_memories import say


def answer(*named: tuple[str, str, list[str]]) -> dict[str, Any]:
    """A scripted extraction: one point, and these entities (name, kind, aliases)."""
    return {
        "points": [{"kind": "fact", "content": f"Talked about {named[0][0]}", "importance": 0.5}],
        "entities": [{"name": n, "kind": k, "aliases": a} for n, k, a in named],
        "relations": [],
    }


async def graph(db: Any, user_id: str) -> dict[str, dict[str, Any]]:
    return {d["name"]: d for d in await db[ENTITIES].find({"user_id": user_id}).to_list(None)}


async def llm_merges(db: Any, user_id: str) -> list[dict[str, Any]]:
    found = await db[ENTITY_MERGES].find({"user_id": user_id}).to_list(None)
    return [m for m in found if m["why"].startswith(LLM_ALIAS)]


async def test_an_alias_the_model_names_merges_with_the_llm_as_reason_and_a_split_undoes_it(
    api, db, settings, arq_pool, stub_llm
):
    login = await api.new_user()
    stub_llm.raw_tool_input = answer(("Robert", "person", ["Bob"]))
    await say(db, settings, arq_pool, login.user_id, "s1", "I ran with Robert today. Bob always sets the pace.")
    robert = (await graph(db, login.user_id))["Robert"]
    assert robert["aliases"] == ["Bob"]
    [merge] = await llm_merges(db, login.user_id)
    assert (merge["entity_id"], merge["name"], merge["into"]) == (str(robert["_id"]), "Bob", "Robert")
    assert merge["why"] == "llm alias (Bob = Robert)" and merge["split_at"] is None

    # Later, "Bob" alone is Robert: one entity, two mentions.
    stub_llm.raw_tool_input = answer(("Bob", "person", []))
    await say(db, settings, arq_pool, login.user_id, "s2", "Bob wants to try a trail run")
    assert set(await graph(db, login.user_id)) == {"Robert"}
    assert (await graph(db, login.user_id))["Robert"]["mentions"] == 2

    # The user splits them; the model saying it again does not undo the split.
    split = await api.http.post(
        f"/api/v1/memory/graph/entities/{robert['_id']}/split", json={"alias": "Bob"}, headers=login.headers
    )
    assert split.status_code == 201
    assert (await db[ENTITY_MERGES].find_one({"user_id": login.user_id, "name": "Bob"}))["split_at"] is not None
    stub_llm.raw_tool_input = answer(("Robert", "person", ["Bob"]))
    await say(db, settings, arq_pool, login.user_id, "s3", "Robert, or Bob as everyone calls him, ran again")
    after = await graph(db, login.user_id)
    assert after["Robert"]["aliases"] == [] and str(after["Bob"]["_id"]) == split.json()["entity_id"]
    assert len(await llm_merges(db, login.user_id)) == 1


async def test_a_new_name_the_model_ties_to_a_known_entity_joins_it(api, db, settings, arq_pool, stub_llm):
    login = await api.new_user()
    stub_llm.raw_tool_input = answer(("New York", "place", []))
    await say(db, settings, arq_pool, login.user_id, "s1", "I live in New York")
    stub_llm.raw_tool_input = answer(("Big Apple", "place", ["New York"]))
    await say(db, settings, arq_pool, login.user_id, "s2", "Back in the Big Apple: New York feels like home")
    places = await graph(db, login.user_id)
    assert set(places) == {"New York"} and places["New York"]["aliases"] == ["Big Apple"]
    [merge] = await llm_merges(db, login.user_id)
    assert (merge["name"], merge["why"]) == ("Big Apple", "llm alias (Big Apple = New York)")


async def test_garbage_and_hostile_aliases_are_refused(api, db, settings, arq_pool, stub_llm):
    login = await api.new_user()
    stub_llm.raw_tool_input = answer(("Paris", "place", []), ("Sam", "person", []))
    await say(db, settings, arq_pool, login.user_id, "s1", "I trained in Paris with Sam")
    said = "Robert and I ran along the river at dawn in Paris, Sarah came too, and so did Sam"
    stub_llm.raw_tool_input = answer(
        (
            "Robert",
            "person",
            [
                "Robert and I ran along the river at dawn",  # a sentence, not a name
                "Bobby",  # never said in the session
                "Paris",  # a known entity, a place
                "Sam",  # a known person: two entities are never joined on the model's word
                "Sarah",  # another entity of this same answer
            ],
        ),
        ("Sarah", "person", ["robert"]),  # the other entity's own name
    )
    await say(db, settings, arq_pool, login.user_id, "s2", said)
    after = await graph(db, login.user_id)
    assert set(after) == {"Paris", "Sam", "Robert", "Sarah"}
    assert all(e["aliases"] == [] for e in after.values())
    assert await llm_merges(db, login.user_id) == []


async def test_the_stub_left_to_itself_merges_nothing(api, db, settings, arq_pool, stub_llm):
    """Unscripted, the stub names one entity per user line and gives each every line as an
    alias: short lines that were all said, yet each is another entity of the same answer."""
    login = await api.new_user()
    for line in ["Sarah and Tom", "Tom", "ok"]:
        await say(db, settings, arq_pool, login.user_id, "s1", line)
    offered = tool_answer(stub_llm.extraction_requests[-1])["entities"]
    assert [e["aliases"] for e in offered] == [["Sarah and Tom", "Tom", "ok"]] * 3
    assert set(await graph(db, login.user_id)) == {"Sarah and Tom", "Tom", "ok"}
    assert all(e["aliases"] == [] for e in (await graph(db, login.user_id)).values())
    assert await llm_merges(db, login.user_id) == []


def test_the_checks_on_what_the_model_says():
    text = "Jennifer, Jen to her friends, and J.J. met Robert in NYC."

    def entity(name: str, *aliases: str) -> ExtractedEntity:
        return ExtractedEntity(name=name, kind="person", aliases=list(aliases))

    # The same name twice, the name itself, a name never said, a pronoun: one alias.
    assert accepted([entity("Jennifer", "Jen", " jen ", "the Jennifer", "Jenny", "her")], text) == {"Jennifer": ["Jen"]}
    assert accepted([entity("Jennifer", "J.J."), entity("Robert", "J.J.")], text) == {}  # claimed twice
    assert accepted([entity("Jennifer", "Je"), entity("Robert", "NYC met")], text) == {}  # not whole words
    names = ["Al", "Bo", "Cy", "Di", "Ed"]
    assert accepted([entity("Jennifer", *names)], ", ".join(names)) == {"Jennifer": names[:MAX_PER_ENTITY]}


async def test_record_entities_takes_only_the_aliases_it_is_given(db):
    """The store never reads the model's raw alias lists: only what `accepted` let through."""
    now = datetime.now(UTC)
    named = [ExtractedEntity(name="Robert", kind="person", aliases=["Bob"])]
    await entities.record_entities(db, "u1", named, "c1", now, 92.0)
    assert (await graph(db, "u1"))["Robert"]["aliases"] == []
    await entities.record_entities(db, "u1", named, "c2", now, 92.0, {"Robert": ["Bob"]})
    assert (await graph(db, "u1"))["Robert"]["aliases"] == ["Bob"]


async def test_a_split_holds_against_the_offline_alias_table_too(api, db, settings, arq_pool, stub_llm):
    """Found from outside: "NYC" and "New York" merged by the alias table, the user split
    them, and the next "New York" went back into NYC through the table."""
    login = await api.new_user()
    stub_llm.raw_tool_input = answer(("NYC", "place", []))
    await say(db, settings, arq_pool, login.user_id, "s1", "I live in NYC")
    stub_llm.raw_tool_input = answer(("New York", "place", []))
    await say(db, settings, arq_pool, login.user_id, "s2", "New York is loud")
    nyc = (await graph(db, login.user_id))["NYC"]
    assert nyc["aliases"] == ["New York"]  # one place, by the alias table
    split = await api.http.post(
        f"/api/v1/memory/graph/entities/{nyc['_id']}/split", json={"alias": "New York"}, headers=login.headers
    )
    assert split.status_code == 201
    await say(db, settings, arq_pool, login.user_id, "s3", "I work in New York")
    after = await graph(db, login.user_id)
    assert after["NYC"]["aliases"] == [] and after["NYC"]["mentions"] == 2
    assert str(after["New York"]["_id"]) == split.json()["entity_id"] and after["New York"]["mentions"] >= 1
