"""Admin-only endpoints: the dead letters, and requeueing them.

An admin is an account holding the stored `admin` role (shared/roles.py), granted by an
operator command; checked on every request, so a revoke takes effect at once.
"""

from __future__ import annotations

from pydantic import BaseModel, Field
from starlette.requests import Request
from starlette.responses import JSONResponse

from service.api_docs import documented, error, ok
from service.browser_session import require_caller
from service.errors import ApiError, parse_query
from service.principal import Principal
from service.resources import resources_of
from shared.store.dead_letters import DeadLetterView, list_dead_letters, requeue, requeue_all
from shared.store.job_owners import record_job_owner
from shared.store.users import ADMIN, has_role


class FailedJobsQuery(BaseModel):
    include_resolved: bool = Field(False, description="also the dead letters already requeued or resolved")


class FailedJobs(BaseModel):
    failed_jobs: list[DeadLetterView]


class Requeued(BaseModel):
    job_id: str


class RequeuedAll(BaseModel):
    job_ids: list[str]


async def require_admin(request: Request) -> Principal:
    # A Bearer token, or the dashboard's session cookie (service/browser_session.py).
    principal = await require_caller(request)
    if not await has_role(resources_of(request).db, principal.user_id, ADMIN):
        raise ApiError(403, "admin only")
    return principal


@documented("GET", "dead letters", {200: ok(FailedJobs, "dead letters")}, query=FailedJobsQuery, access="admin")
async def failed_jobs(request: Request) -> JSONResponse:
    await require_admin(request)
    query = parse_query(request.query_params, FailedJobsQuery)
    return JSONResponse(
        FailedJobs(failed_jobs=await list_dead_letters(resources_of(request).db, query.include_resolved)).model_dump(mode="json")
    )


@documented(
    "POST", "requeue one dead letter", {200: ok(Requeued, "requeued"), 404: error("no such open dead letter")}, access="admin"
)
async def requeue_one(request: Request) -> JSONResponse:
    state = resources_of(request)
    admin = await require_admin(request)
    job_id = await requeue(state.db, state.arq, state.settings, request.path_params["dead_letter_id"])
    if job_id is None:
        raise ApiError(404, "no open dead letter with that id")
    await record_job_owner(state.db, job_id, admin.user_id)
    return JSONResponse({"job_id": job_id})


@documented("POST", "requeue every dead letter", {200: ok(RequeuedAll, "requeued")}, access="admin")
async def requeue_every(request: Request) -> JSONResponse:
    await require_admin(request)
    state = resources_of(request)
    return JSONResponse({"job_ids": await requeue_all(state.db, state.arq, state.settings)})
