"""Redis on a bad day, on demand: one that speaks just enough RESP for arq's pickup and
enqueue and closes the connection when it receives one chosen command (`dropping_redis`),
and one that never answers a command (`silent_redis`, a stalled server); and a proxy to a
real Redis that drops one connection at one chosen command (`redis_dropping_once`).

`dropping_redis` answers every command as an empty Redis would (no keys, no scores); MULTI
queues what follows until EXEC. `drop_at` names the command that finds the connection closed.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable

EMPTY_ANSWERS = {b"EXISTS": b":0\r\n", b"ZSCORE": b"$-1\r\n", b"GET": b"$-1\r\n"}


async def read_command(reader: asyncio.StreamReader) -> list[bytes] | None:
    header = await reader.readline()
    if not header:
        return None
    assert header.startswith(b"*"), header
    parts = []
    for _ in range(int(header[1:])):
        size = int((await reader.readline())[1:])
        parts.append((await reader.readexactly(size + 2))[:-2])
    return parts


@contextlib.asynccontextmanager
async def listening(
    handler: Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]],
) -> AsyncIterator[str]:
    """A loopback server for `handler` on a free port, as a redis:// URL."""
    server = await asyncio.start_server(handler, "127.0.0.1", 0)
    try:
        yield f"redis://127.0.0.1:{server.sockets[0].getsockname()[1]}/0"
    finally:
        server.close()


@contextlib.asynccontextmanager
async def dropping_redis(drop_at: str) -> AsyncIterator[str]:
    """Yields the redis:// URL of a server that closes a connection on `drop_at` (say "EXEC")."""

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        in_multi = False
        try:
            while (command := await read_command(reader)) is not None:
                name = command[0].upper()
                if name == drop_at.encode():
                    return
                if name == b"MULTI":
                    in_multi, answer = True, b"+OK\r\n"
                elif in_multi and name != b"EXEC":
                    answer = b"+QUEUED\r\n"
                else:
                    answer = EMPTY_ANSWERS.get(name, b"+OK\r\n")
                writer.write(answer)
                await writer.drain()
        finally:
            writer.close()

    async with listening(serve) as url:
        yield url


@contextlib.asynccontextmanager
async def silent_redis() -> AsyncIterator[tuple[str, list[list[bytes]]]]:
    """Yields the redis:// URL and the list of commands it has been sent. It answers only the
    connection's set-up (CLIENT SETINFO), so each client gets as far as its first command."""
    received: list[list[bytes]] = []

    async def listen(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while (command := await read_command(reader)) is not None:
                if command[0].upper() == b"CLIENT":
                    writer.write(b"+OK\r\n")
                    await writer.drain()
                else:
                    received.append(command)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass  # the client gave up on us, as it should
        finally:
            writer.close()

    async with listening(listen) as url:
        yield url, received


@contextlib.asynccontextmanager
async def redis_dropping_once(real_url: str, drop_at: str) -> AsyncIterator[str]:
    """Yields the redis:// URL of a proxy to a real Redis that closes the first connection to
    send `drop_at` (say "INFO") as it arrives: Redis going away at that one moment, then back."""
    upstream_host, upstream_port = real_url.split("//")[1].split("/")[0].split(":")
    dropped = False

    async def relay(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal dropped
        up_reader, up_writer = await asyncio.open_connection(upstream_host, int(upstream_port))

        async def answers() -> None:
            while data := await up_reader.read(65536):
                writer.write(data)
                await writer.drain()

        copying = asyncio.create_task(answers())
        try:
            while (command := await read_command(reader)) is not None:
                if command[0].upper() == drop_at.encode() and not dropped:
                    dropped = True
                    return
                up_writer.write(b"*%d\r\n" % len(command) + b"".join(b"$%d\r\n%s\r\n" % (len(p), p) for p in command))
                await up_writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            copying.cancel()
            up_writer.close()
            writer.close()

    async with listening(relay) as url:
        yield url
