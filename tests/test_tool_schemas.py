"""What the model receives is self-contained, and the stub would notice if it were not.

The stub LLM builds its tool answers from the `input_schema` each request carries
(tests/support/schema_instance.py), like a model behind an Anthropic-compatible server that
does not resolve `$ref`. So a schema regression shows up as failed extractions, and these
tests also look at the schemas themselves.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any, Literal

import pytest
from pydantic import BaseModel, Field

import shared.llm.anthropic_provider as anthropic_provider
from shared.llm import LLMOutputError
from shared.llm.anthropic_provider import AnthropicProvider
from shared.llm.schema import inline_refs, tool_input_schema
from shared.models import ChatMessage, ContextExtraction, RecalledPoint, SessionDigest, SummaryDraft
from tests.support.schema_instance import instance, request_texts, tool_answer


def transcript(*lines: tuple[str, str]) -> list[ChatMessage]:
    now = datetime.now(UTC)
    return [ChatMessage(id=f"m{i}", role=role, content=text, timestamp=now) for i, (role, text) in enumerate(lines)]


def sent_schemas(requests: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [tool["input_schema"] for request in requests for tool in request.get("tools", [])]


async def test_every_tool_schema_the_product_sends_has_no_ref(settings, stub_llm):
    provider = AnthropicProvider(settings)
    reply = await provider.extract_context(transcript(("user", "I want to swim a mile"), ("assistant", "Good.")))
    digest = SessionDigest(
        session_id="s1", created_at=datetime.now(UTC), points=[RecalledPoint(kind="goal", content="Swim a mile")]
    )
    summary = await provider.summarize([digest])
    await provider.aclose()

    schemas = sent_schemas(stub_llm.requests)
    assert len(schemas) == 2
    for schema in schemas:
        assert "$ref" not in json.dumps(schema) and "$defs" not in json.dumps(schema)
    # The stub answered from those schemas alone, and the product accepted the answers.
    assert [(p.kind, p.content) for p in reply.extraction.points] == [("goal", "I want to swim a mile")]
    assert summary.draft.key_points == ["Swim a mile"]


async def test_a_schema_with_ref_makes_every_extraction_fail(settings, stub_llm, monkeypatch):
    """The regression this guards against: pydantic's default schema, `$defs` and `$ref`."""
    tool = {**anthropic_provider.EXTRACTION_TOOL, "input_schema": ContextExtraction.model_json_schema()}
    monkeypatch.setattr(anthropic_provider, "EXTRACTION_TOOL", tool)
    provider = AnthropicProvider(settings)
    with pytest.raises(LLMOutputError, match="breaks the record_session_context schema"):
        await provider.extract_context(transcript(("user", "I want to swim a mile"), ("assistant", "Good.")))
    await provider.aclose()
    assert len(stub_llm.extraction_requests) == 2  # the first answer and the repair attempt
    stub_llm.requests.clear()  # deliberate: the fixture's own $ref check would flag these


def test_inlining_keeps_field_siblings_and_drops_defs():
    class Inner(BaseModel):
        mood: Literal["up", "down"]

    class Outer(BaseModel):
        first: Inner = Field(description="the first")
        rest: list[Inner]

    schema = tool_input_schema(Outer)
    assert "$defs" in Outer.model_json_schema()
    assert "$ref" not in json.dumps(schema) and "$defs" not in schema
    assert schema["properties"]["first"]["description"] == "the first"
    assert schema["properties"]["rest"]["items"]["properties"]["mood"]["enum"] == ["up", "down"]
    Outer.model_validate(instance(schema, ["x"]))


def test_inlining_refuses_what_it_cannot_inline():
    class Node(BaseModel):
        children: list[Node]

    with pytest.raises(ValueError, match="recursive"):
        tool_input_schema(Node)
    with pytest.raises(ValueError, match="only local"):
        inline_refs({"properties": {"a": {"$ref": "https://example.com/a.json"}}})


def test_stub_answers_fit_the_product_schemas_and_carry_the_request_text():
    body = {
        "messages": [
            {"role": "user", "content": "<transcript>\nuser: I will rest\ncoach: Fine.\nuser: I prefer tea\n</transcript>"}
        ],
        "tools": [{"name": "t", "input_schema": tool_input_schema(ContextExtraction)}],
        "tool_choice": {"type": "tool", "name": "t"},
    }
    answer = ContextExtraction.model_validate(tool_answer(body))
    assert [p.content for p in answer.points] == ["I will rest", "I prefer tea"]

    sessions = [{"session_id": "s", "points": [{"kind": "goal", "content": f"goal {n}"} for n in range(30)]}]
    body["messages"] = [{"role": "user", "content": "<sessions>\n" + json.dumps(sessions) + "\n</sessions>"}]
    body["tools"] = [{"name": "t", "input_schema": tool_input_schema(SummaryDraft)}]
    draft = SummaryDraft.model_validate(tool_answer(body))
    assert draft.key_points == [f"goal {n}" for n in range(20)]  # maxItems holds
    assert request_texts(body)[0] == "goal 0"


def test_stub_follows_schema_bounds():
    schema = {
        "type": "object",
        "properties": {
            "tags": {"type": "array", "items": {"type": "string", "minLength": 5, "maxLength": 6}, "minItems": 2},
            "score": {"type": "integer", "minimum": 10, "maximum": 20},
            "ratio": {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1},
            "maybe": {"anyOf": [{"type": "null"}, {"type": "boolean"}]},
            "fixed": {"const": "v1"},
        },
    }
    value = instance(schema, [])
    assert [len(t) for t in value["tags"]] == [6, 6] and 10 <= value["score"] <= 20
    assert 0 < value["ratio"] < 1 and value["maybe"] is True and value["fixed"] == "v1"
