"""LLM usage: the caller's daily totals by purpose, and (admins) totals by user and by day."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request
from starlette.responses import JSONResponse

from service.api_docs import documented, error, ok
from service.errors import parse_query
from service.principal import require_principal
from service.resources import resources_of
from service.routes.admin import require_admin
from shared.process import clock
from shared.store.llm_usage import AdminUsageReport, UsageReport, admin_usage, user_daily_usage


class UsageQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    days: int = Field(7, ge=1, le=366, description="UTC days back, today included")


@documented(
    "GET",
    "the caller's LLM usage per UTC day and purpose (cost when LLM_PRICES is set)",
    {200: ok(UsageReport, "usage"), 422: error("bad days")},
    query=UsageQuery,
)
async def my_usage(request: Request) -> JSONResponse:
    principal = await require_principal(request)
    query = parse_query(request.query_params, UsageQuery)
    state = resources_of(request)
    report = await user_daily_usage(state.db, principal.user_id, clock.now().date(), query.days, state.settings.llm_prices)
    return JSONResponse(report.model_dump(mode="json"))


@documented(
    "GET",
    "LLM usage of every user: totals per user and per UTC day",
    {200: ok(AdminUsageReport, "usage"), 422: error("bad days")},
    query=UsageQuery,
    access="admin",
)
async def all_usage(request: Request) -> JSONResponse:
    await require_admin(request)
    query = parse_query(request.query_params, UsageQuery)
    state = resources_of(request)
    report = await admin_usage(state.db, clock.now().date(), query.days, state.settings.llm_prices)
    return JSONResponse(report.model_dump(mode="json"))
