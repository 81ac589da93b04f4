"""A requeued dead letter goes to the queue whose workers run it, and only counts as
requeued once Redis confirmed the enqueue; a cron's "run now" is confirmed the same way."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from shared.queue.jobs import GENERATE_REPLY, enqueue_cron_now, queue_of_job_id
from shared.store.dead_letters import dead_letter_of, list_dead_letters, record_dead_letter, requeue
from shared.store.mongo import FAILED_JOBS

NOW = datetime(2026, 12, 1, tzinfo=UTC)


async def dead_letter(db: Any, function: str, args: list[Any]) -> str:
    await record_dead_letter(db, function, f"{function}:x", tuple(args), {}, 3, "boom", NOW)
    [letter] = await list_dead_letters(db)
    return letter.id


async def test_a_requeued_reply_goes_to_the_chat_queue(db, settings, arq_pool):
    letter = await dead_letter(db, GENERATE_REPLY, ["reply-1"])
    job_id = await requeue(db, arq_pool, settings, letter)
    assert job_id is not None
    assert await arq_pool.zscore(settings.chat_queue_name, job_id) is not None
    assert await arq_pool.zscore(settings.queue_name, job_id) is None
    # The job views look it up on the chat queue, and its run still closes the dead letter.
    assert queue_of_job_id(job_id, settings) == settings.chat_queue_name
    assert str(dead_letter_of(job_id)) == letter


async def test_a_requeued_background_job_goes_to_the_background_queue(db, settings, arq_pool):
    letter = await dead_letter(db, "summarize_sessions", ["u1"])
    job_id = await requeue(db, arq_pool, settings, letter)
    assert job_id is not None and await arq_pool.zscore(settings.queue_name, job_id) is not None


class LostArq:
    """A queue whose enqueue (one script, arq_adapter/enqueue.py) loses its connection
    before Redis answers: nothing is known to be queued."""

    default_queue_name = "arq:queue"
    job_serializer = None
    expires_extra_ms = 86_400_000

    async def evalsha(self, *args: Any) -> int:
        raise RedisConnectionError("Connection closed by server.")


async def test_an_unconfirmed_requeue_raises_and_leaves_the_dead_letter_open(db, settings):
    letter = await dead_letter(db, "summarize_sessions", ["u1"])
    with pytest.raises(RedisConnectionError):
        await requeue(db, LostArq(), settings, letter)
    doc = await db[FAILED_JOBS].find_one({})
    assert doc["requeued_at"] is None


async def test_an_unconfirmed_cron_run_now_raises():
    with pytest.raises(RedisConnectionError):
        await enqueue_cron_now(LostArq(), "decay_memories", NOW)
