"""One reader per process for every reply stream it relays: one blocked `XREAD` for all.

Before, each SSE stream and socket relay ran its own blocking `XREAD`, and a blocked command
holds its connection: 2,000 open streams held 2,009 Redis connections, which the pool kept
after they closed (issue 25). Here one background task holds one connection and asks
`XREAD BLOCK ... STREAMS k1 k2 ... id1 id2 ...` for every stream someone follows, from the
earliest event any of its followers still needs, and hands each follower the events after
its own cursor. A follower that joins while the read is blocked wakes it with `CLIENT
UNBLOCK` (on a pooled connection), so its stream is read at once, not at the next time-out.
Many followers of one reply cost one key in the read.

Supervised: a failure (Redis restarted, network, a bug) is logged once, the connection is
made again with backoff up to 5 s, and reading goes on from every follower's cursor, so a
follower sees neither a gap nor a repeat; while Redis is away, followers get keep-alives.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import AsyncIterator
from typing import Any

from redis.asyncio import Redis

from shared.redis_structures.reply_stream import (
    KEEP_ALIVE,
    KeepAlive,
    ReplyStreams,
    StreamEvent,
    decode_event,
    entry_id_parts,
    stream_key,
)
from shared.redis_structures.unavailable import REDIS_DOWN

log = logging.getLogger(__name__)

COUNT = 500  # entries per stream per read
BACKOFF_CAP_SECONDS = 5.0


def _order(entry_id: str) -> tuple[int, int]:
    return entry_id_parts(entry_id) or (0, 0)


class Follower:
    def __init__(self, key: str, after: str) -> None:
        self.key = key
        self.cursor = after
        self.events: asyncio.Queue[StreamEvent] = asyncio.Queue()


class StreamReader:
    def __init__(self, url: str, pool: Redis, *, timeout: float, block_seconds: float = 5.0) -> None:
        """`pool`: the shared client for short commands (the wake-up); `url`: where the
        reader makes its own connection."""
        self.url = url
        self.pool = pool
        self.timeout = timeout
        self.block_ms = max(1, int(block_seconds * 1000))
        self.followers: dict[str, set[Follower]] = defaultdict(set)
        self.joined = 0  # bumped by each follower that joins
        self.reading = -1  # the `joined` the read in flight was made with; -1: none in flight
        self.reader_id: int | None = None  # the reader connection's CLIENT ID
        self.someone = asyncio.Event()
        self._waking: asyncio.Task[None] | None = None

    # -- followers ----------------------------------------------------------------------

    @property
    def open_streams(self) -> int:
        return sum(len(f) for f in self.followers.values())

    async def follow(
        self, streams: ReplyStreams, reply_id: str, after: str, keepalive_seconds: float
    ) -> AsyncIterator[StreamEvent | KeepAlive]:
        """As ReplyStreams.follow: every event after `after` until the terminal one, and
        KEEP_ALIVE after each `keepalive_seconds` without one."""
        follower = Follower(stream_key(reply_id), after)
        self.followers[follower.key].add(follower)
        self.joined += 1
        self.someone.set()
        self.wake()
        try:
            while True:
                try:
                    async with asyncio.timeout(keepalive_seconds):
                        event = await follower.events.get()
                except TimeoutError:
                    if await self.ended_by(streams, reply_id, follower.cursor):
                        return  # `after` lies past the end the stream has now reached
                    yield KEEP_ALIVE
                    continue
                yield event
                if event.terminal:
                    return
        finally:
            followers = self.followers.get(follower.key)
            if followers is not None:
                followers.discard(follower)
                if not followers:
                    del self.followers[follower.key]

    @staticmethod
    async def ended_by(streams: ReplyStreams, reply_id: str, after: str) -> bool:
        try:
            return await streams.ended_by(reply_id, after)
        except REDIS_DOWN:
            return False  # the reader reports the outage; the follower keeps its line up

    def wake(self) -> None:
        if self._waking is None or self._waking.done():
            self._waking = asyncio.create_task(self._unblock())

    async def _unblock(self) -> None:
        """Until the read in flight includes every follower: unblock it. CLIENT UNBLOCK finds
        nothing to unblock while the read is still on its way to Redis: then try again."""
        try:
            while 0 <= self.reading < self.joined and self.reader_id is not None:
                if await self.pool.client_unblock(self.reader_id):
                    return
                await asyncio.sleep(0.005)
        except REDIS_DOWN:
            return  # the reader fails too, and reads again with everyone once Redis is back

    # -- the reader -----------------------------------------------------------------------

    async def run(self) -> None:
        """Run for the life of the process; never returns except by cancellation."""
        backoff, lost = 0.1, False
        while True:
            redis = Redis.from_url(
                self.url,
                single_connection_client=True,
                socket_connect_timeout=self.timeout,
                socket_timeout=self.block_ms / 1000 + max(self.timeout, 5.0),
            )
            try:
                self.reader_id = int(await redis.client_id())
                if lost:
                    log.warning("reply stream reader: reading again (%d followers)", self.open_streams)
                    lost, backoff = False, 0.1
                await self.read_forever(redis)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if not lost:
                    logged = log.warning if isinstance(exc, REDIS_DOWN) else log.exception
                    logged("reply stream reader: %s; reading again with backoff up to %g s", exc, BACKOFF_CAP_SECONDS)
                    lost = True
            finally:
                self.reading, self.reader_id = -1, None
                await redis.aclose()
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, BACKOFF_CAP_SECONDS)

    async def read_forever(self, redis: Redis) -> None:
        while True:
            raise_if_cancelled()
            if not self.followers:
                self.someone.clear()
                await self.someone.wait()
            cursors = {key: min((f.cursor for f in followers), key=_order) for key, followers in self.followers.items()}
            self.reading = self.joined
            found = await redis.xread(cursors, block=self.block_ms, count=COUNT)  # type: ignore[arg-type]
            self.reading = -1
            for key, entries in found or ():
                self.hand_out(key.decode() if isinstance(key, bytes) else key, entries)

    def hand_out(self, key: str, entries: list[Any]) -> None:
        events = [decode_event(entry_id, fields) for entry_id, fields in entries]
        for follower in self.followers.get(key, ()):
            after = _order(follower.cursor)
            for event in events:
                if _order(event.id) > after:
                    follower.events.put_nowait(event)
                    follower.cursor = event.id


def raise_if_cancelled() -> None:
    """redis-py can swallow a cancellation that lands while it connects (the call then
    returns as if nothing happened); the task is still marked as cancelling, so honour it
    here rather than wait on followers forever (a service stopping right after it started,
    as one that failed to bind its port does, would hang in its shutdown)."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError
