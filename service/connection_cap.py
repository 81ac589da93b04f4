"""At most MAX_OPEN_CONNECTIONS requests and sockets open in this process; past it, 503.

Issue 25 reached 19,843 of 20,000 file descriptors with open streams: then `accept()` failed
for everyone, with a traceback each. Each open request or socket holds at least one
descriptor, so past the cap (by default half the process's open-file limit) a new one gets
a clean 503 in the API's error shape, `Retry-After: 1`, and the connection is closed; a
WebSocket handshake gets the same 503 as its HTTP answer. `/healthz` is never refused: an
orchestrator must not restart a process for being busy. One warning a minute, with counts.
"""

from __future__ import annotations

import json
import logging

from starlette.types import ASGIApp, Receive, Scope, Send

from shared.process.cap_warning import CapWarning

log = logging.getLogger(__name__)

EXEMPT = frozenset({"/healthz"})


class ConnectionCap:
    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit
        self.open = 0
        self.refusals = CapWarning(log, f"open requests and sockets over MAX_OPEN_CONNECTIONS ({limit}): 503")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or scope["path"] in EXEMPT:
            await self.app(scope, receive, send)
            return
        if self.open >= self.limit:
            self.refusals.hit(f"{self.open} open")
            await self.refuse(scope, receive, send)
            return
        self.open += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.open -= 1

    async def refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = json.dumps({"detail": f"this server has {self.limit} connections open; try again shortly", "errors": []})
        headers = [(b"content-type", b"application/json"), (b"retry-after", b"1"), (b"connection", b"close")]
        if scope["type"] == "http":
            await send({"type": "http.response.start", "status": 503, "headers": headers})
            await send({"type": "http.response.body", "body": body.encode()})
            return
        await receive()  # websocket.connect
        if "websocket.http.response" in scope.get("extensions", {}):
            await send({"type": "websocket.http.response.start", "status": 503, "headers": headers[:2]})
            await send({"type": "websocket.http.response.body", "body": body.encode()})
        else:
            await send({"type": "websocket.close", "code": 1013})  # try again later
