"""`/admin`: the operator's dashboard, server-rendered with Starlette's Jinja2 templates.

The page renders its panels on the server; a small script (static/admin.js) fetches the
panels again every few seconds and swaps them in, and its buttons call the same admin API
as any client (requeue a dead letter, run a cron). The browser signs in with a form that
sets the session cookie (service/browser_session.py). Every asset is served from here.
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
from service.routes.operations import build_queue_view, cron_views, every_worker, list_recent_jobs
from service.schemas import Credentials
from shared.queue.job_history import last_hour
from shared.store.dead_letters import list_dead_letters
from shared.store.users import ADMIN, find_by_id, has_role

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=HERE / "templates")
RECENT_JOBS_SHOWN = 25


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


async def panels_context(state: Any) -> dict[str, Any]:
    queue, workers, jobs, dead, (minutes, _) = await asyncio.gather(
        build_queue_view(state),
        every_worker(state),
        list_recent_jobs(state, None, None, RECENT_JOBS_SHOWN),
        list_dead_letters(state.db),
        last_hour(state.arq),
    )
    return {
        "queue": queue,
        "workers": workers,
        "jobs": jobs,
        "dead_letters": dead,
        "crons": cron_views(),
        "charts": [bar_chart("Completed per minute", minutes, "complete"), bar_chart("Failed per minute", minutes, "failed")],
    }


async def admin_or_refusal(request: Request) -> tuple[Principal | None, Response | None]:
    principal = await signed_in(request)
    if principal is None:
        return None, login_page(request)
    if not await has_role(request.app.state.db, principal.user_id, ADMIN):
        return principal, templates.TemplateResponse(request, "forbidden.html", {}, status_code=403)
    return principal, None


async def dashboard(request: Request) -> Response:
    principal, refusal = await admin_or_refusal(request)
    if refusal is not None:
        return refusal
    assert principal is not None  # no refusal means a principal
    user = await find_by_id(request.app.state.db, principal.user_id)
    context = await panels_context(request.app.state)
    return templates.TemplateResponse(request, "admin.html", {**context, "email": user["email"] if user else ""})


async def panels(request: Request) -> Response:
    """The panels alone, for the page's live refresh."""
    principal, refusal = await admin_or_refusal(request)
    if principal is None:
        return PlainTextResponse("signed out", status_code=401)
    if refusal is not None:
        return refusal
    return templates.TemplateResponse(request, "panels.html", await panels_context(request.app.state))


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
