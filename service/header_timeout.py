"""uvicorn's HTTP protocol with limits on receiving a request's headers: time and bytes.

uvicorn closes idle keep-alive connections, but once a client has sent a first byte it
waits for the rest of the headers for ever: 500 clients sending one header line every few
seconds hold 500 connections. Here a timer starts when a connection opens, and again when
bytes of a new request arrive on an idle connection; if the headers are not complete when
it fires, the client gets 408 and the connection is closed. Once the headers are in (the
body has its own limit, service/body_deadline.py) or the connection became a WebSocket,
the timer is off.

Bytes too (service/header_bytes.py): each chunk is counted before the parser buffers it; a
header line over HTTP_MAX_HEADER_LINE_BYTES or a head over HTTP_MAX_HEADER_BYTES gets 431
and the connection is closed. A WebSocket handshake is an HTTP request here, so it is held
to the same limits.

The all-in-one passes `protocol_for(settings)`; the standalone command takes the import
path (the limits then come from the environment):

    uvicorn service.app:create_app --factory --http service.header_timeout:HttpProtocol
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
from typing import Any

import h11
from uvicorn.protocols.http.auto import AutoHTTPProtocol
from uvicorn.protocols.http.h11_impl import H11Protocol

from service.header_bytes import HeadMeter, too_large_response
from shared.process.cap_warning import CapWarning
from shared.process.settings import Settings

log = logging.getLogger("uvicorn.error")
# Per process, like uvicorn's own logger: every connection's protocol reports here.
HEADERS_TOO_LARGE = CapWarning(log, "request headers over HTTP_MAX_HEADER_LINE_BYTES or HTTP_MAX_HEADER_BYTES (431)")


# After a 431: what a client still sends is dropped for this long, or up to this much.
DISCARD_SECONDS = 2.0
DISCARD_BYTES = 1024 * 1024


@functools.cache
def configured() -> tuple[float, int, int]:
    from shared.process.settings import load_settings

    settings = load_settings()
    return settings.http_header_timeout_seconds, settings.http_max_header_line_bytes, settings.http_max_header_bytes


def timeout_response(seconds: float) -> bytes:
    body = json.dumps({"detail": f"request headers did not arrive within {seconds:g} s", "errors": []}).encode()
    head = (
        "HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
    )
    return head.encode() + body


class HeaderTimeout:
    """Mixed into either uvicorn HTTP protocol; both keep the request in flight in `cycle`."""

    header_timeout_seconds: float | None = None  # None: HTTP_HEADER_TIMEOUT_SECONDS
    max_header_line_bytes: int | None = None  # None: HTTP_MAX_HEADER_LINE_BYTES
    max_header_bytes: int | None = None  # None: HTTP_MAX_HEADER_BYTES
    transport: asyncio.Transport
    cycle: Any
    loop: asyncio.AbstractEventLoop

    def connection_made(self, transport: asyncio.Transport) -> None:
        super().connection_made(transport)  # type: ignore[misc]
        timeout, max_line, max_total = configured()
        self.header_limit = self.header_timeout_seconds or timeout
        self.head = HeadMeter(self.max_header_line_bytes or max_line, self.max_header_bytes or max_total)
        self.header_timer: asyncio.TimerHandle | None = None
        self.refused_at: float | None = None
        self.discarded = 0
        self.start_header_timer()

    def data_received(self, data: bytes) -> None:
        if self.refused_at is not None:
            self.discard(data)
            return
        if self.header_timer is None and self.awaiting_headers():
            self.start_header_timer()  # the first bytes of a new request on a kept-alive connection
        if not self.head.in_head and self.awaiting_headers():
            self.head.restart()
        if (over := self.head.feed(data)) is not None:
            self.refuse_headers(over)
            return
        super().data_received(data)  # type: ignore[misc]
        # A mixin: at run time self is the uvicorn protocol the transport holds.
        if not self.awaiting_headers() or self.transport.get_protocol() is not self:  # type: ignore[comparison-overlap]
            self.stop_header_timer()  # headers in, or upgraded to a WebSocket

    # httptools only: the parser says where each message's head begins and ends, and the meter
    # counts what arrives in between (a pipelined request's head may go on in later reads).
    # Counting from the begin alone made a body that came in a later read than its head count
    # as a header line (431 for a valid 18 KB message): the head's end must stop it too.
    def on_message_begin(self) -> None:
        if not self.head.in_head:
            self.head.restart()
        super().on_message_begin()  # type: ignore[misc]

    def on_headers_complete(self) -> None:
        self.head.in_head = False
        super().on_headers_complete()  # type: ignore[misc]

    def refuse_headers(self, reason: str) -> None:
        """431, then half-close: a client still sending when the connection closed at once
        would get a reset and lose the answer. What it sends meanwhile is read and dropped,
        up to a bound and for a few seconds, then the connection is closed."""
        self.stop_header_timer()
        if self.transport.is_closing():
            return
        HEADERS_TOO_LARGE.hit()
        self.transport.write(too_large_response(reason))
        if not self.transport.can_write_eof():
            self.transport.close()
            return
        self.transport.write_eof()
        self.refused_at = self.loop.time()
        self.loop.call_later(DISCARD_SECONDS, self.transport.close)

    def discard(self, data: bytes) -> None:
        self.discarded += len(data)
        if self.discarded > DISCARD_BYTES:
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.stop_header_timer()
        super().connection_lost(exc)  # type: ignore[misc]

    def awaiting_headers(self) -> bool:
        return self.cycle is None or self.cycle.response_complete

    def start_header_timer(self) -> None:
        self.header_timer = asyncio.get_running_loop().call_later(self.header_limit, self.headers_too_slow)

    def stop_header_timer(self) -> None:
        if self.header_timer is not None:
            self.header_timer.cancel()
            self.header_timer = None

    def headers_too_slow(self) -> None:
        self.header_timer = None
        if self.transport.is_closing() or self.transport.get_protocol() is not self or not self.awaiting_headers():  # type: ignore[comparison-overlap]
            return
        log.info("closed a connection whose request headers took over %g s", self.header_limit)
        self.transport.write(timeout_response(self.header_limit))
        self.transport.close()


class HttpProtocol(HeaderTimeout, AutoHTTPProtocol):  # type: ignore[misc, valid-type]
    """httptools when installed (uvicorn[standard]), else h11, as uvicorn's `auto` picks."""


class H11HttpProtocol(HeaderTimeout, H11Protocol):
    """The pure-Python parser, for platforms without httptools."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]  # uvicorn narrows it
        super().connection_made(transport)
        # h11 refuses a head over its own buffer limit (16 KiB) with a bare 400; ours is the
        # limit, with 431, so h11's buffer gets room for a whole head of our size.
        self.conn = h11.Connection(h11.SERVER, max_incomplete_event_size=self.head.max_total + 1)

    def on_message_begin(self) -> None:
        """Not an h11 callback; h11 buffers a pipelined head within its own limit above."""


def protocol_with_header_timeout(
    seconds: float, base: type = HttpProtocol, *, max_line_bytes: int | None = None, max_header_bytes: int | None = None
) -> type:
    limits = {"header_timeout_seconds": seconds, "max_header_line_bytes": max_line_bytes, "max_header_bytes": max_header_bytes}
    return type(base.__name__, (base,), limits)


def protocol_for(settings: Settings, base: type = HttpProtocol) -> type:
    return protocol_with_header_timeout(
        settings.http_header_timeout_seconds,
        base,
        max_line_bytes=settings.http_max_header_line_bytes,
        max_header_bytes=settings.http_max_header_bytes,
    )
