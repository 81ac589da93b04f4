"""OpenAPI paths of the job status, operations and metrics endpoints (merged into
service/openapi.py's document)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from service import operations_schemas as ops
from shared.job_status import STATUSES, JobView

MODELS: list[type[BaseModel]] = [JobView, ops.QueueView, ops.WorkerList, ops.JobList, ops.CronList, ops.CronStarted, ops.Activity]


def paths(operation: Any, json_body: Any, error: Any, auth: dict[str, Any], admin: dict[str, Any]) -> dict[str, Any]:
    job_id = [{"name": "job_id", "in": "path", "required": True, "schema": {"type": "string"}}]
    return {
        "/api/v1/jobs/{job_id}": {
            "get": operation(
                "a job the API handed the caller: status, times, tries, result",
                {"200": json_body(JobView, "the job"), "404": error("no such job, or not the caller's"), **auth},
                secured=True, parameters=job_id,
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
                secured=True, parameters=job_id,
            ),
        },
        "/api/v1/admin/queue": {"get": operation("the queue by function, dead letters, outbox", {"200": json_body(ops.QueueView, "queue"), **admin}, secured=True)},
        "/api/v1/admin/workers": {"get": operation("workers from their heartbeats", {"200": json_body(ops.WorkerList, "workers"), **admin}, secured=True)},
        "/api/v1/admin/jobs": {
            "get": operation(
                "recent jobs: waiting ones first, then those workers started lately",
                {"200": json_body(ops.JobList, "jobs"), "422": error("bad status or limit"), **admin},
                secured=True,
                parameters=[
                    {"name": "status", "in": "query", "required": False, "schema": {"type": "string", "enum": list(STATUSES)}},
                    {"name": "function", "in": "query", "required": False, "schema": {"type": "string"}},
                    {"name": "limit", "in": "query", "required": False, "schema": {"type": "integer", "minimum": 1, "maximum": 200}},
                ],
            )
        },
        "/api/v1/admin/crons": {"get": operation("the cron jobs and their next run", {"200": json_body(ops.CronList, "crons"), **admin}, secured=True)},
        "/api/v1/admin/crons/{name}/run": {
            "post": operation(
                "run a cron job now",
                {"202": json_body(ops.CronStarted, "enqueued"), "404": error("no cron with that name"), **admin},
                secured=True,
                parameters=[{"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}],
            )
        },
        "/api/v1/admin/activity": {
            "get": operation("jobs finished per minute over the last hour", {"200": json_body(ops.Activity, "activity"), **admin}, secured=True)
        },
        "/metrics": {
            "get": operation(
                "Prometheus metrics (text exposition format)",
                {"200": {"description": "metrics", "content": {"text/plain": {"schema": {"type": "string"}}}}},
            )
        },
    }
