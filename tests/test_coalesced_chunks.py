"""A reply's deltas coalesced into chunks (worker/coalesced_chunks.py): every delta sent
once, in order; those that come while a send is in flight go out together as the next."""

from __future__ import annotations

import asyncio

import pytest

from worker.coalesced_chunks import CoalescedChunks


class Sink:
    """A stream whose appends wait until the test lets them finish."""

    def __init__(self) -> None:
        self.sent: list[str] = []
        self.started: list[str] = []
        self.gate = asyncio.Event()
        self.fail_on: str | None = None

    async def send(self, text: str) -> None:
        self.started.append(text)
        await self.gate.wait()
        if text == self.fail_on:
            raise ConnectionError("stream unwritable")
        self.sent.append(text)


async def test_deltas_during_an_append_go_out_together_as_the_next_chunk():
    sink = Sink()
    chunks = CoalescedChunks(sink.send)
    chunks.add("one ")
    await asyncio.sleep(0)  # the writer waits for the LLM: the first append starts
    for word in ("two ", "three ", "four "):
        chunks.add(word)
    assert sink.started == ["one "]
    sink.gate.set()
    await chunks.flush()
    assert sink.sent == ["one ", "two three four "]


async def test_each_delta_once_in_order_whatever_the_timing():
    sink = Sink()
    sink.gate.set()
    chunks = CoalescedChunks(sink.send)
    words = [f"w{i} " for i in range(50)]
    for n, word in enumerate(words):
        chunks.add(word)
        for _ in range(n % 3):  # sometimes the append finishes between deltas, sometimes not
            await asyncio.sleep(0)
    await chunks.flush()
    assert "".join(sink.sent) == "".join(words) and len(sink.sent) < len(words)


async def test_a_failed_append_is_raised_to_the_writer():
    sink = Sink()
    sink.fail_on = "one "
    chunks = CoalescedChunks(sink.send)
    chunks.add("one ")
    await asyncio.sleep(0)
    sink.gate.set()
    await asyncio.sleep(0)
    with pytest.raises(ConnectionError):
        chunks.add("two ")
    assert sink.sent == []


async def test_dropped_the_append_in_flight_finishes_and_nothing_more_is_sent():
    sink = Sink()
    chunks = CoalescedChunks(sink.send)
    chunks.add("one ")
    await asyncio.sleep(0)
    chunks.add("two ")
    dropping = asyncio.create_task(chunks.drop())
    await asyncio.sleep(0)
    assert not dropping.done()  # waits for "one " to be appended
    sink.gate.set()
    await dropping
    assert sink.sent == ["one "] and sink.started == ["one "]
