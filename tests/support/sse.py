"""Reading Server-Sent Events the way a browser's EventSource does (the WHATWG parsing rules
we rely on: `id:`, `event:`, `data:` lines, blank line ends an event, `:` starts a comment)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import httpx


@dataclass
class Event:
    id: str | None
    event: str
    data: dict[str, Any]


@dataclass
class Received:
    events: list[Event]
    comments: int
    status: int

    @property
    def text(self) -> str:
        """What a client shows: chunks added up, a `reset` replacing what came before."""
        text = ""
        for e in self.events:
            text = e.data["text"] if e.event == "reset" else text + e.data["text"] if e.event == "chunk" else text
        return text

    @property
    def last_id(self) -> str | None:
        return self.events[-1].id if self.events else None


async def read_events(
    http: httpx.AsyncClient,
    url: str,
    headers: dict[str, str],
    *,
    stop_after_chunks: int | None = None,
    stop_after_comments: int | None = None,
) -> Received:
    """Read the stream until its terminal event (done/error), or leave after `stop_after_chunks`
    chunk events (a client that drops), or after `stop_after_comments` keep-alive comments."""
    received = Received([], 0, 0)
    async with http.stream("GET", url, headers=headers, timeout=30) as response:
        received.status = response.status_code
        if response.status_code != 200:
            await response.aread()
            received.events.append(Event(None, "http_error", response.json()))
            return received
        assert response.headers["content-type"].startswith("text/event-stream")
        fields: dict[str, str] = {}
        async for line in response.aiter_lines():
            if line.startswith(":"):
                received.comments += 1
                if stop_after_comments is not None and received.comments >= stop_after_comments:
                    return received
                continue
            if line:
                name, _, value = line.partition(":")
                fields[name] = value[1:] if value.startswith(" ") else value
                continue
            if "data" in fields:
                event = Event(fields.get("id"), fields.get("event", "message"), json.loads(fields["data"]))
                received.events.append(event)
                chunks = sum(e.event == "chunk" for e in received.events)
                if event.event in ("done", "error"):
                    return received
                if stop_after_chunks is not None and chunks >= stop_after_chunks:
                    return received
            fields = {}
    return received
