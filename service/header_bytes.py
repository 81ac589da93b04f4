"""Counting a request head's bytes before the HTTP parser buffers them.

uvicorn's httptools parser keeps a header line in memory until it ends, however long: one
16 MB header got 200 OK, and 32 connections sending header bytes took the process to 1.1 GB
(issue 25). `HeadMeter` sees each chunk before the parser does and says when the head (the
request line and the header lines, up to the blank line) is over its limits: a line over
HTTP_MAX_HEADER_LINE_BYTES, or the head over HTTP_MAX_HEADER_BYTES. The protocol
(service/header_timeout.py) then answers 431 and closes the connection.
"""

from __future__ import annotations

import json


class HeadMeter:
    def __init__(self, max_line: int, max_total: int) -> None:
        self.max_line = max_line
        self.max_total = max_total
        self.restart()

    def restart(self) -> None:
        """A new request head begins."""
        self.in_head = True
        self.total = 0
        self.line = 0  # bytes of the current line so far, its line feed included once it comes
        self.lines = 0  # lines that held something (blank lines before the request line do not end it)

    def feed(self, data: bytes) -> str | None:
        """Count `data`; what is over the limit, or None. Past the head's blank line the
        rest (a body, the next request) is not counted until `restart`."""
        if not self.in_head:
            return None
        start = 0
        while True:
            newline = data.find(b"\n", start)
            end = len(data) if newline < 0 else newline + 1
            self.line += end - start
            self.total += end - start
            if (over := self.over()) is not None:
                return over
            if newline < 0:
                return None
            blank = self.line <= 2 and data[start:end].strip(b"\r\n") == b""
            self.line, start = 0, end
            if not blank:
                self.lines += 1
            elif self.lines:
                self.in_head = False  # the blank line that ends the head
                return None

    def over(self) -> str | None:
        if self.line > self.max_line:
            return f"a request header line is over {self.max_line} bytes"
        if self.total > self.max_total:
            return f"the request headers are over {self.max_total} bytes"
        return None


def too_large_response(reason: str) -> bytes:
    body = json.dumps({"detail": reason, "errors": []}).encode()
    head = (
        "HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
    )
    return head.encode() + body
