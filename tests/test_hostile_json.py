"""Crafted JSON never becomes a 500 or a dropped socket.

Property tests: Hypothesis builds hostile documents (nesting past the limit, numbers past
the limit, lone surrogates, placed anywhere in a body or frame) and arbitrary JSON, and
sends them over real HTTP to a real uvicorn and over a real WebSocket. The issue's own
reproductions are pinned as explicit examples.
"""

from __future__ import annotations

import json

import pytest
import websockets
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from service.untrusted_json import MAX_DEPTH, MAX_NUMBER_CHARS
from tests.support.client import read_reply

FEW = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

too_deep = st.builds(
    lambda depth, as_object: ('{"a":' * depth + "1" + "}" * depth) if as_object else ("[" * depth + "]" * depth),
    st.integers(MAX_DEPTH + 1, 3_000),
    st.booleans(),
)
too_long_number = st.builds(
    lambda digits, sign, tail: sign + "9" * digits + tail,
    st.integers(MAX_NUMBER_CHARS + 1, 6_000),
    st.sampled_from(["", "-"]),
    st.sampled_from(["", ".5", "e7"]),
)
lone_surrogate = st.builds(
    lambda code, before, after: json.dumps(before)[:-1] + f"\\u{code:04x}" + json.dumps(after)[1:],
    st.integers(0xD800, 0xDFFF),
    st.text(max_size=5),
    st.text(max_size=5),
)
hostile_value = st.one_of(too_deep, too_long_number, lone_surrogate)


def place(value: str, where: str) -> str:
    """The hostile value at one spot of an otherwise ordinary document."""
    return {
        "bare": value,
        "in_list": f"[{value}]",
        "email": f'{{"email": {value}, "password": "password1"}}',
        "password": f'{{"email": "a@example.com", "password": {value}}}',
        "type": f'{{"type": {value}, "content": "hi"}}',
        "content": f'{{"type": "message", "content": {value}}}',
        "extra": f'{{"type": "message", "content": "hi", "extra": {value}}}',
    }[where]


hostile_document = st.builds(
    place, hostile_value, st.sampled_from(["bare", "in_list", "email", "password", "type", "content", "extra"])
)
surrogate_key = st.integers(0xD800, 0xDFFF).map(lambda code: f'{{"\\u{code:04x}": 1, "type": "message", "content": "hi"}}')
any_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
).map(json.dumps)

# The reproductions from the issue.
DEEP_40KB_BODY = '{"a":' * 8_000 + "1" + "}" * 8_000
INT_4301_DIGITS = '{"email": ' + "1" * 4_301 + ', "password": "password1"}'
LONE_SURROGATE = '{"email": "a@example.com", "password": "pass\\ud800word"}'
ARRAY_2000_DEEP = "[" * 2_000 + "]" * 2_000
INT_4400_DIGITS = '{"type": "message", "content": ' + "7" * 4_400 + "}"
SURROGATE_CONTENT = '{"type": "message", "content": "hi \\udc00"}'


@pytest.fixture
async def ws_login(api):
    return await api.new_user()


def assert_error_shape(response) -> dict:
    body = response.json()
    assert isinstance(body["detail"], str) and body["detail"]
    assert isinstance(body["errors"], list)
    return body


@FEW
@given(document=st.one_of(hostile_document, surrogate_key), path=st.sampled_from(["/api/v1/auth/register", "/api/v1/auth/login"]))
@example(document=DEEP_40KB_BODY, path="/api/v1/auth/register")
@example(document=INT_4301_DIGITS, path="/api/v1/auth/login")
@example(document=LONE_SURROGATE, path="/api/v1/auth/register")
async def test_hostile_json_body_is_a_400_in_the_error_shape(api, document, path):
    response = await api.http.post(path, content=document.encode(), headers={"Content-Type": "application/json"})
    assert response.status_code == 400, response.text
    assert "not acceptable JSON" in assert_error_shape(response)["detail"]


@FEW
@given(document=any_json, path=st.sampled_from(["/api/v1/auth/register", "/api/v1/auth/login"]))
async def test_arbitrary_json_body_never_gets_a_500(api, document, path):
    response = await api.http.post(path, content=document.encode(), headers={"Content-Type": "application/json"})
    assert response.status_code in {201, 400, 401, 409, 422}, response.text
    if response.status_code >= 400:
        assert_error_shape(response)


async def still_open(ws) -> None:
    """The socket answers the next frame: it was not dropped."""
    await ws.send('{"type": "message", "content": "  "}')
    assert (await read_reply(ws))[-1]["code"] == "empty_content"


@FEW
@given(document=st.one_of(hostile_document, surrogate_key))
@example(document=ARRAY_2000_DEEP)
@example(document=INT_4400_DIGITS)
@example(document=SURROGATE_CONTENT)
async def test_hostile_frame_is_an_invalid_frame_error_and_the_socket_stays_open(api, ws_login, document):
    async with websockets.connect(api.ws_url(ws_login.token)) as ws:
        await ws.send(document)
        [error] = await read_reply(ws)
        if len(document) > 4_000 + 1_024:
            assert error["code"] == "frame_too_large"
        else:
            assert error["code"] == "invalid_frame" and error["detail"].startswith("frame refused")
        await still_open(ws)


@FEW
@given(document=any_json)
async def test_arbitrary_json_frame_is_answered_and_the_socket_stays_open(api, ws_login, document):
    async with websockets.connect(api.ws_url(ws_login.token)) as ws:
        await ws.send(document)
        frames = await read_reply(ws)
        assert frames[-1]["type"] in {"error", "done"}
        await still_open(ws)
