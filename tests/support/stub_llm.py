"""A stub of Anthropic's Messages API on loopback, so tests drive the real SDK over real HTTP.

`POST /v1/messages` answers like the real API: a `tool_use` block when the request forces
a tool (extraction, summaries), its input built from the `input_schema` the request sent
(a schema with `$ref` gets an answer that fits nothing), or a server-sent-event stream
when `stream` is true (chat). Behaviour is set on `StubLLM` in-process, or through `POST /_stub/config` when the stub runs as its own
process (`python -m tests.support.stub_llm --port 9000 --latency 3`). Every request is
recorded with its arrival time (`request_times`, time.time()), and the most requests in
flight at once is tracked. Usage is a function of the request alone (tool calls: input =
len(JSON body) // 4, output 20; streams: input 10, output 12) and summed in
`reported_input_tokens` / `reported_output_tokens`, so tests can compare totals.
`rate_limit_headers` are sent with every successful answer (the provider's
`anthropic-ratelimit-*`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import re
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from tests.support.schema_instance import contains_ref, tool_answer

_ids = itertools.count(1)


@dataclass
class Failure:
    """One scripted bad answer: an HTTP error status, or (status 200) a stall of `delay`
    seconds before answering normally, or (status 200, `tool_input`) a tool call with that input,
    or (status 200, `body`) that body as it is, of `media_type`: an answer that is not a message."""

    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: str | None = None
    delay: float = 0.0
    tool_input: Any = None
    media_type: str = "application/json"


@dataclass
class StubLLM:
    latency: float = 0.0
    # Pause between streamed words (the first comes at once): a slow reply to leave mid-way.
    chunk_delay: float = 0.0
    reply_text: str = "Stub coach reply: keep going, one step at a time."
    # Points for the extraction tool call; None answers from the request's tool schema
    # (tests/support/schema_instance.py): one point per user line.
    points: list[dict[str, Any]] | None = None
    # Consolidation: a rule the test gives, deciding each extracted point's action from the
    # point and the <known_memories> the request carried: (point, known) -> (action, memory_id).
    consolidate: Callable[[dict[str, Any], list[dict[str, Any]]], tuple[str, str | None]] | None = None
    # Raw `input` of the tool call, to send output that breaks the schema.
    raw_tool_input: Any = None
    failures: list[Failure] = field(default_factory=list)
    # Streams only: after this many words, the stream sends Anthropic's `error` event
    # (overloaded) instead of the rest: a provider failing mid-reply. None: never.
    stream_error_after: int | None = None
    rate_limit_headers: dict[str, str] = field(default_factory=dict)
    requests: list[dict[str, Any]] = field(default_factory=list)
    request_times: list[float] = field(default_factory=list)
    reported_input_tokens: int = 0
    reported_output_tokens: int = 0
    in_flight: int = 0
    max_in_flight: int = 0
    # Concurrency tests: each request waits until this many are open at once (at most
    # hold_timeout), so "all N were in flight together" holds on a slow machine without
    # guessing a latency long enough.
    hold_until_in_flight: int | None = None
    hold_timeout: float = 30.0
    all_in: asyncio.Event | None = None
    # Chat streams: how many are open now, how many the client left before the end, and
    # when the last one ended (time.time(), for benchmarks in another process).
    streams_open: int = 0
    streams_abandoned: int = 0
    chunks_streamed: int = 0
    last_stream_end: float = 0.0

    @property
    def extraction_requests(self) -> list[dict[str, Any]]:
        return [r for r in self.requests if r.get("tool_choice", {}).get("name") == "record_session_context"]

    @property
    def summary_requests(self) -> list[dict[str, Any]]:
        return [r for r in self.requests if r.get("tool_choice", {}).get("name") == "record_summary"]

    @property
    def chat_requests(self) -> list[dict[str, Any]]:
        return [r for r in self.requests if r.get("stream")]

    def reset_counters(self) -> None:
        self.requests.clear()
        self.request_times.clear()
        self.reported_input_tokens = self.reported_output_tokens = 0
        self.max_in_flight = self.in_flight


def tool_message(stub: StubLLM, body: dict[str, Any]) -> dict[str, Any]:
    if stub.raw_tool_input is not None:
        tool_input = stub.raw_tool_input
    elif stub.points is not None and body["tool_choice"]["name"] == "record_session_context" and not contains_ref(body["tools"]):
        tool_input = {"points": stub.points}
    else:
        tool_input = tool_answer(body)  # from the schema the request carries, not from our models
    if stub.consolidate is not None and body["tool_choice"]["name"] == "record_session_context":
        known = known_memories(body)
        for point in tool_input.get("points", []):
            point["action"], point["memory_id"] = stub.consolidate(point, known)
    return {
        "id": f"msg_stub_{next(_ids)}",
        "type": "message",
        "role": "assistant",
        "model": body["model"],
        "content": [
            {"type": "tool_use", "id": f"toolu_stub_{next(_ids)}", "name": body["tool_choice"]["name"], "input": tool_input}
        ],
        "stop_reason": "tool_use",
        "stop_sequence": None,
        "usage": {"input_tokens": len(json.dumps(body)) // 4, "output_tokens": TOOL_OUTPUT_TOKENS},
    }


TOOL_OUTPUT_TOKENS = 20
STREAM_INPUT_TOKENS = 10
STREAM_OUTPUT_TOKENS = 12


def known_memories(body: dict[str, Any]) -> list[dict[str, Any]]:
    """The <known_memories> block of an extraction request, as the model would read it."""
    prompt = body["messages"][0]["content"]
    match = re.search(r"<known_memories>\n(.*)\n</known_memories>", prompt, flags=re.DOTALL) if isinstance(prompt, str) else None
    return json.loads(match.group(1)) if match else []


def sse(event: str, data: dict[str, Any]) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data)}\n\n".encode()


async def stream_events(stub: StubLLM, body: dict[str, Any]) -> AsyncIterator[bytes]:
    message = {
        "id": f"msg_stub_{next(_ids)}",
        "type": "message",
        "role": "assistant",
        "model": body["model"],
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": {"input_tokens": STREAM_INPUT_TOKENS, "output_tokens": 1},
    }
    yield sse("message_start", {"type": "message_start", "message": message})
    yield sse("content_block_start", {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}})
    stub.streams_open += 1
    finished = False
    try:
        for i, word in enumerate(stub.reply_text.split(" ")):
            if stub.chunk_delay and i:
                await asyncio.sleep(stub.chunk_delay)
            if stub.stream_error_after is not None and i >= stub.stream_error_after:
                yield sse("error", {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}})
                return
            yield sse(
                "content_block_delta",
                {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": word + " "}},
            )
            stub.chunks_streamed += 1
        finished = True
        stub.reported_input_tokens += STREAM_INPUT_TOKENS
        stub.reported_output_tokens += STREAM_OUTPUT_TOKENS
    finally:
        stub.streams_open -= 1
        stub.streams_abandoned += not finished
        stub.last_stream_end = time.time()
    yield sse("content_block_stop", {"type": "content_block_stop", "index": 0})
    yield sse(
        "message_delta",
        {
            "type": "message_delta",
            "delta": {"stop_reason": "end_turn", "stop_sequence": None},
            "usage": {"output_tokens": STREAM_OUTPUT_TOKENS},
        },
    )
    yield sse("message_stop", {"type": "message_stop"})


def create_stub_app(stub: StubLLM) -> Starlette:
    async def messages(request: Request) -> Response:
        body = await request.json()
        stub.requests.append(body)
        stub.request_times.append(time.time())
        stub.in_flight += 1
        stub.max_in_flight = max(stub.max_in_flight, stub.in_flight)
        try:
            if stub.hold_until_in_flight:
                stub.all_in = stub.all_in or asyncio.Event()
                if stub.in_flight >= stub.hold_until_in_flight:
                    stub.all_in.set()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(stub.hold_timeout):
                        await stub.all_in.wait()
            if stub.latency:
                await asyncio.sleep(stub.latency)
            if stub.failures:
                failure = stub.failures.pop(0)
                await asyncio.sleep(failure.delay)
                if failure.status == 200 and failure.tool_input is not None:
                    message = tool_message(stub, body)
                    message["content"][0]["input"] = failure.tool_input
                    stub.reported_input_tokens += message["usage"]["input_tokens"]
                    stub.reported_output_tokens += message["usage"]["output_tokens"]
                    return JSONResponse(message)
                if failure.status != 200 or failure.body is not None:
                    error = {"type": "error", "error": {"type": "stub_error", "message": f"stub failure {failure.status}"}}
                    return Response(
                        failure.body if failure.body is not None else json.dumps(error),
                        status_code=failure.status,
                        headers=failure.headers,
                        media_type=failure.media_type,
                    )
            if body.get("stream"):
                return StreamingResponse(
                    stream_events(stub, body), media_type="text/event-stream", headers=stub.rate_limit_headers
                )
            message = tool_message(stub, body)
            stub.reported_input_tokens += message["usage"]["input_tokens"]
            stub.reported_output_tokens += message["usage"]["output_tokens"]
            return JSONResponse(message, headers=stub.rate_limit_headers)
        finally:
            stub.in_flight -= 1

    async def configure(request: Request) -> JSONResponse:
        config = await request.json()
        for name in (
            "latency",
            "chunk_delay",
            "reply_text",
            "points",
            "raw_tool_input",
            "rate_limit_headers",
            "stream_error_after",
        ):
            if name in config:
                setattr(stub, name, config[name])
        if "failures" in config:
            stub.failures = [Failure(**f) for f in config["failures"]]
        if config.get("reset"):
            stub.reset_counters()
        return JSONResponse({"ok": True})

    async def stats(request: Request) -> JSONResponse:
        return JSONResponse(
            {
                "requests": len(stub.requests),
                "extractions": len(stub.extraction_requests),
                "in_flight": stub.in_flight,
                "max_in_flight": stub.max_in_flight,
                "streams_open": stub.streams_open,
                "streams_abandoned": stub.streams_abandoned,
                "chunks_streamed": stub.chunks_streamed,
                "last_stream_end": stub.last_stream_end,
                "request_times": stub.request_times,
                "reported_input_tokens": stub.reported_input_tokens,
                "reported_output_tokens": stub.reported_output_tokens,
            }
        )

    return Starlette(
        routes=[
            Route("/v1/messages", messages, methods=["POST"]),
            Route("/_stub/config", configure, methods=["POST"]),
            Route("/_stub/stats", stats),
        ]
    )


def main() -> None:
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9000)
    parser.add_argument("--latency", type=float, default=0.0)
    args = parser.parse_args()
    uvicorn.run(create_stub_app(StubLLM(latency=args.latency)), host=args.host, port=args.port, log_level="warning", backlog=4096)


if __name__ == "__main__":
    main()
