"""`sweep_sessions` (hourly cron): extract sessions that ended without logout or socket close.

Logout and socket close enqueue the extraction; a service crash, an expired token or a
phone that just goes quiet do neither, and those words would never reach memory. So every
hour the sweep looks at the sessions with messages in the last
SESSION_SWEEP_LOOKBACK_HOURS and enqueues `extract_session_context` for each one that
- has ended: no message for SESSION_IDLE_MINUTES, or its login expired or was revoked
  (or is gone: MongoDB's TTL index removes expired sessions), and
- has messages nothing covers yet: neither its context nor its empty-extraction
  watermark (shared/store/empty_extractions.py) reaches its newest message, and
- has at least two messages (fewer is never extracted), and
- is not in the dead letters under that job id: a session whose extraction failed for
  good waits for an operator's requeue rather than failing again every hour.
It enqueues under the same job id as logout and close (shared/queue/jobs.py), so a
session is extracted once whoever asks, and at most SESSION_SWEEP_BATCH per run, oldest
first; the rest wait for the next run.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from shared.queue.jobs import enqueue_extraction, extract_job_id
from shared.store import contexts, sessions
from shared.store.dead_letters import open_dead_job_ids
from shared.store.empty_extractions import empty_watermarks
from shared.store.messages import recent_sessions
from shared.store.mongo import Database
from worker.context import job_context
from worker.extract import MIN_MESSAGES

log = logging.getLogger(__name__)

CHUNK = 200  # sessions looked up per round trip


async def ended(db: Database, rows: list[dict[str, Any]], idle_cutoff: datetime, now: datetime) -> list[dict[str, Any]]:
    """The rows whose session is idle, expired, revoked or gone."""
    recent = [r["_id"] for r in rows if r["last_at"] > idle_cutoff]
    still_open = await sessions.still_open(db, recent, now)
    return [r for r in rows if r["_id"] not in still_open]


async def uncovered(db: Database, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows whose newest message no context and no empty watermark reaches."""
    if not rows:
        return []
    user_ids, session_ids = list({r["user_id"] for r in rows}), [r["_id"] for r in rows]
    reached: dict[str, datetime] = {}
    for session_id, last_at in await contexts.watermarks(db, user_ids, session_ids) + await empty_watermarks(
        db, user_ids, session_ids
    ):
        if session_id not in reached or last_at > reached[session_id]:
            reached[session_id] = last_at
    return [r for r in rows if r["_id"] not in reached or reached[r["_id"]] < r["last_at"]]


async def not_dead(db: Database, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    ids = {extract_job_id(r["_id"], str(r["last_id"])): r for r in rows}
    if not ids:
        return []
    dead = await open_dead_job_ids(db, list(ids))
    return [row for job_id, row in ids.items() if job_id not in dead]


async def sweep_sessions(ctx: dict[str, Any], now: datetime | None = None) -> dict[str, Any]:
    resources = job_context(ctx).resources
    db, settings = resources.db, resources.settings
    now = now or datetime.now(UTC)
    idle_cutoff = now - timedelta(minutes=settings.session_idle_minutes)
    since = now - timedelta(hours=settings.session_sweep_lookback_hours)
    budget = settings.session_sweep_batch
    examined = submitted = 0
    cursor = recent_sessions(db, since, MIN_MESSAGES)
    chunk: list[dict[str, Any]] = []

    async def enqueue_due(rows: list[dict[str, Any]], room: int) -> int:
        due = await not_dead(db, await uncovered(db, await ended(db, rows, idle_cutoff, now)))
        for row in due[:room]:
            await enqueue_extraction(
                db, resources.redis, settings.redis_timeout_seconds, row["user_id"], row["_id"], str(row["last_id"])
            )
        return min(len(due), room)

    async for row in cursor:
        examined += 1
        chunk.append(row)
        if len(chunk) == CHUNK:
            submitted += await enqueue_due(chunk, budget - submitted)
            chunk = []
            if submitted >= budget:
                break
    if chunk and submitted < budget:
        submitted += await enqueue_due(chunk, budget - submitted)
    log.info(
        "sweep_sessions: %d sessions examined, %d extractions submitted (arq drops ids it already holds)", examined, submitted
    )
    return {"examined": examined, "submitted": submitted, "batch_full": submitted >= budget}
