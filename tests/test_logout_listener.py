"""The logout listener on the Redis URLs an operator may give it."""

from __future__ import annotations

import asyncio
import shutil
import subprocess

from redis.asyncio import Redis

from service.socket_registry import LOGOUT_CHANNEL, SocketRegistry, listen_for_logouts


class Recorder:
    def __init__(self) -> None:
        self.closed: list[tuple[int, str]] = []

    def request_close(self, code: int, reason: str) -> None:
        self.closed.append((code, reason))


async def test_a_unix_socket_redis_url_subscribes_and_closes_the_sessions_sockets(tmp_path):
    sock = tmp_path / "redis.sock"
    server = subprocess.Popen(
        [
            shutil.which("redis-server") or "redis-server",
            "--port",
            "0",
            "--unixsocket",
            str(sock),
            "--save",
            "",
            "--dir",
            str(tmp_path),
        ],
        stdout=subprocess.DEVNULL,
    )
    registry, socket = SocketRegistry(), Recorder()
    registry.add("s1", socket)
    listener = None
    redis = Redis.from_url(f"unix://{sock}")
    try:
        async with asyncio.timeout(10):
            while not sock.exists():
                await asyncio.sleep(0.02)
            listener = asyncio.create_task(listen_for_logouts(f"unix://{sock}", registry, 1.0))
            while (await redis.pubsub_numsub(LOGOUT_CHANNEL))[0][1] < 1:
                assert not listener.done()
                await asyncio.sleep(0.02)
            await redis.publish(LOGOUT_CHANNEL, "s1")
            while not socket.closed:
                await asyncio.sleep(0.02)
        assert socket.closed == [(4401, "session has been logged out")]
    finally:
        if listener is not None:
            listener.cancel()
        await redis.aclose()
        server.terminate()
        server.wait(10)
