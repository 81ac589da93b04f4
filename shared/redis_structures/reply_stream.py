"""A reply's events in a Redis Stream: the worker writes them, any number of clients read them.

One stream per reply, `reply:stream:<reply_id>`, on STREAMS_REDIS_URL. Each entry is one
event: `chunk` (`{"text"}`), then exactly one terminal event, `done` or `error`. A `reset`
(`{"text"}`: the whole text so far) means "show this instead of what you have": the writer
found its stream lost or cut (a Redis restarted without its data) and started it again, so
a client never sees `done` after a gap (issue 25). The entry
ids Redis gives are the events' ids: a client that read up to id X asks for what comes after
X (`Last-Event-ID`, the socket's `resume`), so a reconnect gets no gap and no repeat, and
every listener of one reply reads the same events in the same order.

Bounded: at most STREAM_MAX_ENTRIES entries (a reply has at most LLM_MAX_TOKENS chunks,
so the bound only stops a runaway writer); an unfinished stream expires after the job time
limit plus STREAM_TTL_SECONDS (its writer died); a finished one after STREAM_TTL_SECONDS.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, Literal, Protocol, cast

from redis.asyncio import BlockingConnectionPool, Redis

from shared.process.settings import Settings

EventName = Literal["chunk", "reset", "done", "error"]
TERMINAL = frozenset({"done", "error"})
START = "0-0"  # before the first entry


def stream_key(reply_id: str) -> str:
    return f"reply:stream:{reply_id}"


@dataclass(frozen=True)
class StreamEvent:
    id: str
    event: EventName
    data: dict[str, Any]

    @property
    def terminal(self) -> bool:
        return self.event in TERMINAL


class KeepAlive:
    """Nothing new for STREAM_KEEPALIVE_SECONDS: the reader's cue to send a comment."""


KEEP_ALIVE = KeepAlive()


def decode_event(entry_id: bytes | str, fields: dict[Any, Any]) -> StreamEvent:
    get = {(k.decode() if isinstance(k, bytes) else k): (v.decode() if isinstance(v, bytes) else v) for k, v in fields.items()}
    event = cast(EventName, get["event"])
    return StreamEvent(
        id=entry_id.decode() if isinstance(entry_id, bytes) else entry_id, event=event, data=json.loads(get["data"])
    )


def text_of(events: list[StreamEvent]) -> str:
    """What a client shows after these events: chunks added up, a `reset` replacing it all."""
    text = ""
    for event in events:
        if event.event == "reset":
            text = event.data.get("text", "")
        elif event.event == "chunk":
            text += event.data.get("text", "")
    return text


# Append only if the stream still ends where the writer left it: one round trip, atomic.
APPEND_AFTER = """
local last = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
if #last == 0 or last[1][1] ~= ARGV[1] then
  return false
end
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[2], '*', 'event', ARGV[3], 'data', ARGV[4])
if tonumber(ARGV[5]) > 0 then
  redis.call('EXPIRE', KEYS[1], ARGV[5])
end
return id
"""

ENTRY_ID = re.compile(r"([0-9]{1,20})-([0-9]{1,20})")  # ASCII digits only: str.isdigit() takes "١" too
MAX_ID_PART = 2**64 - 1  # what Redis accepts in each half


def entry_id_parts(value: str) -> tuple[int, int] | None:
    """(ms, seq) of a Redis stream id `<ms>-<seq>`, or None if it is not one Redis accepts."""
    found = ENTRY_ID.fullmatch(value)
    if found is None:
        return None
    ms, seq = int(found.group(1)), int(found.group(2))
    return (ms, seq) if ms <= MAX_ID_PART and seq <= MAX_ID_PART else None


def is_entry_id(value: str) -> bool:
    """What a client may send back as `Last-Event-ID` (or `after`)."""
    return entry_id_parts(value) is not None


class Follow(Protocol):
    def follow(
        self, streams: ReplyStreams, reply_id: str, after: str, keepalive_seconds: float
    ) -> AsyncIterator[StreamEvent | KeepAlive]: ...


class ReplyStreams:
    def __init__(self, redis: Redis, *, ttl_seconds: int, max_entries: int, unfinished_ttl_seconds: int) -> None:
        self.redis = redis
        # The service's one reader for every stream it relays (shared/redis_structures/
        # stream_reader.py); without it each `follow` blocks a connection of its own.
        self.reader: Follow | None = None
        self.ttl_seconds = ttl_seconds
        self.max_entries = max_entries
        self.unfinished_ttl_seconds = unfinished_ttl_seconds
        self._append_after = redis.register_script(APPEND_AFTER)

    # -- writing (the worker) ----------------------------------------------------------

    async def append(self, reply_id: str, event: EventName, data: dict[str, Any], *, first: bool = False) -> str:
        """Add one event; its id. `first`: also set the expiry of an unfinished stream (one
        EXPIRE per reply, not one per chunk). A terminal event sets the finished expiry."""
        key = stream_key(reply_id)
        fields: dict[Any, Any] = {"event": event, "data": json.dumps(data, separators=(",", ":"))}
        if not first and event not in TERMINAL:
            # NOMKSTREAM: a stream deleted meanwhile (its account was) is not made again,
            # without an expiry, by a chunk written before the worker heard of it.
            entry_id = await self.redis.xadd(key, fields, maxlen=self.max_entries, approximate=True, nomkstream=True)
            return entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id or "")
        ttl = self.ttl_seconds if event in TERMINAL else self.unfinished_ttl_seconds
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.xadd(key, fields, maxlen=self.max_entries, approximate=True)
            pipe.expire(key, ttl)
            entry_id, _ = await pipe.execute()
        return entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)

    async def append_after(self, reply_id: str, previous_id: str, event: EventName, data: dict[str, Any]) -> str | None:
        """Add one event if the stream still ends with `previous_id`, the writer's last; its
        id, or None when the stream is gone or not as the writer left it (nothing written)."""
        ttl = self.ttl_seconds if event in TERMINAL else 0
        fields = json.dumps(data, separators=(",", ":"))
        found = await self._append_after(keys=[stream_key(reply_id)], args=[previous_id, self.max_entries, event, fields, ttl])
        if not found:
            return None
        return found.decode() if isinstance(found, bytes) else str(found)

    async def restart(self, reply_id: str, after_id: str | None, text: str, event: EventName, data: dict[str, Any]) -> str:
        """Start the stream again: `reset` with the text so far (right after `after_id`, the
        writer's last id, so every client that saw it reads on), then `event`. Its id."""
        key = stream_key(reply_id)
        parts = entry_id_parts(after_id or "")
        reset_id = f"{parts[0]}-{parts[1] + 1}" if parts else "*"
        ttl = self.ttl_seconds if event in TERMINAL else self.unfinished_ttl_seconds
        encoded = {"event": event, "data": json.dumps(data, separators=(",", ":"))}
        reset = {"event": "reset", "data": json.dumps({"text": text}, separators=(",", ":"))}
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.delete(key)  # what is left of it (cut by a restart) is replaced, not patched
            pipe.xadd(key, reset, id=reset_id, maxlen=self.max_entries, approximate=True)  # type: ignore[arg-type]
            pipe.xadd(key, encoded, maxlen=self.max_entries, approximate=True)  # type: ignore[arg-type]
            pipe.expire(key, ttl)
            _, _, entry_id, _ = await pipe.execute()
        return entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)

    # -- reading (the service, the worker on a retry) ------------------------------------

    async def read(self, reply_id: str, after: str = START, count: int | None = None) -> list[StreamEvent]:
        """The events after `after` that are there now (no waiting)."""
        entries = await self.redis.xrange(stream_key(reply_id), min=f"({after}" if after != START else "-", count=count)
        return [decode_event(entry_id, fields) for entry_id, fields in entries]

    async def exists(self, reply_id: str) -> bool:
        return bool(await self.redis.exists(stream_key(reply_id)))

    async def text(self, reply_id: str) -> tuple[str, StreamEvent | None]:
        """The text streamed so far, and the terminal event if the stream has ended."""
        events = await self.read(reply_id)
        terminal = next((e for e in events if e.terminal), None)
        return text_of(events), terminal

    async def follow(self, reply_id: str, after: str, keepalive_seconds: float) -> AsyncIterator[StreamEvent | KeepAlive]:
        """Every event after `after`, as it is written, until the terminal one; KEEP_ALIVE
        after each `keepalive_seconds` without an event. A stream not yet written (the reply
        is still queued) is waited for the same way. A caller resuming from a client's id
        asks `ended_by` first (the SSE route answers 204, the socket `ended`): past the end,
        this would notice only after one keep-alive."""
        if self.reader is not None:
            async for item in self.reader.follow(self, reply_id, after, keepalive_seconds):
                yield item
            return
        key = stream_key(reply_id)
        block_ms = max(1, int(keepalive_seconds * 1000))
        while True:
            found = await self.redis.xread({key: after}, block=block_ms, count=500)
            if not found:
                if await self.ended_by(reply_id, after):
                    return  # `after` lies past the end the stream has now reached
                yield KEEP_ALIVE
                continue
            for entry_id, fields in found[0][1]:
                event = decode_event(entry_id, fields)
                after = event.id
                yield event
                if event.terminal:
                    return

    async def ended_by(self, reply_id: str, after: str) -> bool:
        """The stream has its terminal event, and it is not after `after`."""
        last = await self.redis.xrevrange(stream_key(reply_id), count=1)
        if not last:
            return False
        event = decode_event(*last[0])
        return event.terminal and (entry_id_parts(event.id) or (0, 0)) <= (entry_id_parts(after) or (0, 0))

    async def delete(self, *reply_ids: str) -> int:
        if not reply_ids:
            return 0
        return int(await self.redis.delete(*(stream_key(r) for r in reply_ids)))


def reply_streams(redis: Redis, settings: Settings) -> ReplyStreams:
    # An unfinished stream outlives every try of its job, then goes (its writer is gone).
    unfinished = int(settings.job_budget_seconds) + settings.stream_ttl_seconds
    return ReplyStreams(
        redis, ttl_seconds=settings.stream_ttl_seconds, max_entries=settings.stream_max_entries, unfinished_ttl_seconds=unfinished
    )


# Connections of the streams client: the worker's appends and the service's short reads
# (a reply's text, the end check) take one each for a round trip; a burst waits its turn.
MAX_CONNECTIONS = 32


def open_streams_redis(url: str, timeout: float, keepalive_seconds: float) -> Redis:
    """The client for STREAMS_REDIS_URL. A `follow` without a reader blocks an XREAD for up
    to a keep-alive, so the socket time-out outlasts that. The pool is bounded: past
    MAX_CONNECTIONS a command waits for a free connection (up to the socket time-out)."""
    socket_timeout = keepalive_seconds + max(timeout, 5.0)
    pool = BlockingConnectionPool.from_url(
        url,
        max_connections=MAX_CONNECTIONS,
        timeout=socket_timeout,
        socket_connect_timeout=timeout,
        socket_timeout=socket_timeout,
    )
    client: Redis = Redis.from_pool(pool)  # closing the client closes its pool
    return client
