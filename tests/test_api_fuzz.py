"""Schema-driven fuzzing of the HTTP API: schemathesis against the service's own OpenAPI document.

The service runs as the README runs it (`uvicorn service.app:create_app --factory`), in its
own process. Every generated request, valid or not, must get a documented status code, a
body that matches the documented schema, and never a 500.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from allinone.redis_process import free_port
from service.app import create_app
from service.openapi import build_openapi
from shared.process.settings import Settings
from tests.support.settings import JWT_SECRET

pytestmark = pytest.mark.slow  # hundreds of generated requests against a service process

ROOT = Path(__file__).resolve().parent.parent


def publish_worker_heartbeat(redis_url: str, queue_name: str, pid: int) -> None:
    import asyncio
    from datetime import UTC, datetime

    import redis.asyncio as aioredis

    from shared.queue.heartbeats import WorkerHeartbeat, write_heartbeat

    async def publish() -> None:
        client = aioredis.from_url(redis_url)
        now = datetime.now(UTC)
        beat = WorkerHeartbeat(
            worker_id=f"fuzz:{pid}:0",
            host=socket.gethostname(),
            pid=pid,
            queue_name=queue_name,
            started_at=now,
            last_seen=now,
            interval_seconds=3600,
        )
        await write_heartbeat(client, beat)
        await client.aclose()

    asyncio.run(publish())


@pytest.fixture(scope="module")
def service_url(redis_server) -> Iterator[str]:
    port = free_port()
    queue_name = f"fuzz:{uuid.uuid4().hex[:8]}"
    env = {
        **os.environ,
        "MONGODB_URI": "memory://",
        "ALLOW_IN_MEMORY_MONGODB": "true",  # a standalone service with a store of its own, on purpose
        "REDIS_URL": redis_server.url,
        "QUEUE_NAME": queue_name,
        "CHAT_QUEUE_NAME": f"{queue_name}:chat",
        "JWT_SECRET": JWT_SECRET,
        "LLM_PROVIDER": "offline",
        "PASSWORD_HASH_TIME_COST": "1",
        "PASSWORD_HASH_MEMORY_KIB": "1024",
        # Fuzzed logins fail by the hundred from one address; the fixture's logins must not be throttled.
        "LOGIN_ADDRESS_FAILURES_PER_MINUTE": "1000000",
        "LOGIN_ACCOUNT_FAILURES_PER_HOUR": "1000000",
        "REGISTRATIONS_PER_HOUR_PER_ADDRESS": "1000000",
    }
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "service.app:create_app",
        "--factory",
        "--port",
        str(port),
        "--log-level",
        "warning",
    ]
    proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    # A worker's heartbeat on each fuzzed queue, so /readyz answers 200: schemathesis counts
    # every 5xx as a failure, and the 503s have their own tests (test_readiness.py). On the
    # in-memory store /readyz counts only workers of its own process, so the beats name it.
    publish_worker_heartbeat(redis_server.url, queue_name, proc.pid)
    publish_worker_heartbeat(redis_server.url, f"{queue_name}:chat", proc.pid)
    try:
        for _ in range(200):
            assert proc.poll() is None, proc.stderr.read().decode()
            try:
                httpx.get(f"{url}/healthz").raise_for_status()
                break
            except httpx.TransportError:
                time.sleep(0.05)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture
def token(service_url: str) -> str:
    """A fresh session per operation: fuzzing logout revokes the token it is given."""
    credentials = {"email": f"fuzz-{uuid.uuid4().hex[:10]}@example.com", "password": "fuzz-password"}
    httpx.post(f"{service_url}/api/v1/auth/register", json=credentials).raise_for_status()
    return httpx.post(f"{service_url}/api/v1/auth/login", json=credentials).json()["access_token"]


# The same dict the service serves at /openapi.json (checked below). Loaded eagerly: the
# lazy `from_fixture` loader relies on a pytest internal that pytest 9.2 removed.
# GET /api/v1/events answers a stream that never ends by design: its own tests read it
# (tests/test_user_events.py); a fuzzer would wait on it forever.
OPENAPI = build_openapi(create_app(Settings(_env_file=None, jwt_secret=JWT_SECRET, allow_in_memory_mongodb=True)).routes)
schema = schemathesis.openapi.from_dict(OPENAPI).exclude(path="/api/v1/events")


@schema.parametrize()
@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
def test_every_operation_answers_as_documented(case, service_url, token):
    # A generated bearer token becomes a real one; a header the case left out or mangled on
    # purpose (a negative case) is sent as generated, so it must get its 401.
    authorization = (case.headers or {}).get("Authorization")
    if isinstance(authorization, str) and authorization.startswith("Bearer "):
        case.headers["Authorization"] = f"Bearer {token}"
    # Examples share a user: a well-formed Idempotency-Key gets a fresh value, or a key reused
    # with another body is (rightly) refused 422. Reuse has its own tests (test_retry_and_resends.py).
    key = (case.headers or {}).get("Idempotency-Key")
    if isinstance(key, str) and re.fullmatch(r"[!-~]{1,255}", key):
        case.headers["Idempotency-Key"] = uuid.uuid4().hex
    case.call_and_validate(base_url=service_url)


def test_the_document_is_served_and_covers_every_http_route(service_url):
    from starlette.routing import Route

    document = httpx.get(f"{service_url}/openapi.json").json()
    assert document == OPENAPI
    app = create_app(Settings(_env_file=None, jwt_secret="x" * 32, allow_in_memory_mongodb=True))
    routes = {r.path for r in app.routes if isinstance(r, Route)} - {"/openapi.json"}
    assert set(document["paths"]) == routes
