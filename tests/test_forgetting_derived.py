"""What a user deletes or corrects is gone from what was derived from it too (seen from outside:
a reflection written before a memory was deleted kept quoting it, in search and in the coach's
replies). Insights citing its sessions are pulled and those sessions wait for the next
reflection; a summary covering them is withdrawn and they wait for the next summary."""

from __future__ import annotations

from typing import Any

from shared.llm.offline import OfflineProvider
from shared.memory import forget
from shared.memory.recall import recall, search
from shared.store.messages import store_message
from shared.store.mongo import CONTEXT_COUNTERS, ENTITIES, MEMORIES, REFLECTIONS, SESSION_CONTEXTS, SUMMARIES
from tests.support.job_ctx import job_ctx
from tests.support.settings import make_settings
from worker.extract import extract_session_context
from worker.reflect import generate_reflection
from worker.summarize import summarize_sessions

SAID = [
    "I want to learn to play the cello",
    "I want to run a half marathon in spring",
    "I will swim every Sunday morning",
    "I want to read twelve books this year",
    "I decided to cook at home on weekdays",
    "I want to sleep eight hours a night",
    "I will call my sister every Friday",
]


async def offline_user(settings: Any, db: Any, arq_pool: Any, user_id: str = "u") -> dict[str, Any]:
    """A user with seven sessions, a summary of the oldest two and a reflection, all offline."""
    settings = settings.model_copy(update={"summarize_threshold": 6, "summarize_keep_recent": 5})
    ctx = job_ctx(settings, db, arq_pool, llm=OfflineProvider())
    for n, line in enumerate(SAID):
        await store_message(db, user_id, f"s{n}", "user", line)
        await store_message(db, user_id, f"s{n}", "assistant", "ok")
        assert (await extract_session_context(ctx, user_id, f"s{n}"))["reason"] == "extracted"
    assert (await summarize_sessions(ctx, user_id))["covered"] == 2
    assert (await generate_reflection(ctx, user_id))["reason"] == "reflected"
    return ctx


def mentions(text: str, word: str = "cello") -> bool:
    return word in text.lower()


async def derived_texts(db: Any) -> list[str]:
    summaries = await db[SUMMARIES].find({"status": "done"}).to_list(None)
    insights = [i["text"] for r in await db[REFLECTIONS].find({}).to_list(None) for i in r["insights"]]
    return [s["text"] for s in summaries] + [p for s in summaries for p in s["key_points"]] + insights


async def test_a_deleted_memory_leaves_the_summary_and_the_insights_drawn_from_its_session(redis_url, mongo_client, arq_pool):
    settings = make_settings(redis_url, llm_provider="offline")
    db = mongo_client[settings.mongodb_db_name]
    ctx = await offline_user(settings, db, arq_pool)
    assert any(mentions(t) for t in await derived_texts(db))  # quoted before: the case seen from outside
    cello = await db[MEMORIES].find_one({"content": SAID[0]})
    [s0] = await db[SESSION_CONTEXTS].find({"session_id": "s0"}).to_list(None)
    assert s0["summary_id"] is not None and s0["reflected_at"] is not None

    assert await forget.retract_memory(db, arq_pool, 1.0, "u", str(cello["_id"]))

    assert not any(mentions(t) for t in await derived_texts(db))
    assert await db[SUMMARIES].count_documents({"status": "done"}) == 0  # it covered s0
    [withdrawn] = await db[SUMMARIES].find({"status": "withdrawn"}).to_list(None)  # kept: the count names the next job
    assert withdrawn["text"] == "" and withdrawn["key_points"] == []
    [s0] = await db[SESSION_CONTEXTS].find({"session_id": "s0"}).to_list(None)
    assert s0["summary_id"] is None and s0["reflected_at"] is None  # summarized and reflected on again, from memory now
    unclaimed = await db[SESSION_CONTEXTS].count_documents({"user_id": "u", "summary_id": None})
    assert (await db[CONTEXT_COUNTERS].find_one({"_id": "u"}))["unsummarized"] == unclaimed == len(SAID)
    assert await search(db, arq_pool, "u", "cello", 10, settings) == []
    digest = await recall(db, "u", settings, cache=arq_pool)
    assert not mentions(digest.model_dump_json())

    # The next summary and reflection are written from memory as it is now: no cello.
    assert (await summarize_sessions(ctx, "u"))["covered"] == 2
    assert (await generate_reflection(ctx, "u", True))["reason"] == "reflected"
    texts = await derived_texts(db)
    assert texts and not any(mentions(t) for t in texts)


async def test_a_corrected_memory_withdraws_what_quoted_its_old_words(api, settings, db, arq_pool):
    login = await api.new_user()
    await offline_user(settings, db, arq_pool, login.user_id)
    assert any(mentions(t) for t in await derived_texts(db))
    cello = await db[MEMORIES].find_one({"content": SAID[0]})

    changed = await api.http.patch(
        f"/api/v1/memory/points/{cello['_id']}", json={"content": "I want to learn to play the piano"}, headers=login.headers
    )
    assert changed.status_code == 200, changed.text
    assert not any(mentions(t) for t in await derived_texts(db))
    found = await api.http.get("/api/v1/memory/search", params={"q": "cello"}, headers=login.headers)
    assert found.status_code == 200 and found.json()["results"] == []
    found = await api.http.get("/api/v1/memory/search", params={"q": "piano"}, headers=login.headers)
    assert [r["id"] for r in found.json()["results"]] == [str(cello["_id"])]
    # The session it came from shows the new words (seen from outside: the old ones stayed there).
    sessions = (await api.http.get("/api/v1/memory", headers=login.headers)).json()["contexts"]
    words = [p["content"] for c in sessions for p in c["points"]]
    assert "I want to learn to play the piano" in words and SAID[0] not in words
    # Changing only how much it matters leaves what was derived alone.
    insights = await db[REFLECTIONS].find_one({"user_id": login.user_id})
    other = await db[MEMORIES].find_one({"content": SAID[6]})
    again = await api.http.patch(f"/api/v1/memory/points/{other['_id']}", json={"importance": 0.9}, headers=login.headers)
    assert again.status_code == 200 and await db[REFLECTIONS].find_one({"_id": insights["_id"]}) == insights
    # The last insight cites the sister's session: once that goes too, the reflection is left
    # with none, and the memory page does not list it as an empty card.
    gone = await api.http.delete(f"/api/v1/memory/points/{other['_id']}", headers=login.headers)
    assert gone.status_code == 204
    [reflection] = await db[REFLECTIONS].find({"user_id": login.user_id}).to_list(None)
    assert reflection["insights"] == []
    assert (await api.http.get("/api/v1/memory", headers=login.headers)).json()["reflections"] == []


class ForgettingMeanwhile:
    """The offline provider, with the user deleting a memory while a summary or a reflection
    is being written from it (a real LLM takes seconds; seen from outside with a slow stub)."""

    def __init__(self, during: Any) -> None:
        self.inner, self.during = OfflineProvider(), during

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def summarize(self, digests: Any) -> Any:
        reply = await self.inner.summarize(digests)
        await self.during()
        return reply

    async def reflect(self, notes: Any) -> Any:
        reply = await self.inner.reflect(notes)
        await self.during()
        return reply


async def test_a_memory_deleted_while_its_summary_or_reflection_is_written_is_not_in_what_is_stored(
    redis_url, mongo_client, arq_pool
):
    settings = make_settings(redis_url, llm_provider="offline", summarize_threshold=6, summarize_keep_recent=5)
    db = mongo_client[settings.mongodb_db_name]
    offline = job_ctx(settings, db, arq_pool, llm=OfflineProvider())
    for n, line in enumerate(SAID):
        await store_message(db, "u", f"s{n}", "user", line)
        await store_message(db, "u", f"s{n}", "assistant", "ok")
        await extract_session_context(offline, "u", f"s{n}")

    async def delete(content: str) -> None:
        memory = await db[MEMORIES].find_one({"content": content})
        assert await forget.retract_memory(db, arq_pool, 1.0, "u", str(memory["_id"]))

    async def delete_cello() -> None:
        await delete(SAID[0])

    assert (await summarize_sessions(job_ctx(settings, db, arq_pool, llm=ForgettingMeanwhile(delete_cello)), "u"))["covered"] == 2
    assert not any(mentions(t) for t in await derived_texts(db))  # written with the cello, withdrawn at once
    assert await db[SESSION_CONTEXTS].count_documents({"user_id": "u", "summary_id": None}) == len(SAID)

    async def delete_sister() -> None:
        await delete(SAID[6])

    assert (await generate_reflection(job_ctx(settings, db, arq_pool, llm=ForgettingMeanwhile(delete_sister)), "u"))[
        "reason"
    ] == "reflected"
    assert not any(mentions(t, "sister") for t in await derived_texts(db))
    [s6] = await db[SESSION_CONTEXTS].find({"session_id": "s6"}).to_list(None)
    assert s6["reflected_at"] is None  # the next reflection reads it again, without the sister


async def test_a_deleted_memory_takes_from_the_graph_what_only_its_words_named(redis_url, mongo_client, arq_pool):
    """Seen from outside: "Berlin marathon" stayed among who and what the coach keeps track of."""
    settings = make_settings(redis_url, llm_provider="offline")
    db = mongo_client[settings.mongodb_db_name]
    ctx = job_ctx(settings, db, arq_pool, llm=OfflineProvider())
    await store_message(db, "u", "s1", "user", "I want to run the Berlin marathon with Anna. Anna is my sister.")
    await store_message(db, "u", "s1", "assistant", "ok")
    await store_message(db, "u", "s2", "user", "I will run the Berlin marathon in October.")
    await store_message(db, "u", "s2", "assistant", "ok")
    for session in ("s1", "s2"):
        assert (await extract_session_context(ctx, "u", session))["reason"] == "extracted"

    async def graph() -> dict[str, int]:
        return {e["name"]: e["mentions"] for e in await db[ENTITIES].find({"user_id": "u"}).to_list(None)}

    before = await graph()
    assert before["Berlin marathon"] == 2 and before["Anna"] == 1
    goal = await db[MEMORIES].find_one({"content": {"$regex": "^I want to run the Berlin marathon"}})
    assert await forget.retract_memory(db, arq_pool, 1.0, "u", str(goal["_id"]))

    after = await graph()
    assert after["Berlin marathon"] == 1  # s2 still names it
    assert after["Anna"] == 1  # s1 still says "Anna is my sister"
    gone = [name for name in before if name not in after]
    assert gone and all("berlin" in name.lower() for name in gone)  # named only by the deleted words in s1
