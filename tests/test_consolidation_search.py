"""The memories an extraction is shown (issue 21, item 2): the user's active memories
closest to the session, found from the stems each memory keeps (shared/store/memories.py)
and ranked as recall ranks them. A memory written before stems were kept is still found,
and `python -m worker migrate` stores its stems once."""

from __future__ import annotations

import random
from datetime import UTC, datetime

from shared.memory import consolidate
from shared.memory.migrate import migrate_contexts
from shared.memory.ranking import Query, build_index, candidates, rank
from shared.memory.text import TERMS_VERSION
from shared.models import MemoryDoc
from shared.store import memories
from shared.store.memories import Draft
from shared.store.mongo import MEMORIES

SUBJECTS = ["my sister Maya", "the half marathon", "my new job", "running shoes", "the piano", "my knee", "Lisbon"]
VERBS = ["is getting ready for", "keeps me thinking about", "changed how I plan", "costs more than", "reminds me of"]
OBJECTS = ["the spring race", "evening runs", "a trip in April", "my training plan", "early mornings", "the gym"]
SESSION = ["I want to run the half marathon in the spring", "My knee hurts after evening runs", "Maya is coming to Lisbon"]


FILLER = ["I bought a new lamp", "tea before bed helps", "the neighbours got a dog", "work was busy this week"]


def corpus(n: int) -> list[str]:
    """Memories of one to three clauses (words repeat, lengths vary), a third of them sharing no word with the session."""
    pick = random.Random(21)

    def clause() -> str:
        return f"{pick.choice(SUBJECTS)} {pick.choice(VERBS)} {pick.choice(OBJECTS)}"

    return [pick.choice(FILLER) if n % 3 == 0 else ", and ".join(clause() for _ in range(pick.randint(1, 3))) for n in range(n)]


async def test_the_closest_memories_are_those_recall_ranks_first(db):
    await memories.add_many(
        db, "u1", [Draft(kind="fact", content=c, importance=0.5) for c in corpus(300)], datetime.now(UTC), by="extraction"
    )
    known = await memories.active_known(db, "u1")
    shown = await consolidate.closest(known, SESSION)

    now = datetime.now(UTC)
    docs = [
        MemoryDoc(
            id=str(k["_id"]), source="point", kind=k["kind"], content=k["content"], importance=1, strength=1, decayed_at=now
        )
        for k in known
    ]
    index = build_index(docs, [], None, now, 1.0)
    query = Query.of(" ".join(SESSION))
    lexical, _, _ = candidates(query, await index.probe(query.weights, ()))
    reference = {r.doc.id: r.score for r in rank(lexical, set(), index.docs, now, 1.0)}
    best = sorted(reference.values(), reverse=True)[: consolidate.CANDIDATES]
    assert len(shown) == consolidate.CANDIDATES
    # The same scores in the same order: the same ranking, whichever of two equal memories comes first.
    assert [round(reference[m.id], 4) for m in shown] == [round(s, 4) for s in best]


async def test_a_memory_written_before_stems_were_kept_is_found_and_migrated_once(db):
    [old, _tea] = await memories.add_many(
        db,
        "u1",
        [
            Draft(kind="fact", content="My knee hurts after long runs", importance=0.5),
            Draft(kind="fact", content="I like tea", importance=0.5),
        ],
        datetime.now(UTC),
        by="extraction",
    )
    assert (await db[MEMORIES].find_one({"content": "I like tea"}))["terms_version"] == TERMS_VERSION
    await db[MEMORIES].update_many({}, {"$unset": {"terms": "", "terms_version": ""}})  # as the earlier code wrote them

    [shown] = await consolidate.closest(await memories.active_known(db, "u1"), ["my knee again"])
    assert shown.id == old
    assert (await migrate_contexts(db)).memories_given_terms == 2  # python -m worker migrate
    assert (await migrate_contexts(db)).memories_given_terms == 0
    await db[MEMORIES].update_many({}, {"$unset": {"terms_version": ""}})
    assert await memories.store_missing_terms(db, batch=1) == 2  # in batches, each after the last
    stored = await db[MEMORIES].find_one({"content": "My knee hurts after long runs"})
    assert (stored["terms"], stored["terms_version"]) == (["knee", "hurt", "long", "run"], TERMS_VERSION)
    assert [m.id for m in await consolidate.closest(await memories.active_known(db, "u1"), ["my knee again"])] == [old]


async def test_an_edit_keeps_the_stems_in_step_with_the_words(db):
    [memory_id] = await memories.add_many(
        db, "u1", [Draft(kind="fact", content="I swim on Sundays", importance=0.5)], datetime.now(UTC), by="extraction"
    )
    await memories.revise(db, "u1", memory_id, datetime.now(UTC), by="user", content="I cycle on Sundays")
    assert await consolidate.closest(await memories.active_known(db, "u1"), ["swim"]) == []
    assert [m.content for m in await consolidate.closest(await memories.active_known(db, "u1"), ["cycling"])] == [
        "I cycle on Sundays"
    ]


async def test_an_index_built_from_stored_stems_is_the_one_built_from_the_words(db):
    """A rebuild reads each memory's stored stems instead of tokenising it again: same
    postings, and the stems never go into the index's documents (they are not recall's)."""
    from datetime import UTC, datetime

    from shared.memory.ranking import build_index
    from shared.store import memories as memory_store

    now = datetime.now(UTC)
    for text in ["I run every morning at 6, running is my thing", "My sister Sara marries in June"]:
        await memory_store.add(db, "u", "goal", text, 0.5, now, by="user")
    stored = await memory_store.memory_documents(db, "u")
    assert all(d.terms for d in stored)
    from_words = [d.model_copy(update={"terms": None}) for d in stored]
    built, rebuilt = build_index(stored, [], None, now, 0.95), build_index(from_words, [], None, now, 0.95)
    assert built.postings == rebuilt.postings and built.total_len == rebuilt.total_len
    assert "terms" not in stored[0].model_dump_json()
