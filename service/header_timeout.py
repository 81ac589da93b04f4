"""uvicorn's HTTP protocol with a time limit on receiving a request's headers.

uvicorn closes idle keep-alive connections, but once a client has sent a first byte it
waits for the rest of the headers for ever: 500 clients sending one header line every few
seconds hold 500 connections. Here a timer starts when a connection opens, and again when
bytes of a new request arrive on an idle connection; if the headers are not complete when
it fires, the client gets 408 and the connection is closed. Once the headers are in (the
body has its own limit, service/body_deadline.py) or the connection became a WebSocket,
the timer is off.

The all-in-one passes `protocol_with_header_timeout(HTTP_HEADER_TIMEOUT_SECONDS)`; the
standalone command takes the import path:

    uvicorn service.app:create_app --factory --http service.header_timeout:HttpProtocol
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
from typing import Any

from uvicorn.protocols.http.auto import AutoHTTPProtocol
from uvicorn.protocols.http.h11_impl import H11Protocol

log = logging.getLogger("uvicorn.error")


@functools.cache
def configured_timeout() -> float:
    from shared.process.settings import load_settings

    return load_settings().http_header_timeout_seconds


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
    transport: asyncio.Transport
    cycle: Any
    loop: asyncio.AbstractEventLoop

    def connection_made(self, transport: asyncio.Transport) -> None:
        super().connection_made(transport)  # type: ignore[misc]
        self.header_limit = self.header_timeout_seconds or configured_timeout()
        self.header_timer: asyncio.TimerHandle | None = None
        self.start_header_timer()

    def data_received(self, data: bytes) -> None:
        if self.header_timer is None and self.awaiting_headers():
            self.start_header_timer()  # the first bytes of a new request on a kept-alive connection
        super().data_received(data)  # type: ignore[misc]
        # A mixin: at run time self is the uvicorn protocol the transport holds.
        if not self.awaiting_headers() or self.transport.get_protocol() is not self:  # type: ignore[comparison-overlap]
            self.stop_header_timer()  # headers in, or upgraded to a WebSocket

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


class H11HttpProtocol(HeaderTimeout, H11Protocol):  # type: ignore[misc]  # connection_made takes the narrower Transport
    """The pure-Python parser, for platforms without httptools."""


def protocol_with_header_timeout(seconds: float, base: type = HttpProtocol) -> type:
    return type(base.__name__, (base,), {"header_timeout_seconds": seconds})
