"""WebSocket frames: what a client may send, and the errors it gets back when it errs."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel

from service.routes.reply_schemas import is_blank
from service.untrusted_json import NotJSON, RefusedJSON, load_untrusted_json
from shared.redis_structures.reply_stream import START, is_entry_id


class MessageFrame(BaseModel):
    type: Literal["message"]
    content: str
    conversation_id: str | None = None  # unset: the user's newest conversation


class ResumeFrame(BaseModel):
    """Relay a reply's stream from after event `after` (START: from its first event)."""

    type: Literal["resume"]
    reply_id: str
    after: str


class AcceptedFrame(BaseModel):
    """The message is stored and its reply queued; `chunk` frames follow."""

    type: Literal["accepted"] = "accepted"
    conversation_id: str
    message_id: str
    reply_id: str
    job_id: str


class ChunkFrame(BaseModel):
    type: Literal["chunk"] = "chunk"
    text: str
    reply_id: str
    id: str  # the stream event's id: `resume` with it as `after` to go on from here


class ResetFrame(BaseModel):
    """Show `text` instead of what this reply showed so far (its stream was started again
    after a Redis restart lost it); `chunk` frames follow on from it."""

    type: Literal["reset"] = "reset"
    text: str
    reply_id: str
    id: str


class DoneFrame(BaseModel):
    type: Literal["done"] = "done"
    message_id: str
    reply_id: str
    id: str
    provider: str | None = None  # anthropic, or offline (the rule-based writer: no API key)
    model: str | None = None
    usage: dict[str, int] | None = None
    latency_ms: float | None = None
    first_chunk_ms: float | None = None


class ReplyErrorFrame(BaseModel):
    """The reply ended without being whole: the stream's `error` event (llm_unavailable,
    interrupted, cancelled, budget_exhausted, rate_limited, timed_out)."""

    type: Literal["error"] = "error"
    code: str
    detail: str
    reply_id: str
    id: str


class ErrorFrame(BaseModel):
    type: Literal["error"] = "error"
    code: Literal[
        "invalid_json",
        "invalid_frame",
        "frame_too_large",
        "unknown_type",
        "empty_content",
        "content_too_long",
        "not_found",
        "conversation_archived",
        "gone",
        "ended",
    ]
    detail: str


# Room for the JSON around the longest allowed content; anything bigger is refused unparsed.
FRAME_OVERHEAD_CHARS = 1_024


def parse_client_frame(text: str, max_chars: int) -> MessageFrame | ResumeFrame | ErrorFrame:
    if len(text) > max_chars + FRAME_OVERHEAD_CHARS:
        return ErrorFrame(
            code="frame_too_large", detail=f"frame is {len(text)} characters; the maximum is {max_chars + FRAME_OVERHEAD_CHARS}"
        )
    try:
        data = load_untrusted_json(text)
    except NotJSON as exc:
        return ErrorFrame(code="invalid_json", detail=f"frame is not valid JSON: {exc}")
    except RefusedJSON as exc:
        return ErrorFrame(code="invalid_frame", detail=f"frame refused: {exc}")
    if not isinstance(data, dict):
        return ErrorFrame(code="invalid_frame", detail="frame must be a JSON object")
    if data.get("type") == "resume":
        return parse_resume(data)
    if data.get("type") != "message":
        return ErrorFrame(code="unknown_type", detail=f"unknown frame type {data.get('type')!r}; expected 'message' or 'resume'")
    content = data.get("content")
    if not isinstance(content, str):
        return ErrorFrame(code="invalid_frame", detail="content must be a string")
    if is_blank(content):
        return ErrorFrame(code="empty_content", detail="content is empty")
    if len(content) > max_chars:
        return ErrorFrame(code="content_too_long", detail=f"content is {len(content)} characters; the maximum is {max_chars}")
    conversation_id = data.get("conversation_id")
    if conversation_id is not None and (not isinstance(conversation_id, str) or not conversation_id or len(conversation_id) > 64):
        return ErrorFrame(code="invalid_frame", detail="conversation_id must be a string of at most 64 characters")
    return MessageFrame(type="message", content=content, conversation_id=conversation_id)


def parse_resume(data: dict[str, object]) -> ResumeFrame | ErrorFrame:
    reply_id, after = data.get("reply_id"), data.get("after", START)
    if not isinstance(reply_id, str) or not reply_id or len(reply_id) > 64:
        return ErrorFrame(code="invalid_frame", detail="resume needs reply_id, a string of at most 64 characters")
    if not isinstance(after, str) or (after != START and not is_entry_id(after)):
        return ErrorFrame(code="invalid_frame", detail=f"after must be an event id (like 1700000000000-0) or {START!r}")
    return ResumeFrame(type="resume", reply_id=reply_id, after=after)


class RetryLaterFrame(BaseModel):
    """The message was refused, not stored: `rate_limited` (over CHAT_MESSAGES_PER_MINUTE;
    wait `retry_after` seconds) or `busy` (a reply for this session is still being written)."""

    type: Literal["error"] = "error"
    code: Literal["rate_limited", "busy", "unavailable"]
    detail: str
    retry_after: int | None = None


class BudgetExhaustedFrame(BaseModel):
    """The user has spent USER_DAILY_TOKEN_BUDGET for today; the message was not stored.
    `resets_at` is the next UTC midnight, when the budget starts again."""

    type: Literal["error"] = "error"
    code: Literal["budget_exhausted"] = "budget_exhausted"
    detail: str
    resets_at: datetime
