"""A chat socket's frames of every kind have a budget, and a socket its client dropped ends at once.

Real redis-server, real uvicorn, real WebSockets, the real Anthropic SDK against the stub.
Before: `resume` frames skipped every limit (6,400 a second were relayed); a client that
dropped 5 flooding sockets found them counted open for tens of seconds (its reconnect got
4429) and a shutdown waited out its whole grace on their tasks; and a client gone before its
4429 close was sent logged an ERROR "Exception in ASGI application".
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest
import websockets
from redis.asyncio import Redis

import service.chat_socket
from service.app import create_app
from tests.support.client import Api, Login
from tests.support.running_worker import running_worker
from tests.support.servers import serve_app
from tests.support.sse import read_events
from tests.test_reply_streams import post

BOUND = 5.0


@pytest.fixture
def short_pauses(monkeypatch):
    # The pause after a frame over budget is up to a second; the tests need not wait it.
    monkeypatch.setattr(service.chat_socket, "OVER_BUDGET_PAUSE_SECONDS", 0.02)


@contextlib.asynccontextmanager
async def product(settings: Any, mongo_client: Any, grace: float = 1, **overrides: Any) -> AsyncIterator[tuple[Api, Any]]:
    settings = settings.model_copy(update=overrides)
    app = create_app(settings, mongo_client=mongo_client)
    async with serve_app(app, timeout_graceful_shutdown=grace) as url:
        async with running_worker(settings, mongo_client, queues="chat"), Api(url) as api:
            yield api, app


async def finished_reply(api: Api, login: Login) -> tuple[str, str]:
    """A reply written to its end: (reply id, its done event's id)."""
    accepted = await post(api, login)
    received = await read_events(api.http, accepted["stream_url"], login.headers)
    assert received.events[-1].event == "done"
    return accepted["reply_id"], received.events[-1].id or ""


def resume(reply_id: str, after: str) -> str:
    return json.dumps({"type": "resume", "reply_id": reply_id, "after": after})


async def answers(ws: Any, count: int) -> list[str]:
    """The codes of the next `count` frames (each of these resumes is answered by one)."""
    async with asyncio.timeout(BOUND):
        return [json.loads(await ws.recv())["code"] for _ in range(count)]


async def test_resume_frames_count_against_the_sockets_budget(settings, mongo_client, stub_llm, short_pauses):
    async with product(settings, mongo_client, ws_frames_per_minute_per_socket=10) as (api, _):
        login = await api.new_user()
        reply_id, done_id = await finished_reply(api, login)
        async with api.connect(login) as ws:
            for _ in range(14):
                await ws.send(resume(reply_id, done_id))  # each answered `ended`, until the budget is spent
            codes = await answers(ws, 14)
            limited = json.loads(await _refused(ws, reply_id, done_id))
    assert codes == ["ended"] * 10 + ["rate_limited"] * 4, codes
    assert limited["retry_after"] >= 1 and "per socket" in limited["detail"]


async def _refused(ws: Any, reply_id: str, done_id: str) -> str:
    await ws.send(resume(reply_id, done_id))
    async with asyncio.timeout(BOUND):
        return str(await ws.recv())


async def test_frames_of_one_users_sockets_share_the_users_budget(settings, mongo_client, stub_llm, short_pauses):
    async with product(settings, mongo_client, ws_frames_per_minute_per_socket=10, ws_frames_per_minute_per_user=12) as (
        api,
        _,
    ):
        login = await api.new_user()
        reply_id, done_id = await finished_reply(api, login)
        async with api.connect(login) as one, api.connect(login) as two:
            for _ in range(8):
                await one.send(resume(reply_id, done_id))
            assert await answers(one, 8) == ["ended"] * 8
            for _ in range(8):
                await two.send(json.dumps({"type": "nonsense"}))  # malformed frames count too
            second = await answers(two, 8)
    assert second == ["unknown_type"] * 4 + ["rate_limited"] * 4, second


@pytest.mark.slow  # a flood of 10,000 frames
async def test_dropped_flooding_sockets_free_their_places_at_once_and_do_not_hold_up_shutdown(
    settings, mongo_client, stub_llm, capfd
):
    stub_llm.reply_text = "word " * 200  # each resume from the start relays 201 frames
    # The user budget would refuse the reconnect's resume after such a flood: not what is tested here.
    async with product(settings, mongo_client, grace=BOUND, ws_frames_per_minute_per_user=100_000) as (api, _):
        login = await api.new_user()
        reply_id, _ = await finished_reply(api, login)
        flooders = [await websockets.connect(api.ws_url(login.token)) for _ in range(5)]

        async def flood(ws: Any) -> None:
            with contextlib.suppress(websockets.ConnectionClosed, TimeoutError):
                for _ in range(2_000):  # never reading what comes back
                    await asyncio.wait_for(ws.send(resume(reply_id, "0-0")), 2)

        await asyncio.gather(*(flood(ws) for ws in flooders))
        for ws in flooders:
            ws.transport.abort()  # the client is gone: no close frame, a reset
        redis = Redis.from_url(settings.redis_url)
        try:
            async with asyncio.timeout(BOUND):
                while await redis.zcard(f"chat:sockets:{login.user_id}"):
                    await asyncio.sleep(0.05)
        finally:
            await redis.aclose()
        async with api.connect(login) as ws:  # a place is free again
            await ws.send(resume(reply_id, "0-0"))
            assert json.loads(await ws.recv())["type"] == "chunk"
    # The service stopped within its grace: no task of a dropped socket was still running.
    assert "graceful shutdown exceeded" not in capfd.readouterr().err


async def test_a_client_gone_before_its_4429_close_is_not_an_error(settings, mongo_client):
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append  # type: ignore[method-assign]
    try:
        async with product(settings, mongo_client) as (api, app):
            # uvicorn's own logger, where it reports an exception the app let out (once its
            # server has configured it: that drops handlers added earlier).
            logging.getLogger("uvicorn.error").addHandler(handler)
            login = await api.new_user()
            gone = asyncio.Event()

            async def full(user_id: str, socket_id: str) -> bool:
                await gone.wait()
                await asyncio.sleep(0.2)  # the reset reaches the server (same loop, loopback)
                return False  # as if the user had MAX_SOCKETS_PER_USER open

            app.state.resources.chat_limits.open_socket = full
            ws = await websockets.connect(api.ws_url(login.token))
            ws.transport.abort()
            gone.set()
            await asyncio.sleep(0.5)
    finally:
        logging.getLogger("uvicorn.error").removeHandler(handler)
    errors = [r.getMessage() for r in records if r.levelno >= logging.ERROR]
    assert errors == []
