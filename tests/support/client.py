"""A test client that talks to the service the way a user's app would: HTTP and WebSocket."""

from __future__ import annotations

import asyncio
import json
import uuid
from dataclasses import dataclass
from typing import Any

import httpx
import websockets


@dataclass
class Login:
    token: str
    session_id: str
    user_id: str
    email: str
    password: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


class Api:
    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        # Plain HTTP on loopback: verify=False spares loading a CA bundle no request uses
        # (about 80 ms of CPU per client, once per test).
        self.http = httpx.AsyncClient(base_url=base_url, timeout=10, verify=False)

    async def __aenter__(self) -> Api:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.http.aclose()

    def ws_url(self, token: str | None) -> str:
        url = self.base_url.replace("http://", "ws://") + "/ws/chat"
        return url if token is None else f"{url}?token={token}"

    async def new_user(self, password: str = "correct horse") -> Login:
        email = f"user-{uuid.uuid4().hex[:10]}@example.com"
        registered = await self.http.post("/api/v1/auth/register", json={"email": email, "password": password})
        assert registered.status_code == 201, registered.text
        return await self.login(email, password, registered.json()["user_id"])

    async def login(self, email: str, password: str, user_id: str) -> Login:
        response = await self.http.post("/api/v1/auth/login", json={"email": email, "password": password})
        assert response.status_code == 200, response.text
        body = response.json()
        return Login(body["access_token"], body["session_id"], user_id, email, password)

    async def logout(self, login: Login) -> dict[str, Any]:
        response = await self.http.post("/api/v1/auth/logout", headers=login.headers)
        assert response.status_code == 200, response.text
        return response.json()

    async def memory(self, login: Login) -> dict[str, Any]:
        response = await self.http.get("/api/v1/memory", headers=login.headers)
        assert response.status_code == 200, response.text
        return response.json()

    def connect(self, login: Login) -> Any:
        return websockets.connect(self.ws_url(login.token))

    async def chat(self, login: Login, *contents: str) -> list[dict[str, Any]]:
        """Send each message on one socket, then close it; returns each reply's frames."""
        replies = []
        async with self.connect(login) as ws:
            for content in contents:
                replies.append(await say(ws, content))
        return replies


async def say(ws: Any, content: str) -> list[dict[str, Any]]:
    await ws.send(json.dumps({"type": "message", "content": content}))
    return await read_reply(ws)


async def read_reply(ws: Any, seconds: float = 30) -> list[dict[str, Any]]:
    """The frames of one message, `accepted` to `done` (or the error that ends it)."""
    frames = []
    async with asyncio.timeout(seconds):  # a reply nobody writes fails the test, not the suite
        while True:
            frame = json.loads(await ws.recv())
            frames.append(frame)
            if frame["type"] in ("done", "error"):
                return frames


def reply_text(frames: list[dict[str, Any]]) -> str:
    """What a client shows: chunks added up, a `reset` replacing what came before."""
    text = ""
    for f in frames:
        text = f["text"] if f["type"] == "reset" else text + f["text"] if f["type"] == "chunk" else text
    return text
