"""A reply's deltas into its stream, coalesced: what arrives while a chunk's append is in
flight goes out as the next chunk, all of it in one append.

An LLM that streams faster than one Redis round trip per delta (a burst of deltas in one
network read, or a worker busy with other replies) would otherwise cost a round trip per
delta, each a `send` and a wake-up of Redis; the reader needs the words, not the deltas.
Nothing waits on purpose: a delta that finds no append in flight is sent as soon as the
writer next waits for the LLM (with those that came in the same network read), so the first
word is not held back; the text is sent once, in the order it came, one append at a time.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable


class CoalescedChunks:
    def __init__(self, send: Callable[[str], Awaitable[None]]) -> None:
        self.send = send  # one chunk to the stream; never called while another is in flight
        self.pending: list[str] = []
        self.sending: asyncio.Task[None] | None = None

    def add(self, text: str) -> None:
        """Send `text` now, or with the next chunk if one is in flight. Raises what an
        earlier send raised (the writer stops there, as it would have at that send)."""
        if self.sending is not None and self.sending.done():
            sending, self.sending = self.sending, None
            sending.result()
        self.pending.append(text)
        if self.sending is None:
            self.sending = asyncio.create_task(self._send_pending())

    async def _send_pending(self) -> None:
        while self.pending:
            text = "".join(self.pending)
            self.pending.clear()
            await self.send(text)

    async def flush(self) -> None:
        """Return once everything added is sent; raises what a send raised."""
        if self.sending is not None:
            sending, self.sending = self.sending, None
            await sending

    async def drop(self) -> None:
        """Cancelled: nothing more is sent, but a send in flight is let finish, so the text the
        writer keeps is the text its stream holds."""
        self.pending.clear()
        if self.sending is not None:
            sending, self.sending = self.sending, None
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await asyncio.shield(sending)
