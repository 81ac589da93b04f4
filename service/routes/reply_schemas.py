"""Bodies of the reply endpoints (service/routes/replies.py)."""

from __future__ import annotations

import re
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from shared.store.replies import ReplyStatus

# What "empty" means, spelled out once for the schema and the checks: nothing but characters
# no reader sees. Unicode's White_Space (NBSP, U+3000 ...), controls (Cc), format characters
# (Cf: U+200B, U+2060, U+FEFF ...), Default_Ignorable_Code_Point (variation selectors, Hangul
# fillers, tag characters) and the Braille blank, as inclusive ranges. (`\S` would not do:
# Python and JSON Schema's regex dialects disagree on what it excludes, and both let U+200B
# through.) tests/test_blank_messages.py checks the list against Python's Unicode tables.
INVISIBLE = (
    (0x0000, 0x0020), (0x007F, 0x00A0), (0x00AD, 0x00AD), (0x034F, 0x034F), (0x0600, 0x0605),
    (0x061C, 0x061C), (0x06DD, 0x06DD), (0x070F, 0x070F), (0x0890, 0x0891), (0x08E2, 0x08E2),
    (0x115F, 0x1160), (0x1680, 0x1680), (0x17B4, 0x17B5), (0x180B, 0x180F), (0x2000, 0x200F),
    (0x2028, 0x202F), (0x205F, 0x206F), (0x2800, 0x2800), (0x3000, 0x3000), (0x3164, 0x3164),
    (0xFE00, 0xFE0F), (0xFEFF, 0xFEFF), (0xFFA0, 0xFFA0), (0xFFF0, 0xFFFB), (0x110BD, 0x110BD),
    (0x110CD, 0x110CD), (0x13430, 0x13438), (0x1BCA0, 0x1BCA3), (0x1D173, 0x1D17A), (0xE0000, 0xE0FFF),
)  # fmt: skip


def _endpoint(code: int) -> str:
    # BMP as \uXXXX, which both dialects read; beyond it the character itself (JSON carries it).
    return f"\\u{code:04x}" if code <= 0xFFFF else chr(code)


# One visible character somewhere: the JSON Schema `pattern` and the check are this one regex.
VISIBLE_PATTERN = "[^" + "".join(_endpoint(a) + (f"-{_endpoint(b)}" if b > a else "") for a, b in INVISIBLE) + "]"
_VISIBLE = re.compile(VISIBLE_PATTERN)


def is_blank(content: str) -> bool:
    return _VISIBLE.search(content) is None


class NewMessage(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # The pattern says in the schema what the handler checks: some text besides blanks.
    content: str = Field(
        min_length=1,
        description="the user's message: some text besides blanks, MAX_MESSAGE_CHARS (4,000) at most",
        json_schema_extra={"pattern": VISIBLE_PATTERN, "maxLength": 4_000},
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
