"""Accepting a chat message: the one path `POST /api/v1/chat/messages` and the socket share;
and a retry of a failed or cancelled reply (`POST /api/v1/chat/replies/{id}/retry`).

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
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from service.principal import Principal
from service.resources import ServiceResources
from shared.llm import LLMBudgetExhausted
from shared.llm.budget import check_daily_budget
from shared.queue.jobs import enqueue_reply, reply_job_id
from shared.redis_structures.unavailable import REDIS_DOWN
from shared.store.conversations import touch_conversation
from shared.store.job_owners import record_job_owner
from shared.store.messages import delete_message, store_message
from shared.store.replies import (
    Reply,
    create_reply,
    delete_reply,
    mark_retried,
    new_reply_id,
    unmark_retried,
)

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
class AlreadyRetried:
    """The reply was retried before: the retry's reply id."""

    reply_id: str


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


async def _admit(state: ServiceResources, principal: Principal, session_id: str, reply_id: str) -> Refused | None:
    """The user's messages-per-minute bucket, their daily token budget, the session's reply
    lease (taken for `reply_id` when nothing refuses)."""
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
        await check_daily_budget(state.db, limits.user_daily_token_budget, principal.user_id)
    except LLMBudgetExhausted as exc:
        return Refused(
            "budget_exhausted",
            "today's LLM token budget is spent; this message was not stored",
            retry_after=max(1, math.ceil(exc.retry_after)),
            resets_at=exc.resets_at,
        )
    try:
        taken = await state.reply_lease.take(session_id, reply_id)
    except REDIS_DOWN:
        return unavailable()
    if not taken:
        return Refused("busy", "a reply for this session is still being written; send again after it is done", retry_after=1)
    return None


async def _queue_reply(
    state: ServiceResources,
    user_id: str,
    session_id: str,
    conversation_id: str | None,
    message_id: str,
    reply_id: str,
    take_back: Callable[[], Awaitable[None]],
) -> Accepted | Refused:
    """Create the reply `queued` for the message and enqueue its job; the lease is held.
    With Redis away, the reply and whatever `take_back` undoes are taken back."""
    settings, db = state.settings, state.db
    try:
        job_id = reply_job_id(reply_id)
        await create_reply(db, reply_id, user_id, session_id, message_id, job_id, datetime.now(UTC), conversation_id)
        await record_job_owner(db, job_id, user_id)
        try:
            async with asyncio.timeout(settings.redis_timeout_seconds):
                await enqueue_reply(state.arq, settings, reply_id)
        except REDIS_DOWN:
            await delete_reply(db, reply_id)
            await take_back()
            await state.reply_lease.free(session_id, reply_id)
            return unavailable()
    except BaseException:
        await asyncio.shield(state.reply_lease.free(session_id, reply_id))
        raise
    return Accepted(message_id=message_id, reply_id=reply_id, job_id=job_id)


async def start_reply(state: ServiceResources, principal: Principal, content: str, conversation_id: str) -> Accepted | Refused:
    """Every step that needs Redis refuses `unavailable` as soon as one finds it away, so a
    silent Redis costs the client one REDIS_TIMEOUT_SECONDS, not one per step."""
    reply_id = new_reply_id()
    refused = await _admit(state, principal, principal.session_id, reply_id)
    if refused is not None:
        return refused
    try:
        message = await store_message(
            state.db, principal.user_id, principal.session_id, "user", content, conversation_id=conversation_id
        )
    except BaseException:
        await asyncio.shield(state.reply_lease.free(principal.session_id, reply_id))
        raise

    async def take_back() -> None:
        await delete_message(state.db, message.id)

    outcome = await _queue_reply(state, principal.user_id, principal.session_id, conversation_id, message.id, reply_id, take_back)
    if isinstance(outcome, Accepted):  # the user's other tabs and devices show it and follow its reply
        await touch_conversation(state.db, conversation_id, message.timestamp, content)
        event = {
            "conversation_id": conversation_id,
            "message_id": message.id,
            "content": content,
            "reply_id": reply_id,
            "stream_url": outcome.stream_url,
        }
        await state.user_events.publish(principal.user_id, "message", event)
    return outcome


async def retry_reply(state: ServiceResources, principal: Principal, earlier: Reply) -> Accepted | Refused | AlreadyRetried:
    """A new reply to the message a failed or cancelled reply answered, in that reply's session
    (its lease, its history), through the same limits as a new message. A reply is retried
    once: the first retry marks it, so a second gets the first one's id (409)."""
    reply_id = new_reply_id()
    marked = await mark_retried(state.db, earlier.reply_id, principal.user_id, reply_id)
    if marked is not None:
        return AlreadyRetried(marked)

    async def take_back() -> None:
        await unmark_retried(state.db, earlier.reply_id, reply_id)

    # The earlier reply has ended; its worker may not have freed the session's lease yet.
    await state.reply_lease.free(earlier.session_id, earlier.reply_id)
    refused = await _admit(state, principal, earlier.session_id, reply_id)
    if refused is not None:
        await take_back()
        return refused
    outcome = await _queue_reply(
        state, principal.user_id, earlier.session_id, earlier.conversation_id, earlier.message_id, reply_id, take_back
    )
    if isinstance(outcome, Accepted):
        event = {
            "conversation_id": earlier.conversation_id,
            "reply_id": reply_id,
            "message_id": earlier.message_id,
            "retry_of": earlier.reply_id,
        }
        await state.user_events.publish(principal.user_id, "reply", {**event, "stream_url": outcome.stream_url})
    return outcome
