"""`/admin`: the operator's dashboard, server-rendered with Starlette's Jinja2 templates.

The page renders its panels on the server; a small script (static/admin.js) fetches the
panels again every few seconds and swaps them in, and its buttons call the same admin API
as any client (cancel or requeue a job, requeue a dead letter, run a cron, change the
limits). The limits form sits outside the refreshed panels, so a refresh never clears what
an admin is typing. The browser signs in with a form that sets the session cookie
(service/browser_session.py). Every asset is served from here.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from service.api_docs import documented, empty, error, html, text
from service.browser_session import (
    check_origin,
    clear_session_cookie,
    cookie_token,
    set_session_cookie,
)
from service.dashboard_charts import bar_chart
from service.errors import ApiError
from service.login import open_session, revoke_session
from service.principal import Principal, Unauthorized, authenticate
from service.resources import ServiceResources, resources_of
from service.routes.auth_schemas import Credentials
from service.routes.operations import build_queue_view, cron_views, every_worker, list_recent_jobs
from shared.queue.job_history import last_hour
from shared.queue.jobs import queue_of_job_id
from shared.queue.rerun import RERUNNABLE
from shared.store.dead_letters import list_dead_letters
from shared.store.limit_changes import recent_limit_changes
from shared.store.users import ADMIN, find_by_id, has_role

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=HERE / "templates")
RECENT_JOBS_SHOWN = 25
LIMIT_CHANGES_SHOWN = 10
# The limits form: each field's label (the environment variable is shown beside it).
LIMIT_LABELS = {
    "chat_messages_per_minute": "Chat messages per user per minute",
    "llm_requests_per_minute": "LLM requests per minute (0: unlimited)",
    "llm_tokens_per_minute": "LLM tokens per minute (0: unlimited)",
    "user_daily_token_budget": "LLM tokens per user per day (0: no budget)",
}
CANCELLABLE = frozenset({"queued", "deferred", "in_progress"})


async def signed_in(request: Request) -> Principal | None:
    token = cookie_token(request)
    if token is None:
        return None
    try:
        return await authenticate(request, token)
    except Unauthorized:
        return None


def login_page(request: Request, error: str | None = None, status_code: int = 200) -> Response:
    return templates.TemplateResponse(request, "login.html", {"error": error}, status_code=status_code)


async def panels_context(state: ServiceResources) -> dict[str, Any]:
    queue, workers, jobs, dead, (minutes, _), changes = await asyncio.gather(
        build_queue_view(state),
        every_worker(state),
        list_recent_jobs(state, None, None, RECENT_JOBS_SHOWN),
        list_dead_letters(state.db),
        last_hour(state.arq),
        recent_limit_changes(state.db, LIMIT_CHANGES_SHOWN),
    )
    chat_queue = state.settings.chat_queue_name
    return {
        "queue": queue,
        # One row per worker and queue, a process's queues side by side.
        "workers": sorted(workers, key=lambda w: (w.host, w.pid, w.queue_name)),
        "chat_queue": chat_queue,
        "jobs": jobs,
        "job_queue": {j.job_id: queue_of_job_id(j.job_id, state.settings) for j in jobs},
        "cancellable": CANCELLABLE,
        "rerunnable": RERUNNABLE,
        "dead_letters": dead,
        "crons": cron_views(),
        "limit_changes": changes,
        "limit_labels": LIMIT_LABELS,
        "charts": [bar_chart("Completed per minute", minutes, "complete"), bar_chart("Failed per minute", minutes, "failed")],
    }


async def admin_or_refusal(request: Request) -> tuple[Principal | None, Response | None]:
    principal = await signed_in(request)
    if principal is None:
        return None, login_page(request)
    if not await has_role(resources_of(request).db, principal.user_id, ADMIN):
        return principal, templates.TemplateResponse(request, "forbidden.html", {}, status_code=403)
    return principal, None


@documented(
    "GET",
    "the operations dashboard (HTML): the sign-in form when signed out",
    {200: html("the dashboard, or the sign-in form"), 403: html("signed in, not an admin")},
    access="public",
)
async def dashboard(request: Request) -> Response:
    principal, refusal = await admin_or_refusal(request)
    if refusal is not None:
        return refusal
    assert principal is not None  # no refusal means a principal
    state = resources_of(request)
    user = await find_by_id(state.db, principal.user_id)
    context = await panels_context(state)
    limits = await state.live_limits.current(fresh=True)  # Redis away: the values read last
    return templates.TemplateResponse(
        request,
        "admin.html",
        {
            **context,
            "email": user["email"] if user else "",
            "limits": limits,
            "starting": state.live_limits.starting,
            "refresh_seconds": state.settings.limits_refresh_seconds,
        },
    )


@documented(
    "GET",
    "the dashboard's panels (HTML), for its live refresh",
    {200: html("the panels"), 401: text("not signed in"), 403: html("not an admin")},
    access="public",
)
async def panels(request: Request) -> Response:
    """The panels alone, for the page's live refresh."""
    principal, refusal = await admin_or_refusal(request)
    if principal is None:
        return PlainTextResponse("signed out", status_code=401)
    if refusal is not None:
        return refusal
    return templates.TemplateResponse(request, "panels.html", await panels_context(resources_of(request)))


@documented(
    "POST",
    "browser sign-in: sets the session cookie and redirects to /admin",
    {
        303: empty("signed in; Set-Cookie carries the session"),
        401: html("wrong email or password: the form again"),
        403: error("the Origin header does not name this site"),
        408: error("body not received in time"),
        413: error("body over the size limit"),
        429: html("too many failed sign-ins: the form again"),
    },
    form=Credentials,
    access="public",
)
async def sign_in(request: Request) -> Response:
    check_origin(request)  # no logging a victim into an attacker's account from elsewhere
    form = parse_qs((await request.body()).decode("utf-8", "replace"))
    email, password = form.get("email", [""])[0], form.get("password", [""])[0]
    try:
        credentials = Credentials(email=email, password=password)
        opened = await open_session(request, credentials.email, credentials.password)
    except (ValueError, Unauthorized):
        return login_page(request, "Wrong email or password.", 401)
    except ApiError as exc:  # throttled
        return login_page(request, exc.detail, exc.status_code)
    response = RedirectResponse("/admin", status_code=303)
    set_session_cookie(response, request, opened.token, int(opened.ttl.total_seconds()))
    return response


@documented(
    "POST",
    "browser sign-out: revokes the session, clears the cookie",
    {303: empty("signed out"), 403: error("the Origin header does not name this site")},
    access="public",
)
async def sign_out(request: Request) -> Response:
    check_origin(request)
    principal = await signed_in(request)
    if principal is not None:
        await revoke_session(request, principal.user_id, principal.session_id)
    response = RedirectResponse("/admin", status_code=303)
    clear_session_cookie(response)
    return response


def dashboard_routes() -> list[Route | Mount]:
    return [
        Route("/admin", dashboard),
        Route("/admin/panels", panels),
        Route("/admin/login", sign_in, methods=["POST"]),
        Route("/admin/logout", sign_out, methods=["POST"]),
        Mount("/admin/static", StaticFiles(directory=HERE / "static"), name="admin-static"),
    ]
