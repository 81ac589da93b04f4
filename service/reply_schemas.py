"""Bodies of the reply endpoints (service/routes/replies.py)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from shared.store.replies import ReplyStatus

# What "empty" means, spelled out once for the schema and the checks: only these blanks.
# (`\S` would not do: Python and JSON Schema's regex dialect disagree on what it excludes.)
BLANKS = " \t\n\r\f\v"


def is_blank(content: str) -> bool:
    return not content.strip(BLANKS)


class NewMessage(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # The pattern says in the schema what the handler checks: some text besides blanks.
    content: str = Field(
        min_length=1,
        description="the user's message: some text besides blanks, MAX_MESSAGE_CHARS (4,000) at most",
        json_schema_extra={"pattern": r"[^ \t\n\r\f\v]", "maxLength": 4_000},
    )
    conversation_id: str | None = Field(None, max_length=64, description="the conversation; unset: the newest")


class ReplyAccepted(BaseModel):
    conversation_id: str | None = Field(description="the conversation the message is in")
    message_id: str = Field(description="the stored user message")
    reply_id: str
    job_id: str = Field(description="the `generate_reply` job, at /api/v1/jobs/{job_id}")
    stream_url: str = Field(description="GET it as text/event-stream: chunk events, then done or error")


class ActiveReply(BaseModel):
    reply_id: str
    conversation_id: str | None = None
    status: ReplyStatus
    message_id: str
    stream_url: str
    created_at: datetime


class ActiveStreams(BaseModel):
    replies: list[ActiveReply]
