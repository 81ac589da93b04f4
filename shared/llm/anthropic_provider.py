"""The Anthropic provider: the official SDK's `AsyncAnthropic`, one per process.

Extraction forces the schema with tool use (`tool_choice` names the one tool), so the
answer is a JSON object we validate with pydantic. Chat replies stream.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping, Sequence
from typing import Any, cast

import anthropic
from anthropic.types import MessageParam, ToolParam

from shared.llm.base import LLMOutputError, LLMPermanentError, LLMTransientError, UsageCallback
from shared.llm.output import Output, find_tool_input, parse_tool_output
from shared.llm.prompts import (
    EXTRACTION_INSTRUCTIONS,
    EXTRACTION_TOOL_NAME,
    SUMMARY_INSTRUCTIONS,
    SUMMARY_TOOL_NAME,
    render_coach_system_prompt,
    render_known_memories,
    render_sessions,
    render_transcript,
)
from shared.llm.reflection_prompts import REFLECTION_INSTRUCTIONS, REFLECTION_TOOL_NAME, render_notes
from shared.llm.schema import tool_input_schema
from shared.models import (
    ChatMessage,
    ContextExtraction,
    ContextNote,
    ExtractionReply,
    KnownMemory,
    MemoryDigest,
    ReflectionReply,
    SessionDigest,
    SummaryDraft,
    SummaryReply,
    TokenUsage,
    reflection_output_model,
)
from shared.process.settings import Settings

EXTRACTION_TOOL = {
    "name": EXTRACTION_TOOL_NAME,
    "description": "Record the context points worth remembering from this session.",
    "input_schema": tool_input_schema(ContextExtraction),
}
SUMMARY_TOOL = {
    "name": SUMMARY_TOOL_NAME,
    "description": "Record the summary of these sessions.",
    "input_schema": tool_input_schema(SummaryDraft),
}


def _retry_after(exc: anthropic.APIStatusError) -> float | None:
    value = exc.response.headers.get("retry-after")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def translate_error(exc: anthropic.APIError) -> Exception:
    """Map the SDK's exceptions onto transient (retry) and permanent (give up) errors."""
    if isinstance(exc, anthropic.APITimeoutError | anthropic.APIConnectionError):
        return LLMTransientError(f"LLM unreachable: {exc}")
    if isinstance(exc, anthropic.APIStatusError):
        message = f"LLM answered {exc.status_code}: {exc.message}"
        if exc.status_code == 429 or exc.status_code >= 500:
            return LLMTransientError(message, retry_after=_retry_after(exc))
        return LLMPermanentError(message)
    if isinstance(exc, anthropic.APIResponseValidationError):
        return LLMOutputError(f"LLM response does not match the Messages API: {exc}")
    return LLMPermanentError(f"LLM call failed: {exc}")


def to_anthropic_turns(history: Sequence[ChatMessage]) -> list[dict[str, Any]]:
    """Alternating user/assistant turns that start with the user, as the API expects."""
    turns: list[dict[str, Any]] = []
    for message in history:
        if not turns and message.role != "user":
            continue
        if turns and turns[-1]["role"] == message.role:
            turns[-1]["content"] += "\n\n" + message.content
        else:
            turns.append({"role": message.role, "content": message.content})
    return turns


# Told every response's headers (errors' too): the limiter reads the provider's
# `anthropic-ratelimit-*` and `retry-after` from them (shared/llm/limiter.py).
HeadersObserver = Callable[[Mapping[str, str]], Awaitable[None]]


class AnthropicProvider:
    name = "anthropic"

    def __init__(self, settings: Settings) -> None:
        assert settings.anthropic_api_key is not None  # Settings refuses anthropic without a key
        self.model = settings.llm_model
        self.models = {purpose: settings.model_for(purpose) for purpose in ("chat", "extraction", "summary", "reflection")}
        self.observe_headers: HeadersObserver | None = None
        self.max_tokens = settings.llm_max_tokens
        self.client = anthropic.AsyncAnthropic(
            api_key=settings.anthropic_api_key.get_secret_value(),
            base_url=settings.anthropic_base_url,  # None falls back to ANTHROPIC_BASE_URL, then the API
            timeout=settings.llm_timeout_seconds,
            # The worker's retry policy is the only one: SDK retries would stack under it,
            # hide the real try count, and ignore the job's backoff and dead letters.
            max_retries=0,
        )

    async def _observe(self, headers: Mapping[str, str]) -> None:
        if self.observe_headers is not None:
            await self.observe_headers(headers)

    async def call_tool(
        self, system: str, prompt: str, tool: dict[str, Any], schema: type[Output], model: str | None = None
    ) -> tuple[Output, str, TokenUsage]:
        """One call whose answer must be `tool`'s input, validated against `schema`.

        Output that breaks the schema gets one repair attempt: the same request again with
        the validation errors as the tool's result. Still broken, it is a permanent
        LLMOutputError.
        """
        messages: list[dict[str, Any]] = [{"role": "user", "content": prompt}]
        usage = TokenUsage()
        for attempt in (1, 2):
            try:
                raw = await self.client.messages.with_raw_response.create(
                    model=model or self.model,
                    max_tokens=self.max_tokens,
                    system=system,
                    # Plain dicts in the shapes the SDK's TypedDicts describe.
                    messages=cast("list[MessageParam]", messages),
                    tools=[cast("ToolParam", tool)],
                    tool_choice={"type": "tool", "name": tool["name"]},
                )
                await self._observe(raw.headers)
                response = await raw.parse()
            except anthropic.APIStatusError as exc:
                await self._observe(exc.response.headers)
                raise translate_error(exc) from exc
            except anthropic.APIError as exc:
                raise translate_error(exc) from exc
            except ValueError as exc:  # the SDK's JSON decoding: a body cut off or mangled in transit
                raise LLMTransientError(f"LLM response body is not valid JSON: {exc}") from exc
            if response.usage is not None:
                usage.input_tokens += response.usage.input_tokens
                usage.output_tokens += response.usage.output_tokens
            tool_input = find_tool_input(response.content, tool["name"])  # no call at all: nothing to repair
            try:
                return parse_tool_output(schema, tool_input, tool["name"]), response.model, usage
            except LLMOutputError as exc:
                if attempt == 2:
                    raise
                problem = str(exc)
            block = next(b for b in response.content if b.type == "tool_use" and b.name == tool["name"])
            messages = [
                *messages,
                {
                    "role": "assistant",
                    "content": [{"type": "tool_use", "id": block.id, "name": block.name, "input": block.input}],
                },
                {
                    "role": "user",
                    "content": [
                        {
                            "type": "tool_result",
                            "tool_use_id": block.id,
                            "is_error": True,
                            "content": f"{problem}. Call {tool['name']} again with valid input.",
                        }
                    ],
                },
            ]
        raise AssertionError("unreachable: the loop returns or raises")

    async def extract_context(self, transcript: Sequence[ChatMessage], known: Sequence[KnownMemory] = ()) -> ExtractionReply:
        extraction, model, usage = await self.call_tool(
            EXTRACTION_INSTRUCTIONS,
            render_transcript(transcript) + render_known_memories(known),
            EXTRACTION_TOOL,
            ContextExtraction,
            self.models["extraction"],
        )
        return ExtractionReply(extraction=extraction, model=model, usage=usage)

    async def summarize(self, sessions: Sequence[SessionDigest]) -> SummaryReply:
        draft, model, usage = await self.call_tool(
            SUMMARY_INSTRUCTIONS, render_sessions(sessions), SUMMARY_TOOL, SummaryDraft, self.models["summary"]
        )
        return SummaryReply(draft=draft, model=model, usage=usage)

    async def reflect(self, notes: Sequence[ContextNote]) -> ReflectionReply:
        # The schema is made per call: its enum lists exactly these notes' ids, and
        # validation refuses any other (a fabricated citation gets the repair attempt).
        output = reflection_output_model([n.id for n in notes])
        tool = {
            "name": REFLECTION_TOOL_NAME,
            "description": "Record insights drawn from these sessions, each citing the notes it rests on.",
            "input_schema": tool_input_schema(output),
        }
        draft, model, usage = await self.call_tool(
            REFLECTION_INSTRUCTIONS, render_notes(notes), tool, output, self.models["reflection"]
        )
        return ReflectionReply(draft=draft, model=model, usage=usage)

    async def stream_reply(
        self, history: Sequence[ChatMessage], memory: MemoryDigest, on_usage: UsageCallback | None = None
    ) -> AsyncGenerator[str, None]:
        # The raw event stream, not the SDK's `messages.stream()` helper: that one rebuilds
        # the whole message snapshot on every event, which was the largest single CPU cost
        # of a reply in the worker (py-spy, bench/replies.py). Text comes from the
        # `text_delta`s; usage from message_start (input) and the last message_delta (output).
        try:
            raw = await self.client.messages.with_raw_response.create(
                model=self.models["chat"],
                max_tokens=self.max_tokens,
                system=render_coach_system_prompt(memory),
                messages=cast("list[MessageParam]", to_anthropic_turns(history)),
                stream=True,
            )
            await self._observe(raw.headers)
            model, usage = self.models["chat"], TokenUsage()
            started = stopped = False
            async with await raw.parse() as events:
                async for event in events:
                    if event.type == "content_block_delta" and event.delta.type == "text_delta":
                        yield event.delta.text
                    elif event.type == "message_start":
                        started = True
                        model = event.message.model
                        usage = TokenUsage(
                            input_tokens=event.message.usage.input_tokens, output_tokens=event.message.usage.output_tokens
                        )
                    elif event.type == "message_delta":
                        usage = TokenUsage(input_tokens=usage.input_tokens, output_tokens=event.usage.output_tokens)
                    elif event.type == "message_stop":
                        stopped = True
            # A 200 whose body is no message (a proxy's page, JSON of another shape, nothing),
            # or a stream cut before its end, is the provider failing: never an empty reply.
            if not started:
                raise LLMTransientError("LLM answered 200 without a message (no message_start in the stream)")
            if not stopped:
                raise LLMTransientError("LLM stream ended before message_stop")
            if on_usage is not None:
                on_usage(model, usage)
        except anthropic.APIStatusError as exc:
            await self._observe(exc.response.headers)
            raise translate_error(exc) from exc
        except anthropic.APIError as exc:
            raise translate_error(exc) from exc

    async def aclose(self) -> None:
        await self.client.close()
