"""Failed and cancelled LLM calls are in `llm_usage` too, so usage, cost and the daily budget
count them: a reply cancelled half-way is recorded with an estimate of what it read and wrote."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from shared.llm.anthropic_provider import AnthropicProvider
from shared.llm.base import LLMError
from shared.llm.metered import MeteredLLM
from shared.models import ChatMessage, MemoryDigest
from shared.store.llm_usage import LLM_USAGE, tokens_used_on
from tests.support.stub_llm import Failure

HISTORY = [ChatMessage(id="m1", role="user", content="I want to run a marathon this spring", timestamp=datetime.now(UTC))]


async def records(db):
    return await db[LLM_USAGE].find({}, {"_id": 0}).to_list(length=None)


async def test_a_failed_call_is_recorded(settings, db, stub_llm):
    stub_llm.failures = [Failure(status=500)]
    llm = MeteredLLM(AnthropicProvider(settings), settings, None, db)
    try:
        with pytest.raises(LLMError):
            await llm.extract_context(HISTORY)
    finally:
        await llm.aclose()
    [record] = await records(db)
    assert record["purpose"] == "extraction" and record["outcome"] == "error"


async def test_a_reply_whose_reader_stops_half_way_is_recorded_as_cancelled(settings, db, stub_llm):
    stub_llm.chunk_delay = 0.2  # the reader is gone long before the end
    llm = MeteredLLM(AnthropicProvider(settings), settings, None, db)
    try:
        stream = llm.stream_reply(HISTORY, MemoryDigest())
        first = await anext(stream)
        await stream.aclose()
    finally:
        await llm.aclose()
    [record] = await records(db)
    assert record["purpose"] == "chat" and record["outcome"] == "cancelled" and record["estimated"] is True
    assert record["input_tokens"] > 0 and record["output_tokens"] >= len(first) // 4
    assert await tokens_used_on(db, None, datetime.now(UTC).date()) == record["input_tokens"] + record["output_tokens"]


async def test_a_reply_whose_task_is_cancelled_is_recorded(settings, db, stub_llm):
    stub_llm.chunk_delay = 0.2
    llm = MeteredLLM(AnthropicProvider(settings), settings, None, db)
    first_delta = asyncio.Event()

    async def read() -> None:
        async for _ in llm.stream_reply(HISTORY, MemoryDigest()):
            first_delta.set()

    task = asyncio.create_task(read())
    try:
        await first_delta.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    finally:
        await llm.aclose()
    [record] = await records(db)
    assert record["outcome"] == "cancelled" and record["input_tokens"] > 0


async def test_a_finished_reply_is_recorded_with_the_providers_usage(settings, db, stub_llm):
    llm = MeteredLLM(AnthropicProvider(settings), settings, None, db)
    try:
        text = "".join([d async for d in llm.stream_reply(HISTORY, MemoryDigest())])
    finally:
        await llm.aclose()
    [record] = await records(db)
    assert text and record["outcome"] == "ok" and record["estimated"] is False
    assert record["output_tokens"] == stub_llm.reported_output_tokens
