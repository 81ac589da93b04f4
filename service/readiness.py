"""`GET /readyz`: can this service do its whole job right now?

`/healthz` only says the process answers (liveness: restart it if not). Readiness asks
the parts a logout's work and a chat depend on: MongoDB and Redis answer a ping, at least
one worker on the background queue and one on the chat queue have a fresh heartbeat
(shared/queue/heartbeats.py). Any part failing gives
503 naming it, so a load balancer or an operator sees *what* is wrong, not only that
something is.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any, Literal

from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import JSONResponse

from shared.queue.heartbeats import fresh_workers

OK = "ok"


class Readiness(BaseModel):
    status: Literal["ready", "unavailable"]
    checks: dict[str, str]  # part -> "ok" or what is wrong with it
    fresh_workers: int | None = None  # None when Redis could not be asked


async def check(probe: Awaitable[Any], timeout: float) -> str:
    try:
        async with asyncio.timeout(timeout):
            await probe
    except TimeoutError:
        return f"error: no answer within {timeout:g} s"
    except Exception as exc:  # any failure is the answer we report
        return f"error: {type(exc).__name__}: {exc}" if str(exc) else f"error: {type(exc).__name__}"
    return OK


async def queue_workers(redis: Any, queue_name: str, timeout: float) -> tuple[int | None, str]:
    """How many workers of the queue are fresh, and the check's verdict."""
    try:
        async with asyncio.timeout(timeout):
            fresh, known = await fresh_workers(redis, queue_name)
    except Exception as exc:
        return None, f"error: {type(exc).__name__}: {exc}"
    return fresh, OK if fresh else f"no fresh heartbeat ({known} workers)"


async def readiness(request: Request) -> JSONResponse:
    state = request.app.state
    timeout = state.settings.readiness_timeout_seconds
    mongodb, redis = await asyncio.gather(check(state.db.command("ping"), timeout), check(state.arq.ping(), timeout))
    fresh: int | None = None
    if redis != OK:
        workers = chat_workers = "unknown: Redis unavailable"
    else:
        (fresh, workers), (_, chat_workers) = await asyncio.gather(
            queue_workers(state.arq, state.settings.queue_name, timeout),
            queue_workers(state.arq, state.settings.chat_queue_name, timeout),
        )
    checks = {"mongodb": mongodb, "redis": redis, "workers": workers, "chat_workers": chat_workers}
    ready = all(v == OK for v in checks.values())
    body = Readiness(status="ready" if ready else "unavailable", checks=checks, fresh_workers=fresh)
    return JSONResponse(body.model_dump(), status_code=200 if ready else 503)
