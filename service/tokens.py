"""The WebSocket's access token, read from the raw query string.

Starlette's `query_params` percent-decodes names, so `?tok%65n=...` would also count as the
token; a spelling the log redaction did not know then carried a live JWT into the access
log. Here only the parameter spelled exactly `token`, given exactly once, is read, and its
value is taken as sent (a JWT is URL-safe and never needs percent-encoding).
"""

from __future__ import annotations

from starlette.requests import HTTPConnection


def query_token(conn: HTTPConnection) -> str | None:
    raw: bytes = conn.scope.get("query_string", b"")
    values = [value for name, _, value in (part.partition(b"=") for part in raw.split(b"&")) if name == b"token"]
    if len(values) != 1 or not values[0]:
        return None  # none, or two that could disagree about who is calling
    try:
        return values[0].decode("ascii")
    except UnicodeDecodeError:
        return None
