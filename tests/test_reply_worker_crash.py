"""A worker SIGKILLed while a reply waits for its first chunk: the reply is retried and stored once.

The killed worker is a real process running the chat queue's worker (`seeded_worker ... chat`,
the same worker `python -m worker run --chat` runs) on an in-memory database seeded with what
the service left: the user's message and the queued reply. What the test proves lives in Redis
(the job's redelivery, the reply's stream) and in the surviving worker's database.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from arq.jobs import Job

from shared.queue.jobs import enqueue_reply, reply_job_id
from shared.redis_structures.reply_stream import open_streams_redis, reply_streams
from shared.store.messages import store_message
from shared.store.mongo import CHAT_MESSAGES, REPLIES
from shared.store.replies import create_reply
from tests.support.processes import start_seeded_worker
from tests.support.running_worker import running_worker, wait_for
from tests.support.stub_llm import Failure

ROOT = Path(__file__).resolve().parent.parent


async def seed_file(db: Any, tmp_path: Path) -> Path:
    def plain(doc: dict[str, Any]) -> dict[str, Any]:
        return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in doc.items() if k != "_id" or isinstance(v, str)}

    seed = {
        CHAT_MESSAGES: [plain(d) for d in await db[CHAT_MESSAGES].find({}).to_list(None)],
        REPLIES: [plain(d) for d in await db[REPLIES].find({}).to_list(None)],
    }
    path = tmp_path / "seed.json"
    path.write_text(json.dumps(seed))
    return path


@pytest.mark.slow  # a real worker process, killed, and its job's in-progress mark waited out
async def test_a_worker_killed_before_the_first_chunk_the_reply_is_retried_and_stored_once(
    settings, mongo_client, db, stub_llm, arq_pool, redis_url, tmp_path
):
    # What the service leaves behind when it accepts a message.
    message = await store_message(db, "u1", "s1", "user", "I want to finish my novel")
    await create_reply(db, "r1", "u1", "s1", message.id, reply_job_id("r1"), datetime.now(UTC))
    seed = await seed_file(db, tmp_path)
    await enqueue_reply(arq_pool, settings, "r1")
    stub_llm.failures = [Failure(200, delay=60)]  # the first call gets no byte before the kill
    proc = start_seeded_worker(settings, stub_llm.url, seed, "chat", JOB_TIMEOUT_SECONDS="2")
    try:
        for _ in range(400):
            assert proc.poll() is None, proc.stdout.read().decode() if proc.stdout else ""
            if stub_llm.chat_requests:
                break
            await asyncio.sleep(0.05)
        else:
            raise AssertionError("the worker never reached the LLM")
        proc.kill()
    finally:
        while proc.poll() is None:
            await asyncio.sleep(0.05)
    # The dead worker's job is invisible until its in-progress mark expires (job timeout plus
    # arq's margins, about 22 s); a surviving worker then writes the reply from the start.
    survivor = settings.model_copy(update={"job_timeout_seconds": 2})
    async with running_worker(survivor, mongo_client, queues="chat"):

        async def done() -> dict[str, Any] | None:
            return await db[REPLIES].find_one({"_id": "r1", "status": "done"})

        stored = await wait_for(done, seconds=60)
        job = Job(reply_job_id("r1"), arq_pool, _queue_name=settings.chat_queue_name)
        # arq records the result just after the job returns: wait for it before the worker stops.
        info = await wait_for(job.result_info)
    assert stored["text"] == stub_llm.reply_text + " "
    assert await db[CHAT_MESSAGES].count_documents({"role": "assistant"}) == 1
    assert info is not None and info.success and info.job_try == 2
    assert len(stub_llm.chat_requests) == 2
    # The stream holds the text once: the killed try sent nothing.
    redis = open_streams_redis(redis_url, 1.0, 1.0)
    events = await reply_streams(redis, settings).read("r1")
    await redis.aclose()
    assert "".join(e.data.get("text", "") for e in events) == stored["text"]
    assert [e.event for e in events].count("done") == 1 and events[-1].event == "done"
