"""Each user's event stream: what one tab or device did, for the user's other tabs and devices.

One Redis Stream per user, `user:events:<user_id>`, on STREAMS_REDIS_URL, read as SSE by
`GET /api/v1/events` (service/routes/events.py). The entry ids are the SSE event ids, so a
client that reconnects with `Last-Event-ID` gets what it missed, no more, no less. Events:

- `message`: a user message was accepted (`message_id`, `content`, and the reply it gets:
  `reply_id`, `stream_url`): the other tabs show it and follow its reply;
- `reply`: a retry started a new reply to an earlier message (`reply_id`, `message_id`, `stream_url`);
- `noted`: an extraction or a reflection of the user's finished (`count`, `source`).

Bounded: at most USER_EVENTS_MAX_ENTRIES entries a user, and the stream expires
USER_EVENTS_TTL_SECONDS after its last event (a client away longer reloads what it shows).
Publishing is best effort: the event is a convenience for the other tabs; the work it
reports is stored whether or not it could be told.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, Literal, cast

from redis.asyncio import Redis

from shared.process.settings import Settings
from shared.redis_structures.reply_stream import KEEP_ALIVE, START, KeepAlive
from shared.redis_structures.unavailable import REDIS_DOWN

log = logging.getLogger(__name__)

UserEventName = Literal["message", "reply", "noted"]


def events_key(user_id: str) -> str:
    return f"user:events:{user_id}"


@dataclass(frozen=True)
class UserEvent:
    id: str
    event: UserEventName
    data: dict[str, Any]


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _decode(entry_id: bytes | str, fields: dict[Any, Any]) -> UserEvent:
    got = {_text(k): _text(v) for k, v in fields.items()}
    return UserEvent(id=_text(entry_id), event=cast(UserEventName, got["event"]), data=json.loads(got["data"]))


class UserEvents:
    def __init__(self, redis: Redis, *, ttl_seconds: int, max_entries: int) -> None:
        self.redis = redis
        self.ttl_seconds = ttl_seconds
        self.max_entries = max_entries

    async def publish(self, user_id: str, event: UserEventName, data: dict[str, Any]) -> str | None:
        """Add one event; its id, or None if Redis could not be reached (logged, not raised)."""
        key = events_key(user_id)
        fields: dict[Any, Any] = {"event": event, "data": json.dumps(data, separators=(",", ":"))}
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                pipe.xadd(key, fields, maxlen=self.max_entries, approximate=True)
                pipe.expire(key, self.ttl_seconds)
                entry_id, _ = await pipe.execute()
        except REDIS_DOWN as exc:
            log.warning("user %s: the %s event could not be published (%s)", user_id, event, exc)
            return None
        return _text(entry_id)

    async def last_id(self, user_id: str) -> str:
        """The newest event's id (START when there is none): where a fresh listener begins."""
        last = await self.redis.xrevrange(events_key(user_id), count=1)
        return _text(last[0][0]) if last else START

    async def follow(self, user_id: str, after: str, keepalive_seconds: float) -> AsyncIterator[UserEvent | KeepAlive]:
        """Every event after `after`, as it comes, for as long as the caller reads; KEEP_ALIVE
        after each `keepalive_seconds` without one."""
        key = events_key(user_id)
        block_ms = max(1, int(keepalive_seconds * 1000))
        while True:
            found = await self.redis.xread({key: after}, block=block_ms, count=100)
            if not found:
                yield KEEP_ALIVE
                continue
            for entry_id, fields in found[0][1]:
                event = _decode(entry_id, fields)
                after = event.id
                yield event

    async def delete(self, user_id: str) -> None:
        await self.redis.delete(events_key(user_id))


async def tell_noted(events: UserEvents, user_id: str, count: int, source: Literal["extraction", "reflection"]) -> None:
    """A job's "the coach noted N things" to the user's open pages (nothing when it noted nothing)."""
    if count:
        await events.publish(user_id, "noted", {"count": count, "source": source})


def user_events(redis: Redis, settings: Settings) -> UserEvents:
    return UserEvents(redis, ttl_seconds=settings.user_events_ttl_seconds, max_entries=settings.user_events_max_entries)
