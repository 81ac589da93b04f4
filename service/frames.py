"""WebSocket frames: what a client may send, and the errors it gets back when it errs."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel

from service.untrusted_json import NotJSON, RefusedJSON, load_untrusted_json


class MessageFrame(BaseModel):
    type: Literal["message"]
    content: str


class ChunkFrame(BaseModel):
    type: Literal["chunk"] = "chunk"
    text: str


class DoneFrame(BaseModel):
    type: Literal["done"] = "done"
    message_id: str
    provider: str


class ErrorFrame(BaseModel):
    type: Literal["error"] = "error"
    code: Literal[
        "invalid_json", "invalid_frame", "frame_too_large", "unknown_type", "empty_content", "content_too_long", "llm_unavailable"
    ]
    detail: str


# Room for the JSON around the longest allowed content; anything bigger is refused unparsed.
FRAME_OVERHEAD_CHARS = 1_024


def parse_client_frame(text: str, max_chars: int) -> MessageFrame | ErrorFrame:
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
    if data.get("type") != "message":
        return ErrorFrame(code="unknown_type", detail=f"unknown frame type {data.get('type')!r}; expected 'message'")
    content = data.get("content")
    if not isinstance(content, str):
        return ErrorFrame(code="invalid_frame", detail="content must be a string")
    if not content.strip():
        return ErrorFrame(code="empty_content", detail="content is empty")
    if len(content) > max_chars:
        return ErrorFrame(code="content_too_long", detail=f"content is {len(content)} characters; the maximum is {max_chars}")
    return MessageFrame(type="message", content=content)


class RetryLaterFrame(BaseModel):
    """The message was refused, not stored: `rate_limited` (over CHAT_MESSAGES_PER_MINUTE;
    wait `retry_after` seconds) or `busy` (a reply for this session is still being written)."""

    type: Literal["error"] = "error"
    code: Literal["rate_limited", "busy"]
    detail: str
    retry_after: int | None = None


class BudgetExhaustedFrame(BaseModel):
    """The user has spent USER_DAILY_TOKEN_BUDGET for today; the message was not stored.
    `resets_at` is the next UTC midnight, when the budget starts again."""

    type: Literal["error"] = "error"
    code: Literal["budget_exhausted"] = "budget_exhausted"
    detail: str
    resets_at: datetime
