"""`GET/PUT /api/v1/admin/limits`: the limits an admin changes at run time.

The four limits (chat messages per minute, LLM requests and tokens per minute, each user's
daily token budget) start from the environment; a PUT stores the change in Redis, where
every process picks it up within LIMITS_REFRESH_SECONDS (shared/redis_structures/live_limits.py),
and records who changed what, and when (shared/store/limit_changes.py). A PUT names only the
limits it changes. Admins only; a bad value is 422 naming the field, nothing stored.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse

from service.api_docs import documented, error, ok
from service.errors import ApiError, parse_body
from service.resources import ServiceResources, resources_of
from service.routes.admin import require_admin
from service.routes.operations_schemas import LimitsView
from shared.process import clock
from shared.redis_structures.live_limits import LimitsChange
from shared.redis_structures.unavailable import REDIS_DOWN
from shared.store.limit_changes import LimitChange, recent_limit_changes, record_limit_change
from shared.store.users import find_by_id

CHANGES_SHOWN = 20


async def limits_view(state: ServiceResources) -> LimitsView:
    live = state.live_limits
    try:
        now = await live.current(strict=True, fresh=True)
    except REDIS_DOWN:
        raise ApiError(503, "Redis is unreachable: the limits in force cannot be read") from None
    changes = await recent_limit_changes(state.db, CHANGES_SHOWN)
    return LimitsView(limits=now, starting=live.starting, changes=changes)


@documented(
    "GET",
    "the limits in force, the environment's starting values, and the recent changes",
    {200: ok(LimitsView, "limits"), 503: error("Redis is unreachable")},
    access="admin",
)
@documented(
    "PUT",
    "change limits at run time (only those named); every process follows within LIMITS_REFRESH_SECONDS",
    {
        200: ok(LimitsView, "changed and recorded"),
        422: error("a value out of range or not an integer, an unknown field, or no limit named"),
        503: error("Redis is unreachable: nothing changed"),
    },
    body=LimitsChange,
    access="admin",
)
async def limits(request: Request) -> JSONResponse:
    admin = await require_admin(request)
    state = resources_of(request)
    if request.method == "PUT":
        change = await parse_body(request, LimitsChange)
        if not change.fields():
            raise ApiError(422, "body: name at least one limit to change", [{"field": "body", "message": "no limit given"}])
        try:
            before, after = await state.live_limits.change(change)
        except REDIS_DOWN:
            raise ApiError(503, "Redis is unreachable: the limits were not changed") from None
        user = await find_by_id(state.db, admin.user_id)
        record = LimitChange(
            changed_by=admin.user_id,
            changed_by_email=user["email"] if user else "",
            changed_at=clock.now(),
            before=before,
            after=after,
        )
        await record_limit_change(state.db, record)
    return JSONResponse((await limits_view(state)).model_dump(mode="json"))
