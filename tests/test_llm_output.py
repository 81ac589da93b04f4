"""The LLM-output parser under any input (hypothesis), and malformed responses through the SDK."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.llm import LLMOutputError, LLMTransientError
from shared.llm.anthropic_provider import AnthropicProvider
from shared.llm.output import find_tool_input, parse_tool_output
from shared.models import ChatMessage, ContextExtraction, SummaryDraft
from tests.support.stub_llm import Failure

KINDS = ["goal", "decision", "insight", "preference", "commitment", "fact"]
TOOL = "record_session_context"

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=50),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5),
    max_leaves=30,
)
valid_points = st.lists(
    st.fixed_dictionaries(
        {
            "kind": st.sampled_from(KINDS),
            "content": st.text(min_size=1, max_size=1_000),
            "importance": st.floats(min_value=0, max_value=1),
        }
    ),
    max_size=50,
)


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_any_json_is_either_a_valid_extraction_or_an_output_error(value):
    try:
        parsed = parse_tool_output(ContextExtraction, value, TOOL)
    except LLMOutputError as exc:
        assert str(exc).startswith(f"LLM output breaks the {TOOL} schema")
    else:
        assert all(0 <= p.importance <= 1 and p.kind in KINDS for p in parsed.points)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.text(max_size=10), json_values, max_size=4), json_values)
def test_random_wrappers_around_points_never_raise_anything_else(extra, points):
    try:
        parse_tool_output(ContextExtraction, {**extra, "points": points}, TOOL)
    except LLMOutputError:
        pass


@settings(max_examples=200, deadline=None)
@given(valid_points)
def test_every_valid_answer_is_accepted_unchanged(points):
    parsed = parse_tool_output(ContextExtraction, {"points": points}, TOOL)
    assert [p.model_dump(exclude_defaults=True) for p in parsed.points] == points


@pytest.mark.parametrize(
    ("value", "named"),
    [
        ({"points": [{"kind": "goal", "content": "x" * 1_001, "importance": 0.5}]}, "points.0.content"),
        ({"points": [{"kind": "goal", "content": "x", "importance": 0.5}] * 51}, "points"),
        ({"points": [{"kind": "goal", "importance": 0.5}] * 40}, "+35 more"),  # huge error lists are cut short
        ("points: none", "input"),
    ],
)
def test_huge_or_broken_output_is_refused_with_a_short_clear_error(value, named):
    with pytest.raises(LLMOutputError) as raised:
        parse_tool_output(ContextExtraction, value, TOOL)
    assert named in str(raised.value) and len(str(raised.value)) < 1_000


def test_summary_schema_too():
    with pytest.raises(LLMOutputError):
        parse_tool_output(SummaryDraft, {"text": "", "key_points": []}, "record_summary")


@pytest.mark.parametrize("content", [None, [], [SimpleNamespace(type="text", text="I refuse")]])
def test_a_response_without_the_tool_call_is_an_output_error(content):
    with pytest.raises(LLMOutputError, match="did not call"):
        find_tool_input(content, TOOL)


def transcript() -> list[ChatMessage]:
    now = datetime.now(UTC)
    return [
        ChatMessage(id="1", role="user", content="hi", timestamp=now),
        ChatMessage(id="2", role="assistant", content="hello", timestamp=now),
    ]


async def test_a_response_body_that_is_not_json_is_transient(settings, stub_llm):
    stub_llm.failures = [Failure(200, body='{"id": "msg_1", "content": [{"type": "tool_u')]  # cut off mid-way
    with pytest.raises(LLMTransientError, match="not valid JSON"):
        await AnthropicProvider(settings).extract_context(transcript())


async def test_a_message_with_no_content_is_an_output_error(settings, stub_llm):
    stub_llm.failures = [Failure(200, body=json.dumps({"type": "message"}))]
    with pytest.raises(LLMOutputError, match="did not call"):
        await AnthropicProvider(settings).extract_context(transcript())
