"""OpenAPI paths of the job status, operations and metrics endpoints (merged into
service/openapi.py's document)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from service import operations_schemas as ops
from shared.queue.job_status import STATUSES, JobView
from shared.redis_structures.live_limits import LimitsChange

MODELS: list[type[BaseModel]] = [
    JobView,
    ops.QueueView,
    ops.WorkerList,
    ops.JobList,
    ops.CronList,
    ops.CronStarted,
    ops.Requeued,
    ops.Activity,
    ops.LimitsView,
    LimitsChange,
]


FORM = {
    "type": "object",
    "properties": {"email": {"type": "string"}, "password": {"type": "string"}},
    "required": ["email", "password"],
}


def html(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"text/html": {"schema": {"type": "string"}}}}


def paths(operation: Any, json_body: Any, error: Any, auth: dict[str, Any], admin: dict[str, Any]) -> dict[str, Any]:
    job_id = [{"name": "job_id", "in": "path", "required": True, "schema": {"type": "string"}}]
    return {
        "/api/v1/jobs/{job_id}": {
            "get": operation(
                "a job the API handed the caller: status, times, tries, result",
                {"200": json_body(JobView, "the job"), "404": error("no such job, or not the caller's"), **auth},
                secured=True,
                parameters=job_id,
            ),
            "delete": operation(
                "cancel a queued or running job (its owner or an admin)",
                {
                    "200": json_body(JobView, "cancelled (or it finished first)"),
                    "202": json_body(JobView, "cancel requested; the worker has not confirmed yet"),
                    "404": error("no such job, or not the caller's"),
                    "409": error("the job already finished, or still waits in the outbox"),
                    **auth,
                },
                secured=True,
                parameters=job_id,
            ),
        },
        "/api/v1/admin/queue": {
            "get": operation(
                "the queue by function, dead letters, outbox", {"200": json_body(ops.QueueView, "queue"), **admin}, secured=True
            )
        },
        "/api/v1/admin/workers": {
            "get": operation(
                "workers from their heartbeats", {"200": json_body(ops.WorkerList, "workers"), **admin}, secured=True
            )
        },
        "/api/v1/admin/jobs": {
            "get": operation(
                "recent jobs: waiting ones first, then those workers started lately",
                {"200": json_body(ops.JobList, "jobs"), "422": error("bad status or limit"), **admin},
                secured=True,
                parameters=[
                    {"name": "status", "in": "query", "required": False, "schema": {"type": "string", "enum": list(STATUSES)}},
                    {"name": "function", "in": "query", "required": False, "schema": {"type": "string"}},
                    {
                        "name": "limit",
                        "in": "query",
                        "required": False,
                        "schema": {"type": "integer", "minimum": 1, "maximum": 200},
                    },
                ],
            )
        },
        "/api/v1/admin/crons": {
            "get": operation("the cron jobs and their next run", {"200": json_body(ops.CronList, "crons"), **admin}, secured=True)
        },
        "/api/v1/admin/crons/{name}/run": {
            "post": operation(
                "run a cron job now",
                {"202": json_body(ops.CronStarted, "enqueued"), "404": error("no cron with that name"), **admin},
                secured=True,
                parameters=[{"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}],
            )
        },
        "/api/v1/admin/jobs/{job_id}/requeue": {
            "post": operation(
                "run a failed, dead-lettered or cancelled background job again (through its dead letter if it has one)",
                {
                    "202": json_body(ops.Requeued, "enqueued under a new id"),
                    "404": error("no such job"),
                    "409": error("not finished badly, a chat reply (its user retries it), or its arguments are gone"),
                    **admin,
                },
                secured=True,
                parameters=job_id,
            )
        },
        "/api/v1/admin/limits": {
            "get": operation(
                "the limits in force, the environment's starting values, and the recent changes",
                {"200": json_body(ops.LimitsView, "limits"), "503": error("Redis is unreachable"), **admin},
                secured=True,
            ),
            "put": operation(
                "change limits at run time (only those named); every process follows within LIMITS_REFRESH_SECONDS",
                {
                    "200": json_body(ops.LimitsView, "changed and recorded"),
                    "400": error("body is not JSON, or refused JSON"),
                    "408": error("body not received in time"),
                    "413": error("body over the size limit"),
                    "422": error("a value out of range or not an integer, an unknown field, or no limit named"),
                    "503": error("Redis is unreachable: nothing changed"),
                    **admin,
                },
                body=LimitsChange,
                secured=True,
            ),
        },
        "/api/v1/admin/activity": {
            "get": operation(
                "jobs finished per minute over the last hour", {"200": json_body(ops.Activity, "activity"), **admin}, secured=True
            )
        },
        "/admin": {
            "get": operation(
                "the operations dashboard (HTML): the sign-in form when signed out",
                {"200": html("the dashboard, or the sign-in form"), "403": html("signed in, not an admin")},
            )
        },
        "/admin/panels": {
            "get": operation(
                "the dashboard's panels (HTML), for its live refresh",
                {
                    "200": html("the panels"),
                    "401": {"description": "not signed in", "content": {"text/plain": {"schema": {"type": "string"}}}},
                    "403": html("not an admin"),
                },
            )
        },
        "/admin/login": {
            "post": {
                "summary": "browser sign-in: sets the session cookie and redirects to /admin",
                "requestBody": {"required": True, "content": {"application/x-www-form-urlencoded": {"schema": FORM}}},
                "responses": {
                    "303": {"description": "signed in; Set-Cookie carries the session"},
                    "401": html("wrong email or password: the form again"),
                    "403": error("the Origin header does not name this site"),
                    "408": error("body not received in time"),
                    "413": error("body over the size limit"),
                    "429": html("too many failed sign-ins: the form again"),
                },
            }
        },
        "/admin/logout": {
            "post": operation(
                "browser sign-out: revokes the session, clears the cookie",
                {"303": {"description": "signed out"}, "403": error("the Origin header does not name this site")},
            )
        },
        "/metrics": {
            "get": operation(
                "Prometheus metrics (text exposition format); unless METRICS_PUBLIC: admins, or Bearer METRICS_TOKEN",
                {"200": {"description": "metrics", "content": {"text/plain": {"schema": {"type": "string"}}}}, **admin},
                secured=True,
            )
        },
    }
