"""A message nobody can see is empty: zero-width spaces, no-break spaces and every other
Unicode blank or format character are refused like spaces, on the socket and over HTTP, and
the OpenAPI pattern says exactly what the handlers check."""

from __future__ import annotations

import json
import sys
import unicodedata

import jsonschema_rs
import pytest

from service.routes.reply_schemas import INVISIBLE, VISIBLE_PATTERN, is_blank
from tests.support.client import read_reply

INVISIBLE_MESSAGES = [
    "\u200b\u200b\u200b",  # zero-width spaces
    "\u00a0\u00a0",  # no-break spaces
    "\u3000\ufeff\u2060",  # ideographic space, BOM, word joiner
    "\u200d\u200c\u2800 \t",  # joiners, the Braille blank, plain blanks
    "\u3164\ufe0f",  # Hangul filler, a variation selector
    "\U000e0041\U000e0042",  # tag characters, beyond the BMP
]
VISIBLE_MESSAGES = ["a", "\u200bhi\u200b", "\u00a0.", "😀", "\U0001d400", "\u0301", "漢"]


@pytest.mark.parametrize("content", INVISIBLE_MESSAGES)
async def test_a_message_of_invisible_characters_is_refused_as_empty_on_the_socket_and_over_http(api, content):
    login = await api.new_user()
    async with api.connect(login) as ws:
        await ws.send(json.dumps({"type": "message", "content": content}))
        frames = await read_reply(ws)
    assert frames[-1]["type"] == "error" and frames[-1]["code"] == "empty_content"
    posted = await api.http.post("/api/v1/chat/messages", json={"content": content}, headers=login.headers)
    assert posted.status_code == 422, posted.text
    messages = (await api.http.get("/api/v1/chat/messages", headers=login.headers)).json()["messages"]
    assert messages == []  # nothing stored, no reply written


def test_the_blank_set_covers_every_space_control_and_format_character_of_this_pythons_unicode():
    """If a new Python knows more blanks than INVISIBLE lists, this says which to add."""
    missing = [
        f"U+{code:04X}"
        for code in range(sys.maxunicode + 1)
        if (unicodedata.category(chr(code)) in {"Zs", "Zl", "Zp", "Cc", "Cf"} or chr(code).isspace()) and not is_blank(chr(code))
    ]
    assert missing == []
    visible_classes = {"L", "N", "P", "S", "M"}
    wrongly_blank = [
        f"U+{code:04X}"
        for a, b in INVISIBLE
        for code in range(a, b + 1)
        if unicodedata.category(chr(code))[0] in visible_classes and unicodedata.category(chr(code)) != "Mn"
    ]
    # Only letters that render as nothing (Hangul fillers) and the Braille blank, on purpose.
    assert set(wrongly_blank) <= {"U+115F", "U+1160", "U+3164", "U+FFA0", "U+2800"}, wrongly_blank


async def test_the_openapi_pattern_refuses_exactly_what_the_handlers_refuse(api):
    document = (await api.http.get("/openapi.json")).json()
    schema = document["components"]["schemas"]["NewMessage"]["properties"]["content"]
    assert schema["pattern"] == VISIBLE_PATTERN
    # A JSON Schema validator of another regex dialect (Rust) reads the document's pattern.
    validator = jsonschema_rs.validator_for({"type": "string", "pattern": schema["pattern"]})
    for content in [*INVISIBLE_MESSAGES, *VISIBLE_MESSAGES, *(chr(a) for a, _ in INVISIBLE), *(chr(b + 1) for _, b in INVISIBLE)]:
        assert validator.is_valid(content) is not is_blank(content), repr(content)
