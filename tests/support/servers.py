"""Run an ASGI app on a real loopback socket inside the test's event loop."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from typing import Any

import uvicorn


class _Server(uvicorn.Server):
    """uvicorn's own server, stopped by an event instead of its 0.1 s polling tick: tests
    start and stop one or two per test, and the ticks added up to a minute a suite run."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.stopping = asyncio.Event()

    async def main_loop(self) -> None:
        await self.on_tick(0)  # the default headers (date, server), as uvicorn's loop sets them
        await self.stopping.wait()

    def stop(self) -> None:
        self.should_exit = True
        self.stopping.set()


@contextlib.asynccontextmanager
async def serve_app(app: Any, **config: Any) -> AsyncIterator[str]:
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    # A short graceful shutdown: a stub holding a request open must not hold up teardown.
    config.setdefault("timeout_graceful_shutdown", 1)
    server = _Server(uvicorn.Config(app, log_level="warning", **config))
    # Tests stop the server themselves; uvicorn must not take over Ctrl-C from pytest.
    server.capture_signals = contextlib.nullcontext  # type: ignore[method-assign]
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        if task.done():
            sock.close()
            task.result()
            raise RuntimeError("server stopped during start-up")
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()
        await task
        sock.close()
