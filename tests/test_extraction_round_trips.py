"""What an extraction that stores new points asks of MongoDB: four plain indexed reads sent
together before the LLM call (messages, watermarks, known point keys, known memories; not
one $facet with two $lookups), four writes (the context, the new memories at once, the
context's memory ids, the unsummarized-context counter), and the recall index's refresh:
five reads sent together. Three round trips' waits of reads, four of writes."""

from __future__ import annotations

from shared.llm.anthropic_provider import AnthropicProvider
from shared.store.messages import store_message
from shared.store.mongo import CONTEXT_COUNTERS, MEMORIES, SESSION_CONTEXTS
from tests.support.counting_db import CountingDatabase
from tests.support.job_ctx import changed, job_ctx
from worker.extract import extract_session_context


async def session_with(db, user_id: str, session_id: str, text: str) -> None:
    await store_message(db, user_id, session_id, "user", text)
    await store_message(db, user_id, session_id, "assistant", "Noted.")


# What the stub LLM finds in a session, as its tool answers it.
MARATHON = [{"kind": "goal", "content": "Run a marathon", "importance": 0.8}]
SWIM = [{"kind": "commitment", "content": "Swim on Sundays", "importance": 0.7}]

READS = [("chat_messages", "find"), (SESSION_CONTEXTS, "find"), ("empty_extractions", "find_one"), (MEMORIES, "find")]
# The user's recall index is refreshed inside the extraction (worker/recall_cache.py), not by
# a job of its own: five reads of what recall ranks, sent together (one round trip's wait).
REFRESH_READS = [
    (MEMORIES, "find"),
    (SESSION_CONTEXTS, "find"),
    ("summaries", "find"),
    ("reflections", "find_one"),
    ("entities", "find"),
]


async def test_new_points_take_four_reads_sent_together_and_four_writes_and_an_up_to_date_session_the_reads(
    db, settings, arq_pool, stub_llm
):
    llm = AnthropicProvider(settings)
    try:
        # A first session gives the user a stored context and a counter.
        stub_llm.points = MARATHON
        await session_with(db, "u", "s1", "I want to run a marathon")
        first = await extract_session_context(job_ctx(settings, db, arq_pool, llm=llm), "u", "s1")
        assert first["reason"] == "extracted"

        stub_llm.points = SWIM
        await session_with(db, "u", "s2", "I will swim on Sundays")
        counting = CountingDatabase(db)
        ctx = job_ctx(settings, counting, arq_pool, llm=llm)
        outcome = await extract_session_context(ctx, "u", "s2")
        assert outcome["reason"] == "extracted"
        assert counting.calls == [
            *READS,
            (SESSION_CONTEXTS, "find_one_and_update"),
            (MEMORIES, "insert_many"),  # every new memory at once
            (SESSION_CONTEXTS, "update_one"),  # the context's memory ids
            *REFRESH_READS,
            (CONTEXT_COUNTERS, "find_one_and_update"),
        ]
        assert (await db[CONTEXT_COUNTERS].find_one({"_id": "u"}))["unsummarized"] == 2

        # Run again with nothing new said: one read, no LLM call, no write.
        counting.calls.clear()
        requests = len(stub_llm.requests)
        again = await extract_session_context(ctx, "u", "s2")
        assert again["reason"] == "up_to_date" and again["context_id"] == outcome["context_id"]
        assert counting.calls == READS and len(stub_llm.requests) == requests
    finally:
        await llm.aclose()


async def test_a_point_said_again_reinforces_the_older_context_without_a_lookup(db, settings, arq_pool, stub_llm):
    llm = AnthropicProvider(settings)
    try:
        ctx = job_ctx(settings, db, arq_pool, llm=llm)
        stub_llm.points = MARATHON
        await session_with(db, "u", "s1", "I want to run a marathon")
        await extract_session_context(ctx, "u", "s1")
        await session_with(db, "u", "s2", "I still want to run a marathon!")
        counting = CountingDatabase(db)
        outcome = await extract_session_context(changed(ctx, db=counting), "u", "s2")
        assert outcome["reason"] == "no_new_points"
        # The reads, the reinforcing update, the empty watermark, the memory reinforced: no
        # second read for the keys.
        assert [name for _, name in counting.calls] == [
            "find",
            "find",
            "find_one",
            "find",
            "update_one",
            "update_one",
            "update_many",
            *(name for _, name in REFRESH_READS),
        ]
        [memory] = await db[MEMORIES].find({}).to_list(None)
        assert memory["mentions"] == 2 and [s["session_id"] for s in memory["sources"]] == ["s1", "s2"]
        [stored] = await db[SESSION_CONTEXTS].find({}).to_list(None)
        assert stored["session_id"] == "s1" and stored["context_points"][0]["mentions"] == 2
        # No context for s2, so it does not count toward the summary threshold.
        assert (await db[CONTEXT_COUNTERS].find_one({"_id": "u"}))["unsummarized"] == 1
    finally:
        await llm.aclose()


async def test_a_users_first_context_makes_its_counter_without_a_recount_and_older_contexts_are_recounted(
    db, settings, arq_pool, stub_llm
):
    """The counter is recounted only when it may be younger than the user's contexts."""
    llm = AnthropicProvider(settings)
    try:
        stub_llm.points = MARATHON
        await session_with(db, "new", "s1", "I want to run a marathon")
        counting = CountingDatabase(db)
        assert (await extract_session_context(job_ctx(settings, counting, arq_pool, llm=llm), "new", "s1"))[
            "reason"
        ] == "extracted"
        assert (SESSION_CONTEXTS, "count_documents") not in counting.calls
        assert (await db[CONTEXT_COUNTERS].find_one({"_id": "new"}))["unsummarized"] == 1

        # A user whose contexts were stored before counters existed: two unsummarized, no counter.
        await session_with(db, "old", "s1", "I want to run a marathon")
        await extract_session_context(job_ctx(settings, db, arq_pool, llm=llm), "old", "s1")
        await db[SESSION_CONTEXTS].insert_one({"user_id": "old", "session_id": "s0", "summary_id": None})
        await db[CONTEXT_COUNTERS].delete_one({"_id": "old"})
        stub_llm.points = SWIM
        await session_with(db, "old", "s2", "I will swim on Sundays")
        await extract_session_context(job_ctx(settings, db, arq_pool, llm=llm), "old", "s2")
        assert (await db[CONTEXT_COUNTERS].find_one({"_id": "old"}))["unsummarized"] == 3
    finally:
        await llm.aclose()
