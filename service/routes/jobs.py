"""A caller's own jobs: their status, and cancelling them.

Only the account a job id was handed to may see it (shared/store/job_owners.py), and an
admin, who sees every job on the dashboard anyway; anyone else gets the same 404 as for an
id that never existed, so ids cannot be probed. Cancelling is for the owner or an admin, through arq's abort: a running job's task is cancelled on its
worker, a waiting one is cancelled when a worker picks it up.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse

from service.api_docs import documented, error, ok
from service.browser_session import require_caller
from service.errors import ApiError
from service.resources import resources_of
from shared.queue.arq_adapter.records import abort_and_wait
from shared.queue.job_history import record_started
from shared.queue.job_status import FINISHED, JobView, read_job
from shared.queue.jobs import queue_of_job_id
from shared.store.job_owners import job_owner
from shared.store.users import ADMIN, has_role

# How long DELETE waits for the worker to confirm; past it the answer is 202 and the
# status says where the job is (the abort stays registered for a minute, arq's limit).
CANCEL_WAIT_SECONDS = 5.0
NOT_YOURS = "no job with that id"


def view_response(view: JobView, status_code: int = 200) -> JSONResponse:
    return JSONResponse(view.model_dump(mode="json"), status_code=status_code)


async def relation(request: Request, job_id: str) -> str | None:
    """ "owner", "admin", or None: whom this job's status is for."""
    principal = await require_caller(request)
    db = resources_of(request).db
    if await job_owner(db, job_id) == principal.user_id:
        return "owner"
    return "admin" if await has_role(db, principal.user_id, ADMIN) else None


async def may_see(request: Request, job_id: str) -> bool:
    return await relation(request, job_id) is not None


async def job_status(request: Request) -> JSONResponse:
    state, job_id = resources_of(request), request.path_params["job_id"]
    caller = await relation(request, job_id)
    if caller is None:
        raise ApiError(404, NOT_YOURS)
    view = await read_job(state.arq, state.db, job_id, queue_of_job_id(job_id, state.settings))
    if view.status == "not_found" and caller == "admin":  # an id nobody was handed and arq forgot
        raise ApiError(404, NOT_YOURS)
    return view_response(view)


async def cancel_job(request: Request) -> JSONResponse:
    state, job_id = resources_of(request), request.path_params["job_id"]
    if not await may_see(request, job_id):
        raise ApiError(404, NOT_YOURS)
    queue = queue_of_job_id(job_id, state.settings)
    view = await read_job(state.arq, state.db, job_id, queue)
    if view.status == "not_found":
        raise ApiError(404, NOT_YOURS)
    if view.status in FINISHED:
        raise ApiError(409, f"job already finished: {view.status}")
    if view.function is None:
        raise ApiError(409, "job is waiting in the outbox for Redis; it can be cancelled once queued")
    # Listed among the recent jobs from now on: one cancelled before a worker started it
    # would otherwise vanish from the admin's list (only started jobs are recorded there).
    await record_started(state.arq, job_id, view.function)
    try:
        await abort_and_wait(state.arq, job_id, queue, CANCEL_WAIT_SECONDS)
    except TimeoutError:
        pass  # not confirmed yet: the view below says where it stands
    view = await read_job(state.arq, state.db, job_id, queue)
    return view_response(view, 200 if view.status in FINISHED else 202)


@documented(
    "GET",
    "a job the API handed the caller: status, times, tries, result",
    {200: ok(JobView, "the job"), 404: error("no such job, or not the caller's")},
)
@documented(
    "DELETE",
    "cancel a queued or running job (its owner or an admin)",
    {
        200: ok(JobView, "cancelled (or it finished first)"),
        202: ok(JobView, "cancel requested; the worker has not confirmed yet"),
        404: error("no such job, or not the caller's"),
        409: error("the job already finished, or still waits in the outbox"),
    },
)
async def job(request: Request) -> JSONResponse:
    """One route for both methods, so a 405 lists them all in its Allow header."""
    return await (cancel_job(request) if request.method == "DELETE" else job_status(request))
