"""Admin-only endpoints: the dead letters, and requeueing them.

An admin is an account holding the stored `admin` role (shared/roles.py), granted by an
operator command; checked on every request, so a revoke takes effect at once.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse

from service.browser_session import require_caller
from service.errors import ApiError
from service.principal import Principal
from service.resources import resources_of
from service.schemas import FailedJobs
from shared.store.dead_letters import list_dead_letters, requeue, requeue_all
from shared.store.job_owners import record_job_owner
from shared.store.users import ADMIN, has_role


async def require_admin(request: Request) -> Principal:
    # A Bearer token, or the dashboard's session cookie (service/browser_session.py).
    principal = await require_caller(request)
    if not await has_role(resources_of(request).db, principal.user_id, ADMIN):
        raise ApiError(403, "admin only")
    return principal


async def failed_jobs(request: Request) -> JSONResponse:
    await require_admin(request)
    include_resolved = request.query_params.get("include_resolved") == "true"
    return JSONResponse(
        FailedJobs(failed_jobs=await list_dead_letters(resources_of(request).db, include_resolved)).model_dump(mode="json")
    )


async def requeue_one(request: Request) -> JSONResponse:
    state = resources_of(request)
    admin = await require_admin(request)
    job_id = await requeue(state.db, state.arq, state.settings, request.path_params["dead_letter_id"])
    if job_id is None:
        raise ApiError(404, "no open dead letter with that id")
    await record_job_owner(state.db, job_id, admin.user_id)
    return JSONResponse({"job_id": job_id})


async def requeue_every(request: Request) -> JSONResponse:
    await require_admin(request)
    state = resources_of(request)
    return JSONResponse({"job_ids": await requeue_all(state.db, state.arq, state.settings)})
