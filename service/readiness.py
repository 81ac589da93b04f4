"""`GET /readyz`: can this service do its whole job right now?

`/healthz` only says the process answers (liveness: restart it if not). Readiness asks
the parts a logout's work and a chat depend on: MongoDB and Redis answer a ping, at least
one worker on the background queue and one on the chat queue have a fresh heartbeat
(shared/queue/heartbeats.py). On the in-memory MongoDB stand-in (ALLOW_IN_MEMORY_MONGODB)
only a worker in this very process counts: a worker elsewhere holds a store of its own, and
every job it took would read and write that one (replies would stay `queued` here
forever). Any part failing gives
503 naming it, so a load balancer or an operator sees *what* is wrong, not only that
something is.
"""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import Awaitable
from typing import Any, Literal

from pydantic import BaseModel
from redis.asyncio import Redis
from starlette.requests import Request
from starlette.responses import JSONResponse

from service.api_docs import documented, ok
from service.resources import resources_of
from shared.queue.heartbeats import list_workers

OK = "ok"


class Health(BaseModel):
    status: str


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


async def queue_workers(
    redis: Redis, queue_name: str, timeout: float, *, this_process_only: bool = False
) -> tuple[int | None, str]:
    """How many workers of the queue are fresh, and the check's verdict. `this_process_only`:
    the store is this process's memory, so a worker anywhere else does not share it."""
    try:
        async with asyncio.timeout(timeout):
            workers = await list_workers(redis, queue_name)
    except Exception as exc:
        return None, f"error: {type(exc).__name__}: {exc}"
    fresh = [w for w in workers if not w.stale]
    if not this_process_only:
        return len(fresh), OK if fresh else f"no fresh heartbeat ({len(workers)} workers)"
    here = [w for w in fresh if w.host == socket.gethostname() and w.pid == os.getpid()]
    if here or not fresh:
        return len(here), OK if here else f"no fresh heartbeat ({len(workers)} workers)"
    return 0, (
        f"{len(fresh)} fresh worker(s), none sharing this process's in-memory MongoDB (MONGODB_URI=memory://): "
        "their jobs would read and write a store of their own; set MONGODB_URI for the service and the workers"
    )


@documented(
    "GET",
    "readiness: MongoDB and Redis answer, and a worker's heartbeat is fresh",
    {200: ok(Readiness, "ready"), 503: ok(Readiness, "a part is failing; `checks` names it")},
    access="public",
)
async def readiness(request: Request) -> JSONResponse:
    state = resources_of(request)
    timeout = state.settings.readiness_timeout_seconds
    mongodb, redis = await asyncio.gather(check(state.db.command("ping"), timeout), check(state.arq.ping(), timeout))
    fresh: int | None = None
    if redis != OK:
        workers = chat_workers = "unknown: Redis unavailable"
    else:
        alone = state.settings.uses_in_memory_mongodb
        (fresh, workers), (_, chat_workers) = await asyncio.gather(
            queue_workers(state.arq, state.settings.queue_name, timeout, this_process_only=alone),
            queue_workers(state.arq, state.settings.chat_queue_name, timeout, this_process_only=alone),
        )
    checks = {"mongodb": mongodb, "redis": redis, "workers": workers, "chat_workers": chat_workers}
    ready = all(v == OK for v in checks.values())
    body = Readiness(status="ready" if ready else "unavailable", checks=checks, fresh_workers=fresh)
    return JSONResponse(body.model_dump(), status_code=200 if ready else 503)
