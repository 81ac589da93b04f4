"""`generate_reply`: write one coach reply into its Redis stream, then store it.

The service stored the user's message, created the reply `queued` and enqueued this job on
the chat queue. Here: claim the reply, stream the LLM's deltas into the reply's stream
(shared/redis_structures/reply_stream.py) as they arrive (those arriving while a chunk is
being appended go out together as the next: worker/coalesced_chunks.py), store the whole text as the assistant message and
the reply `done` with its model, usage and timings, then write the stream's `done` event,
so a client that sees `done` finds the message stored.

Failures, by when they happen:
- before the first chunk: nothing was sent, so a transient failure is retried like any job
  (worker/reliability.py); a permanent one, or the last try, ends the stream with `error`;
- after it: the text cannot be unsent, and a new LLM call would write different text, so
  the stream ends with `error`, the partial text is kept, status `failed`. A retry that
  finds chunks already in the stream (the worker was killed mid-reply) does the same: no
  listener ever gets text twice;
- cancelled (`DELETE /api/v1/chat/replies/{id}` aborts the job): the LLM stream is closed
  at once and the stream ends with `error` code `cancelled`.
- the stream lost or cut under it (its Redis restarted without the data, or could not be
  written for a while): each event is appended only if the stream still ends with the
  writer's last event; if not, the writer starts it again with a `reset` event carrying the
  text so far, then goes on. A listener never sees `done` after a gap (issue 25).

A reply that finishes after its session was logged out enqueues the session's extraction
again (the job id names the newest message, so it is a new job): the logout's extraction
ran without the reply; this one includes it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from datetime import UTC, datetime
from typing import Any

from shared.llm import LLMBudgetExhausted, LLMDeferred, LLMError
from shared.llm.attribution import attribute_llm_calls
from shared.memory.recall import recall
from shared.models import TokenUsage
from shared.queue import jobs
from shared.redis_structures.reply_stream import EventName
from shared.redis_structures.unavailable import REDIS_DOWN
from shared.store.messages import (
    message_of_reply,
    recent_conversation_messages,
    recent_session_messages,
    store_message,
)
from shared.store.replies import claim_reply, fail_reply, finish_reply, keep_cancelled_text, status_of
from shared.store.sessions import still_open
from worker.coalesced_chunks import CoalescedChunks
from worker.context import JobContext, job_context
from worker.job_metrics import note_on_job_line
from worker.reliability import is_transient
from worker.resources import WorkerResources

log = logging.getLogger(__name__)


def _now() -> datetime:
    return datetime.now(UTC)


class ReplyWriter:
    """One reply being written: its stream, its text so far, its ending (exactly one)."""

    def __init__(self, resources: WorkerResources, doc: dict[str, Any]) -> None:
        self.resources = resources
        self.db = resources.db
        self.settings = resources.settings
        self.streams = resources.reply_streams
        self.reply_id: str = doc["_id"]
        self.user_id: str = doc["user_id"]
        self.session_id: str = doc["session_id"]
        self.conversation_id: str | None = doc.get("conversation_id")
        self.attempt: int = doc["attempts"]  # counted by claim_reply: 1 on the first try
        self.parts: list[str] = []
        self.model = self.settings.model_for("chat")
        self.usage = TokenUsage()
        self.started = time.perf_counter()
        self.first_chunk_ms: float | None = None
        self.last_id: str | None = None  # the last event this writer put in the stream
        self.in_step = False  # the stream ends with `last_id`, as far as this writer knows

    @property
    def text(self) -> str:
        return "".join(self.parts)

    def on_usage(self, model: str, usage: TokenUsage) -> None:
        self.model, self.usage = model, usage

    async def chunk(self, text: str) -> None:
        if not text:
            return
        if self.first_chunk_ms is None:
            self.first_chunk_ms = round((time.perf_counter() - self.started) * 1000, 2)
        if not self.parts:
            self.last_id = await self.streams.append(self.reply_id, "chunk", {"text": text}, first=True)
            self.in_step = True
        else:
            try:
                await self.emit("chunk", {"text": text})
            except REDIS_DOWN as exc:
                # The text goes on; the stream is started again from it once Redis answers.
                if self.in_step:
                    log.warning("reply %s: its stream could not be written (%s); the text is kept", self.reply_id, exc)
                self.in_step = False
        self.parts.append(text)

    async def emit(self, event: EventName, data: dict[str, Any]) -> None:
        """Append after this writer's last event, or start the stream again with the text so
        far when it is not as the writer left it."""
        if not self.in_step and self.last_id is None:
            # A later try of this reply: in step if the stream holds exactly the text so far.
            streamed, _ = await self.streams.text(self.reply_id)
            if streamed == self.text:
                self.last_id = await self.streams.append(self.reply_id, event, data, first=not streamed)
                self.in_step = True
                return
        if self.in_step and self.last_id is not None:
            appended = await self.streams.append_after(self.reply_id, self.last_id, event, data)
            if appended is not None:
                self.last_id = appended
                return
        if await status_of(self.db, self.reply_id) is None:
            self.in_step = False  # deleted with its account: its stream is not made again
            return
        log.warning(
            "reply %s: its stream was lost or cut (Redis restarted?); started again with the %d characters so far",
            self.reply_id,
            len(self.text),
        )
        self.last_id = await self.streams.restart(self.reply_id, self.last_id, self.text, event, data)
        self.in_step = True

    async def write(self) -> None:
        limit = self.settings.chat_history_messages
        if self.conversation_id is not None:  # the conversation's turns, whichever session said them
            history = await recent_conversation_messages(self.db, self.user_id, self.conversation_id, limit)
        else:
            history = await recent_session_messages(self.db, self.user_id, self.session_id, limit)
        memory = await recall(
            self.db, self.user_id, self.settings, history, cache=self.resources.redis, embedder=self.resources.embedder
        )
        # aclosing: a cancelled job closes the LLM stream now, not when garbage-collected.
        async with contextlib.aclosing(self.resources.llm.stream_reply(history, memory, self.on_usage)) as deltas:
            chunks = CoalescedChunks(self.chunk)  # deltas that come during an append go out with the next
            try:
                async for text in deltas:
                    chunks.add(text)
            except asyncio.CancelledError:
                await chunks.drop()
                raise
            except Exception:
                await chunks.flush()  # the text so far is in the stream before the failure is told
                raise
            await chunks.flush()

    async def store(self, message_id: str | None = None) -> None:
        """The reply is whole: the message, the reply `done`, then the stream's `done` event."""
        latency_ms = round((time.perf_counter() - self.started) * 1000, 2)
        if message_id is None:
            message = await store_message(
                self.db,
                self.user_id,
                self.session_id,
                "assistant",
                self.text,
                reply_id=self.reply_id,
                conversation_id=self.conversation_id,
            )
            message_id = message.id
        finished = await finish_reply(
            self.db,
            self.reply_id,
            text=self.text,
            assistant_message_id=message_id,
            model=self.model,
            usage=self.usage,
            first_chunk_ms=self.first_chunk_ms,
            latency_ms=latency_ms,
            now=_now(),
        )
        if not finished:  # cancelled while the last chunks came in: the cancel wins
            await self.end_error("cancelled", "the reply was cancelled")
            return
        await self.emit(
            "done",
            {
                "message_id": message_id,
                "usage": self.usage.model_dump(),
                "latency_ms": latency_ms,
                "first_chunk_ms": self.first_chunk_ms,
                "model": self.model,
                "provider": self.resources.llm.name,
            },
        )
        note_on_job_line(
            f"reply {self.reply_id} done: {len(self.text)} chars, model {self.model}, "
            f"{self.usage.input_tokens}+{self.usage.output_tokens} tokens, first chunk {self.first_chunk_ms} ms, total {latency_ms:.0f} ms"
        )
        await self.extract_if_logged_out(message_id)

    async def fail(self, code: str, detail: str, **extra: Any) -> None:
        """End the reply `failed`, keeping what was streamed; tell the listeners why."""
        await fail_reply(self.db, self.reply_id, code, detail, _now(), text=self.text)
        await self.end_error(code, detail, **extra)

    async def end_cancelled(self) -> None:
        await keep_cancelled_text(self.db, self.reply_id, self.text)
        await self.end_error("cancelled", "the reply was cancelled")

    async def end_error(self, code: str, detail: str, **extra: Any) -> None:
        await self.emit("error", {"code": code, "detail": detail, **extra})

    async def extract_if_logged_out(self, newest_id: str) -> None:
        if await still_open(self.db, [self.session_id], _now()):
            return  # the logout (or the session sweep) will extract it, reply included
        job_id = await jobs.enqueue_extraction(
            self.db, self.resources.redis, self.settings.redis_timeout_seconds, self.user_id, self.session_id, newest_id
        )
        log.info("reply %s finished after its session ended: extraction %s enqueued", self.reply_id, job_id)


def will_be_retried(job: JobContext, exc: Exception) -> bool:
    """worker/reliability.py retries this failure: transient, and tries are left."""
    return is_transient(exc) and job.job_try < job.resources.settings.job_max_tries


async def generate_reply(ctx: dict[str, Any], reply_id: str) -> str:
    """Write the reply; returns how it ended (the job's result)."""
    job = job_context(ctx)
    db = job.resources.db
    doc = await claim_reply(db, reply_id, _now())
    if doc is None:
        return "not_active"  # cancelled before it started, or already finished
    writer = ReplyWriter(job.resources, doc)
    attribute_llm_calls(writer.user_id)  # this task's LLM calls: recorded and budgeted for this user
    ending = "retry"  # until it ends, the session's reply lease stays with the job
    try:
        ending = await _write(job, writer)
        return ending
    except Exception as exc:
        if will_be_retried(job, exc):
            raise  # tried again (worker/reliability.py); a try that finds text sent ends it `interrupted`
        ending = "failed"  # for good: the listeners must not wait for an end that never comes
        try:
            await writer.fail("internal_error", "the reply could not be written; try again")
        except Exception as also:  # noqa: BLE001 - the first error is the one raised; this one is said
            # The stream gets no end event, so readers wait until the cleanup cron fails it.
            log.error(
                "reply %s failed (%s: %s) and its failure could not be written either: %s: %s; "
                "its listeners get no end event from this try",
                writer.reply_id,
                type(exc).__name__,
                exc,
                type(also).__name__,
                also,
            )
        raise
    except asyncio.CancelledError:
        # Aborted by its owner (the reply is `cancelled`), or the worker is stopping: then it
        # goes back to the queue, and the next try ends it as interrupted if text went out.
        if await asyncio.shield(status_of(db, reply_id)) == "cancelled":
            ending = "cancelled"
            await asyncio.shield(writer.end_cancelled())
        raise
    finally:
        if ending != "retry":
            await asyncio.shield(job.resources.reply_lease.free(writer.session_id, reply_id))


async def _after_an_earlier_try(writer: ReplyWriter) -> str | None:
    """An earlier try of this reply got somewhere: finish or end it without writing text twice.
    None when it got nowhere (no text stored, none streamed): write the reply afresh."""
    stored = await message_of_reply(writer.db, writer.reply_id)
    if stored is not None:  # it stored the text and died before `done`
        writer.parts = [stored.content]
        await writer.store(stored.id)
        return "done"
    streamed, terminal = await writer.streams.text(writer.reply_id)
    if terminal is not None:  # it ended the stream and died before updating the reply
        await fail_reply(writer.db, writer.reply_id, "interrupted", "the worker stopped mid-reply", _now(), text=streamed)
        return "failed"
    if streamed:
        writer.parts = [streamed]
        await writer.fail("interrupted", "the worker writing this reply stopped; the text so far is kept")
        return "failed"
    return None


async def _write(job: JobContext, writer: ReplyWriter) -> str:
    if writer.attempt > 1 and (ending := await _after_an_earlier_try(writer)) is not None:
        return ending
    try:
        await writer.write()
    except LLMBudgetExhausted as exc:
        await writer.fail(
            "budget_exhausted",
            "today's LLM token budget is spent; this message was not answered",
            resets_at=exc.resets_at.isoformat(),
        )
        return "failed"
    except LLMDeferred as exc:
        await writer.fail("rate_limited", "the coach is busy; try again shortly", retry_after=max(1, round(exc.retry_after)))
        return "failed"
    except LLMError as exc:
        if not writer.parts and will_be_retried(job, exc):
            raise  # nothing sent yet: worker/reliability.py retries it with backoff
        log.warning("reply %s failed after %d chunks: %s", writer.reply_id, len(writer.parts), exc)
        detail = "the coach could not finish this reply; try again" if writer.parts else "the coach could not answer; try again"
        await writer.fail("llm_unavailable", detail)
        return "failed"
    await writer.store()
    return "done"
