"""`GET /api/v1/events`: one event stream per user, across tabs and devices (issue 24, item 3).

Real redis-server, real uvicorn, the real Anthropic SDK against the stub and the real chat
worker (the `api` fixture). An SSE listener here reads the stream as an EventSource would.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx

from shared.redis_structures.user_events import events_key
from tests.support.client import Api, Login
from tests.support.product import serve_product
from tests.support.settings import make_settings
from tests.support.sse import Event, read_events
from tests.support.worker import drain_queue
from tests.test_reply_streams import REPLY, post


class Listener:
    """One open `GET /api/v1/events`: its events arrive on a queue as they are read."""

    def __init__(self) -> None:
        self.events: asyncio.Queue[Event] = asyncio.Queue()

    async def next(self, event: str, seconds: float = 15) -> Event:
        """The next event of that name (others before it are passed over)."""
        async with asyncio.timeout(seconds):
            while True:
                got = await self.events.get()
                if got.event == event:
                    return got


@contextlib.asynccontextmanager
async def listening(http: httpx.AsyncClient, headers: dict[str, str]) -> AsyncIterator[Listener]:
    listener = Listener()
    opened = asyncio.Event()

    async def read() -> None:
        async with http.stream("GET", "/api/v1/events", headers=headers, timeout=30) as response:
            assert response.status_code == 200 and response.headers["content-type"].startswith("text/event-stream")
            opened.set()
            fields: dict[str, str] = {}
            async for line in response.aiter_lines():
                if line.startswith(":"):
                    continue
                if line:
                    name, _, value = line.partition(":")
                    fields[name] = value[1:] if value.startswith(" ") else value
                    continue
                if "data" in fields:
                    listener.events.put_nowait(
                        Event(fields.get("id"), fields.get("event", "message"), json.loads(fields["data"]))
                    )
                fields = {}

    task = asyncio.create_task(read())
    try:
        async with asyncio.timeout(10):
            await opened.wait()
        yield listener
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def second_device(api: Api, login: Login) -> Login:
    """The same person signed in again elsewhere: another session, the same user."""
    return await api.login(login.email, login.password, login.user_id)


async def test_a_message_from_one_device_and_its_reply_reach_the_other(api, stub_llm):
    stub_llm.reply_text = REPLY
    laptop = await api.new_user()
    phone = await second_device(api, laptop)
    async with listening(api.http, phone.headers) as other:
        ready = await other.next("ready")
        accepted = await post(api, laptop, "I want to run a marathon")
        message = await other.next("message")
        assert message.data == {
            "conversation_id": accepted["conversation_id"],
            "message_id": accepted["message_id"],
            "content": "I want to run a marathon",
            "reply_id": accepted["reply_id"],
            "stream_url": accepted["stream_url"],
        }
        assert message.id and message.id > (ready.id or "")
        # The phone follows the reply it was told of, and gets all of it.
        received = await read_events(api.http, message.data["stream_url"], phone.headers)
        assert received.events[-1].event == "done" and received.text == REPLY + " "


async def test_events_are_each_users_own(api, stub_llm):
    stub_llm.reply_text = REPLY
    mine, theirs = await api.new_user(), await api.new_user()
    async with listening(api.http, theirs.headers) as stranger:
        await stranger.next("ready")
        await post(api, mine, "a private thought")
        own = await post(api, theirs, "their own message")
        got = await stranger.next("message")
        assert got.data["reply_id"] == own["reply_id"]  # theirs came; mine never did
        assert stranger.events.empty()


async def test_a_reconnect_with_last_event_id_gets_what_it_missed_and_nothing_twice(api, stub_llm):
    stub_llm.reply_text = REPLY
    login = await api.new_user()
    async with listening(api.http, login.headers) as first:
        await first.next("ready")
        one = await post(api, login, "first")
        seen = await first.next("message")
        assert seen.data["reply_id"] == one["reply_id"]
    await read_events(api.http, one["stream_url"], login.headers)  # the session is free again
    two = await post(api, login, "second, while away")  # sent while no page listened
    async with listening(api.http, {**login.headers, "Last-Event-ID": seen.id or ""}) as again:
        missed = await again.next("message")
        assert missed.data["reply_id"] == two["reply_id"] and missed.data["content"] == "second, while away"
        assert again.events.empty()  # no `ready` list on a resume, and the first message not again


async def test_a_fresh_page_is_told_which_replies_are_still_being_written(api, stub_llm):
    """What `/api/v1/chat/active-streams` answered, the event stream now opens with."""
    stub_llm.reply_text, stub_llm.chunk_delay = REPLY, 0.3
    login = await api.new_user()
    accepted = await post(api, login)
    async with listening(api.http, login.headers) as page:
        await page.next("ready")
        active = await page.next("reply")
        assert active.data == {
            "conversation_id": accepted["conversation_id"],
            "reply_id": accepted["reply_id"],
            "message_id": accepted["message_id"],
            "stream_url": accepted["stream_url"],
        }


async def test_a_retry_is_told_to_the_other_pages_with_the_reply_it_replaces(api, stub_llm):
    from tests.test_retry_and_resends import failed_reply, retry_url

    login = await api.new_user()
    failed = await failed_reply(api, login, stub_llm)
    stub_llm.reply_text = REPLY
    async with listening(api.http, login.headers) as other:
        await other.next("ready")
        again = (await api.http.post(retry_url(failed["reply_id"]), headers=login.headers)).json()
        told = await other.next("reply")
        assert told.data == {
            "conversation_id": failed["conversation_id"],
            "reply_id": again["reply_id"],
            "message_id": failed["message_id"],
            "retry_of": failed["reply_id"],
            "stream_url": again["stream_url"],
        }


async def test_bad_requests_for_events_are_refused(api):
    login = await api.new_user()
    assert (await api.http.get("/api/v1/events")).status_code == 401
    for bad in ("not-an-id", "1-2-3", "\u0661-0"):
        response = await api.http.get("/api/v1/events", headers={**login.headers, "Last-Event-ID": bad.encode()})
        assert response.status_code == 400 and "is not an event id" in response.json()["detail"]
    response = await api.http.get("/api/v1/events?after=nope", headers=login.headers)
    assert response.status_code == 400


async def test_the_coach_noted_n_things_after_an_extraction(redis_url, mongo_client, stub_llm):
    """Signing out on one device enqueues the extraction; the other device hears what was noted."""
    settings = make_settings(redis_url, llm_provider="offline")
    async with serve_product(settings, mongo_client) as api:
        login = await api.new_user()
        other = await second_device(api, login)
        await api.chat(login, "I want to learn piano. I prefer short lessons.")
        async with listening(api.http, other.headers) as page:
            await page.next("ready")
            await api.logout(login)
            await drain_queue(settings, mongo_client)
            noted = await page.next("noted")
            assert noted.data == {"count": 2, "source": "extraction"}


async def test_deleting_the_account_deletes_its_event_stream(api, redis_url, stub_llm):
    import redis.asyncio as aioredis

    stub_llm.reply_text = REPLY
    login = await api.new_user()
    accepted = await post(api, login)
    await read_events(api.http, accepted["stream_url"], login.headers)
    client: Any = aioredis.Redis.from_url(redis_url)
    try:
        assert await client.exists(events_key(login.user_id))
        assert (await api.http.delete("/api/v1/account", headers=login.headers)).status_code == 200
        assert not await client.exists(events_key(login.user_id))
    finally:
        await client.aclose()
