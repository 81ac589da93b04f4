"""The client's address, as the per-address limits (logins, registrations) count it.

The connection's own peer, unless a proxy named in FORWARDED_ALLOW_IPS forwarded the request:
then the address its X-Forwarded-For gives (service/app.py applies that rule before any route).
"""

from __future__ import annotations

from starlette.requests import HTTPConnection


def client_address(conn: HTTPConnection) -> str:
    return conn.client.host if conn.client else "unknown"
