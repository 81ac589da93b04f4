"""Slow clients are cut off: headers and bodies have a time limit; normal clients never notice.

The service runs under uvicorn with the protocol the all-in-one and the compose file use
(limits set to 1 s here). A slowloris client sends one header line every 0.25 s; it is cut
long before it runs out of lines.
"""

from __future__ import annotations

import asyncio
import json

import pytest

from service.app import create_app
from service.header_timeout import H11HttpProtocol, HttpProtocol, protocol_with_header_timeout
from tests.support.client import Api, say
from tests.support.running_worker import running_worker
from tests.support.servers import serve_app
from tests.support.settings import make_settings
from tests.support.waiting import wait_for

pytestmark = pytest.mark.slow  # every test waits out a header or body time limit

LIMIT = 1.0
LINES = 40  # 10 s of header lines at one per 0.25 s: ten times the limit


@pytest.fixture(params=[HttpProtocol, H11HttpProtocol], ids=["httptools", "h11"])
async def service(request, redis_url, mongo_client):
    settings = make_settings(redis_url, llm_provider="offline", http_body_timeout_seconds=LIMIT)
    app = create_app(settings, mongo_client=mongo_client)
    async with serve_app(app, http=protocol_with_header_timeout(LIMIT, request.param)) as url:
        async with running_worker(settings, mongo_client, queues="chat"):  # it writes the replies
            yield url


async def open_connection(url: str):
    host, port = url.removeprefix("http://").split(":")
    return await asyncio.open_connection(host, int(port))


async def slowloris(url: str, started: list[None] | None = None) -> tuple[int, bytes]:
    """Send a request's headers one line at a time; returns (lines sent, what came back).
    `started` gets one entry once the connection is open and its first line sent."""
    reader, writer = await open_connection(url)
    writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
    await writer.drain()
    if started is not None:
        started.append(None)
    answer = asyncio.create_task(reader.read())  # everything until the server closes
    sent = 0
    try:
        while sent < LINES and not answer.done():
            await asyncio.sleep(0.25)
            try:
                writer.write(f"X-Slow-{sent}: 1\r\n".encode())
                await writer.drain()
            except ConnectionError:
                break
            sent += 1
        if sent == LINES:
            return sent, b""  # never cut
        return sent, await asyncio.wait_for(answer, 5)
    finally:
        answer.cancel()
        writer.close()


def status_and_body(raw: bytes) -> tuple[int, dict]:
    head, _, body = raw.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(body)


async def test_a_slowloris_client_is_cut_after_the_limit_with_408(service):
    sent, raw = await slowloris(service)
    assert sent < LINES, "the connection was still open after every header line"
    status, body = status_and_body(raw)
    assert status == 408 and "headers did not arrive" in body["detail"]


async def test_many_slow_clients_are_all_cut_and_a_normal_client_is_served_meanwhile(service):
    started: list[None] = []
    attack = [asyncio.create_task(slowloris(service, started)) for _ in range(20)]
    await wait_for(lambda: len(started) == 20, what="twenty slow clients connected")
    async with Api(service) as api:
        assert (await api.http.get("/healthz")).status_code == 200
    results = await asyncio.gather(*attack)
    assert all(sent < LINES for sent, _ in results)
    assert {status_and_body(raw)[0] for _, raw in results} == {408}


async def request(reader, writer, raw: bytes) -> bytes:
    writer.write(raw)
    head = await reader.readuntil(b"\r\n\r\n")
    length = int(next(line for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")).split(b":")[1])
    return head + await reader.readexactly(length)


async def test_an_idle_kept_alive_connection_outlives_the_header_limit(service):
    reader, writer = await open_connection(service)
    try:
        first = await request(reader, writer, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        await asyncio.sleep(LIMIT * 1.5)  # idle between requests: uvicorn's keep-alive (5 s) rules here
        second = await request(reader, writer, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    finally:
        writer.close()
    assert first.startswith(b"HTTP/1.1 200") and second.startswith(b"HTTP/1.1 200")


async def test_a_websocket_stays_open_past_the_header_limit(service):
    async with Api(service) as api:
        login = await api.new_user()
        async with api.connect(login) as ws:
            await asyncio.sleep(LIMIT * 1.5)
            assert (await say(ws, "still here"))[-1]["type"] == "done"


async def test_a_body_that_trickles_is_cut_with_408_and_the_connection_closed(service):
    reader, writer = await open_connection(service)
    try:
        writer.write(
            b'POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 60\r\n\r\n{"em'
        )
        raw = await asyncio.wait_for(reader.read(), 5 + LIMIT)  # read() returns once the server closes
    finally:
        writer.close()
    status, body = status_and_body(raw)
    assert status == 408 and "body did not arrive" in body["detail"]
    assert b"connection: close" in raw.lower()


async def test_a_body_the_handler_never_reads_cannot_hold_the_connection(service):
    # Logout answers from the headers alone (401 here); the rest of the body trickles after.
    reader, writer = await open_connection(service)
    sent = 0
    try:
        writer.write(b"POST /api/v1/auth/logout HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\nxx")
        answer = asyncio.create_task(reader.read())
        while sent < LINES and not answer.done():
            await asyncio.sleep(0.25)
            try:
                writer.write(b"x")
                await writer.drain()
            except ConnectionError:
                break
            sent += 1
        assert sent < LINES, "the connection was still open after the whole trickle"
        raw = await asyncio.wait_for(answer, 5)
    finally:
        writer.close()
    assert raw.startswith(b"HTTP/1.1 401")
