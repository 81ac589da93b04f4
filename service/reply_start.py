"""Accepting a chat message: the one path `POST /api/v1/chat/messages` and the socket share.

In order: the user's messages-per-minute bucket, their daily token budget, the session's
one-reply lease; then the message is stored, the reply created `queued`, its job enqueued
on the chat queue and its id recorded as the user's. A refusal stores nothing. With Redis
unreachable the enqueue fails, the stored message and the reply are taken back, and the
caller is told to try again (503): a reply is read from Redis as it is written, so there is
nothing to wait for meanwhile.
"""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from starlette.datastructures import State

from service.principal import Principal
from shared.llm import LLMBudgetExhausted
from shared.llm.budget import check_daily_budget
from shared.queue.jobs import enqueue_reply, reply_job_id
from shared.redis_structures.unavailable import REDIS_DOWN
from shared.store.job_owners import record_job_owner
from shared.store.messages import delete_message, store_message
from shared.store.replies import create_reply, delete_reply, new_reply_id

ENQUEUE_RETRY_AFTER_SECONDS = 5


def stream_url(reply_id: str) -> str:
    return f"/api/v1/chat/replies/{reply_id}/stream"


@dataclass(frozen=True)
class Accepted:
    message_id: str
    reply_id: str
    job_id: str

    @property
    def stream_url(self) -> str:
        return stream_url(self.reply_id)


@dataclass(frozen=True)
class Refused:
    code: Literal["rate_limited", "busy", "budget_exhausted", "unavailable"]
    detail: str
    retry_after: int | None = None
    resets_at: datetime | None = None


def unavailable() -> Refused:
    return Refused(
        "unavailable",
        "the chat cannot reach its queue right now; this message was not stored, send it again shortly",
        retry_after=ENQUEUE_RETRY_AFTER_SECONDS,
    )


async def start_reply(state: State, principal: Principal, content: str) -> Accepted | Refused:
    """Every step that needs Redis refuses `unavailable` as soon as one finds it away, so a
    silent Redis costs the client one REDIS_TIMEOUT_SECONDS, not one per step."""
    settings, db = state.settings, state.db
    try:
        decision = await state.chat_limits.take_message(principal.user_id)
    except REDIS_DOWN:
        return unavailable()
    if not decision.allowed:
        return Refused(
            "rate_limited",
            f"more than {state.chat_limits.messages_per_minute} messages a minute; this one was not stored",
            retry_after=max(1, math.ceil(decision.retry_after)),
        )
    try:
        limits = await state.chat_limits.live_limits.current()
        await check_daily_budget(db, limits.user_daily_token_budget, principal.user_id)
    except LLMBudgetExhausted as exc:
        return Refused(
            "budget_exhausted",
            "today's LLM token budget is spent; this message was not stored",
            retry_after=max(1, math.ceil(exc.retry_after)),
            resets_at=exc.resets_at,
        )
    reply_id = new_reply_id()
    try:
        taken = await state.reply_lease.take(principal.session_id, reply_id)
    except REDIS_DOWN:
        return unavailable()
    if not taken:
        return Refused("busy", "a reply for this session is still being written; send again after it is done", retry_after=1)
    try:
        message = await store_message(db, principal.user_id, principal.session_id, "user", content)
        job_id = reply_job_id(reply_id)
        await create_reply(db, reply_id, principal.user_id, principal.session_id, message.id, job_id, datetime.now(UTC))
        await record_job_owner(db, job_id, principal.user_id)
        try:
            async with asyncio.timeout(settings.redis_timeout_seconds):
                await enqueue_reply(state.arq, settings, reply_id)
        except REDIS_DOWN:
            await delete_reply(db, reply_id)
            await delete_message(db, message.id)
            await state.reply_lease.free(principal.session_id, reply_id)
            return unavailable()
    except BaseException:
        await asyncio.shield(state.reply_lease.free(principal.session_id, reply_id))
        raise
    return Accepted(message_id=message.id, reply_id=reply_id, job_id=job_id)
