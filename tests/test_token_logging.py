"""The access token is read from one spelling only, and never reaches a log in any spelling.

A real uvicorn process with its access log on (as the README runs it); every variant of
putting the JWT in a URL is tried, then the captured output is searched for the token.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import websockets

from allinone.redis_process import free_port
from tests.support.client import read_reply
from tests.support.settings import JWT_SECRET
from tests.support.waiting import wait_for

pytestmark = pytest.mark.slow  # a service process

ROOT = Path(__file__).resolve().parent.parent
CLOSE_UNAUTHORIZED = 4401


@pytest.fixture
def logged_service(redis_server, tmp_path) -> Iterator[tuple[str, Path]]:
    port = free_port()
    env = {
        **os.environ,
        "MONGODB_URI": "memory://",
        "ALLOW_IN_MEMORY_MONGODB": "true",  # a throwaway service: only its log is read
        "REDIS_URL": redis_server.url,
        "QUEUE_NAME": f"tokens:{uuid.uuid4().hex[:8]}",
        "JWT_SECRET": JWT_SECRET,
        "LLM_PROVIDER": "offline",
        "PASSWORD_HASH_TIME_COST": "1",
        "PASSWORD_HASH_MEMORY_KIB": "1024",
    }
    log_path = tmp_path / "service.log"
    command = [sys.executable, "-m", "uvicorn", "service.app:create_app", "--factory", "--port", str(port), "--log-level", "info"]
    with log_path.open("w") as log:
        proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            assert proc.poll() is None, log_path.read_text()
            try:
                httpx.get(f"{url}/healthz").raise_for_status()
                break
            except httpx.TransportError:
                time.sleep(0.05)
        yield url, log_path
    finally:
        proc.terminate()
        proc.wait(timeout=10)


async def close_code(url: str) -> int | None:
    """How the server ends a socket opened at url: a close code, or None if it chats."""
    try:
        async with websockets.connect(url) as ws:
            await ws.send("[]")
            [frame] = await read_reply(ws)
            assert frame["code"] == "invalid_frame"
            return None
    except websockets.ConnectionClosed as closed:
        return closed.rcvd.code if closed.rcvd else None
    except websockets.InvalidStatus as refused:  # no route: refused at the handshake
        return refused.response.status_code


async def test_only_the_literal_token_parameter_is_read_and_no_spelling_is_logged(logged_service):
    url, log_path = logged_service
    credentials = {"email": "tok@example.com", "password": "password1"}
    async with httpx.AsyncClient(base_url=url) as http:
        assert (await http.post("/api/v1/auth/register", json=credentials)).status_code == 201
        jwt = (await http.post("/api/v1/auth/login", json=credentials)).json()["access_token"]
        # A token in an ordinary HTTP URL is not read either (only the Authorization header is).
        assert (await http.get(f"/api/v1/auth/me?access_token={jwt}")).status_code == 401
    signature = jwt.rsplit(".", 1)[1]
    encoded_jwt = "%65" + jwt[1:]  # the same token with its first letter percent-encoded
    ws = url.replace("http://", "ws://") + "/ws/chat"

    assert await close_code(f"{ws}?token={jwt}") is None  # the one spelling that is read
    variants = {
        "tok%65n": f"{ws}?tok%65n={jwt}",
        "%74oken": f"{ws}?%74oken={jwt}",
        "tok%2565n": f"{ws}?tok%2565n={jwt}",
        "TOKEN": f"{ws}?TOKEN={jwt}",
        "Token": f"{ws}?Token={jwt}",
        "twice": f"{ws}?token={jwt}&token={jwt}",
        "encoded value": f"{ws}?token={encoded_jwt}",
        "in another parameter": f"{ws}?next=%2Fws%2Fchat%3Ftoken%3D{jwt}",
        "no name": f"{ws}?{jwt}",
    }
    for name, variant in variants.items():
        assert await close_code(variant) == CLOSE_UNAUTHORIZED, name
    for path in (f"/ws/chat/{jwt}", f"/ws/chat;token={jwt}", f"/ws/{encoded_jwt}/chat"):
        assert await close_code(ws.removesuffix("/ws/chat") + path) == 403, path

    # Wait for the last access lines to reach the file: every attempt is logged...
    expected = 1 + len(variants) + 3
    await wait_for(lambda: log_path.read_text().count('"WebSocket /ws/') >= expected, what=f"{expected} access lines")
    log = log_path.read_text()
    assert jwt not in log and signature not in log, log  # ...without the token, in any form
    assert "token=[redacted]" in log
