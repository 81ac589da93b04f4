"""Admin views of the background work: the queue, the workers, recent jobs, the crons and
the last hour's activity; and running a cron now. Read from Redis (arq's keys, heartbeats,
job history) and MongoDB (dead letters, outbox); nothing here runs job code."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, Field, field_validator
from starlette.requests import Request
from starlette.responses import JSONResponse

from service.api_docs import documented, error, ok
from service.errors import ApiError, parse_query
from service.resources import ServiceResources, resources_of
from service.routes.admin import Requeued, require_admin
from service.routes.operations_schemas import (
    Activity,
    CronList,
    CronStarted,
    CronView,
    FunctionActivity,
    JobList,
    QueueSection,
    QueueView,
    WorkerList,
)
from shared.queue.cron_schedule import next_run
from shared.queue.heartbeats import list_workers
from shared.queue.job_history import last_hour, recent_jobs
from shared.queue.job_status import JobView, Status, read_job
from shared.queue.jobs import CRON_SCHEDULES, all_queues, enqueue_cron_now, queue_for, queue_of_job_id
from shared.queue.queue_scan import scan_queue
from shared.queue.rerun import rerun
from shared.store.dead_letters import count_open
from shared.store.job_owners import record_job_owner
from shared.store.outbox import outbox_size

MAX_JOBS_LISTED = 200


def reply(model: BaseModel) -> JSONResponse:
    return JSONResponse(model.model_dump(mode="json"))


async def build_queue_view(state: ServiceResources) -> QueueView:
    settings = state.settings
    chat, background, (_, totals), dead, outbox = await asyncio.gather(
        scan_queue(state.arq, settings.chat_queue_name),
        scan_queue(state.arq, settings.queue_name),
        last_hour(state.arq),
        count_open(state.db),
        outbox_size(state.db),
    )
    sections = []
    for name, kind, waiting in ((settings.chat_queue_name, "chat", chat), (settings.queue_name, "background", background)):
        # A function's hour of history is shown under the queue it is enqueued on.
        ran = {f for f in totals if queue_for(f, settings) == name}
        functions = [
            FunctionActivity(
                **(waiting[f].model_dump() if f in waiting else {"function": f}),
                completed_last_hour=totals.get(f, {}).get("complete", 0),
                failed_last_hour=totals.get(f, {}).get("failed", 0),
            )
            for f in sorted(set(waiting) | ran)
        ]
        sections.append(QueueSection(queue_name=name, kind=kind, functions=functions))
    return QueueView(
        queue_name=settings.queue_name,
        functions=[f for s in sections for f in s.functions],
        queues=sections,
        dead_letters_open=dead,
        outbox_size=outbox,
    )


@documented("GET", "the queue by function, dead letters, outbox", {200: ok(QueueView, "queue")}, access="admin")
async def queue(request: Request) -> JSONResponse:
    await require_admin(request)
    return reply(await build_queue_view(resources_of(request)))


@documented("GET", "workers from their heartbeats", {200: ok(WorkerList, "workers")}, access="admin")
async def workers(request: Request) -> JSONResponse:
    await require_admin(request)
    state = resources_of(request)
    return reply(WorkerList(workers=await every_worker(state)))


async def every_worker(state: ServiceResources) -> list[Any]:
    """The workers of both queues: a worker process shows as one of each, unless it runs one."""
    return [w for name in all_queues(state.settings) for w in await list_workers(state.arq, name)]


class JobsQuery(BaseModel):
    status: Status | None = None
    function: str | None = Field(None, description="only jobs of this function")
    limit: int = Field(50, ge=1, le=MAX_JOBS_LISTED)

    @field_validator("status", "function", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        return value or None  # the dashboard's filter form sends `status=` for "any"


async def list_recent_jobs(state: ServiceResources, status: str | None, function: str | None, limit: int) -> list[JobView]:
    """Jobs waiting in the queue, newest first, then those workers started lately."""
    candidates: list[str] = []
    for queue_name in all_queues(state.settings):
        waiting = await state.arq.zrange(queue_name, 0, MAX_JOBS_LISTED * 2 - 1, desc=True)
        candidates += [(i.decode() if isinstance(i, bytes) else i) for i in waiting]
    candidates += [job_id for job_id, name in await recent_jobs(state.arq) if function in (None, name)]
    found: list[JobView] = []
    for job_id in dict.fromkeys(candidates):  # ordered, without repeats
        view = await read_job(state.arq, state.db, job_id, queue_of_job_id(job_id, state.settings))
        if (status is None or view.status == status) and (function is None or view.function == function):
            found.append(view)
            if len(found) == limit:
                break
    return found


@documented(
    "GET",
    "recent jobs: waiting ones first, then those workers started lately",
    {200: ok(JobList, "jobs"), 422: error("bad status or limit")},
    query=JobsQuery,
    access="admin",
)
async def jobs(request: Request) -> JSONResponse:
    await require_admin(request)
    query = parse_query(request.query_params, JobsQuery)
    found = await list_recent_jobs(resources_of(request), query.status, query.function, query.limit)
    return reply(JobList(jobs=found))


def describe_schedule(schedule: dict[str, Any]) -> str:
    if "hour" in schedule:
        return f"daily {schedule['hour']:02d}:{schedule.get('minute', 0):02d} UTC"
    return f"hourly at :{schedule.get('minute', 0):02d}"


def cron_views() -> list[CronView]:
    return [CronView(name=name, schedule=describe_schedule(s), next_run_at=next_run(name)) for name, s in CRON_SCHEDULES.items()]


@documented("GET", "the cron jobs and their next run", {200: ok(CronList, "crons")}, access="admin")
async def crons(request: Request) -> JSONResponse:
    await require_admin(request)
    return reply(CronList(crons=cron_views()))


@documented(
    "POST", "run a cron job now", {202: ok(CronStarted, "enqueued"), 404: error("no cron with that name")}, access="admin"
)
async def run_cron(request: Request) -> JSONResponse:
    admin = await require_admin(request)
    name, state = request.path_params["name"], resources_of(request)
    if name not in CRON_SCHEDULES:
        raise ApiError(404, "no cron job with that name")
    job_id = await enqueue_cron_now(state.arq, name, datetime.now(UTC))
    await record_job_owner(state.db, job_id, admin.user_id)
    return JSONResponse(CronStarted(job_id=job_id).model_dump(), status_code=202)


RERUN_REFUSALS = {
    "chat_job": (409, "a chat reply is retried by its user, not requeued"),
    "not_found": (404, "no job with that id"),
    "not_finished_badly": (409, "only a failed, dead-lettered or cancelled job can be requeued"),
    "no_definition": (409, "arq no longer keeps this job's arguments"),
}


@documented(
    "POST",
    "run a failed, dead-lettered or cancelled background job again (through its dead letter if it has one)",
    {
        202: ok(Requeued, "enqueued under a new id"),
        404: error("no such job"),
        409: error("not finished badly, a chat reply (its user retries it), or its arguments are gone"),
    },
    access="admin",
)
async def requeue_job(request: Request) -> JSONResponse:
    """The job's row on the dashboard: run a failed or cancelled job again (shared/queue/rerun.py)."""
    admin = await require_admin(request)
    state = resources_of(request)
    outcome = await rerun(state.db, state.arq, state.settings, request.path_params["job_id"])
    if outcome in RERUN_REFUSALS:
        status_code, detail = RERUN_REFUSALS[outcome]
        raise ApiError(status_code, detail)
    await record_job_owner(state.db, outcome, admin.user_id)
    return JSONResponse(Requeued(job_id=outcome).model_dump(), status_code=202)


@documented("GET", "jobs finished per minute over the last hour", {200: ok(Activity, "activity")}, access="admin")
async def activity(request: Request) -> JSONResponse:
    await require_admin(request)
    minutes, _ = await last_hour(resources_of(request).arq)
    return reply(Activity(minutes=minutes))
