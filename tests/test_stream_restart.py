"""A reply streamed across a Redis restart never ends `done` after a gap.

The reply streams live on their own real redis-server (STREAMS_REDIS_URL), which is killed
and started again, empty, on its port mid-reply: what a Redis without persistence does. The
worker finds its stream lost and starts it again with a `reset` event carrying the text so
far; every client (an SSE reader that stays connected, one that reconnects with
Last-Event-ID as EventSource does, a socket relay) ends with exactly the stored text.
Before: the chunks written after the restart were dropped and `done` made the stream again,
so clients got a hole and were told the reply was done.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from allinone.redis_process import RedisProcess
from shared.store.mongo import REPLIES
from tests.support.client import reply_text
from tests.support.product import serve_product
from tests.support.running_worker import wait_for
from tests.support.sse import read_events

WORDS = 30


async def socket_frames(api: Any, login: Any, reply_id: str) -> list[dict[str, Any]]:
    frames: list[dict[str, Any]] = []
    async with api.connect(login) as ws:
        await ws.send(json.dumps({"type": "resume", "reply_id": reply_id, "after": "0-0"}))
        while not frames or frames[-1]["type"] not in ("done", "error"):
            frames.append(json.loads(await asyncio.wait_for(ws.recv(), 30)))
    return frames


async def test_a_reply_streamed_across_a_redis_restart_reaches_every_client_whole(settings, mongo_client, stub_llm, db):
    stub_llm.reply_text = " ".join(f"word{i}" for i in range(WORDS))
    stub_llm.chunk_delay = 0.1
    streams_redis = RedisProcess().start()
    try:
        settings = settings.model_copy(update={"streams_redis_url": streams_redis.url, "stream_keepalive_seconds": 1.0})
        async with serve_product(settings, mongo_client) as api:
            login = await api.new_user()
            accepted = (await api.http.post("/api/v1/chat/messages", json={"content": "hi"}, headers=login.headers)).json()
            url = accepted["stream_url"]
            staying = asyncio.create_task(read_events(api.http, url, login.headers))
            relayed = asyncio.create_task(socket_frames(api, login, accepted["reply_id"]))
            leaving = await read_events(api.http, url, login.headers, stop_after_chunks=5)
            streams_redis.stop()  # killed mid-reply; its streams are gone with it
            await asyncio.sleep(0.5)  # chunks are written meanwhile, into nothing
            streams_redis.start()
            # The client that left comes back with the last id it had, as EventSource does.
            async with asyncio.timeout(60):  # before: the clients could wait for ever
                back = await read_events(api.http, url, {**login.headers, "Last-Event-ID": leaving.last_id or ""})
                stayed, frames = await staying, await relayed

            async def ended() -> dict[str, Any] | None:
                doc = await db[REPLIES].find_one({"_id": accepted["reply_id"]})
                return doc if doc and doc["status"] != "generating" else None

            stored = await wait_for(ended)
    finally:
        streams_redis.stop()
    whole = stub_llm.reply_text + " "
    assert stored["status"] == "done" and stored["text"] == whole
    assert stayed.events[-1].event == "done" and stayed.text == whole
    shown = back.text if any(e.event == "reset" for e in back.events) else leaving.text + back.text
    assert back.events[-1].event == "done" and shown == whole
    assert frames[-1]["type"] == "done" and reply_text(frames) == whole
    assert any(e.event == "reset" for e in stayed.events), "the restart did not lose the stream: nothing was tested"
