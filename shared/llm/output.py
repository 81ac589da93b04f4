"""Reading a forced tool call out of an LLM response, whatever shape the response is in.

Kept apart from the HTTP call so the property-based tests can throw anything at it: every
input gives either a valid model or an LLMOutputError that says what was wrong, never
another exception.
"""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from shared.llm.base import LLMOutputError

Output = TypeVar("Output", bound=BaseModel)

MAX_ERRORS_SHOWN = 5


def find_tool_input(content: Any, tool_name: str) -> Any:
    """The input of the first `tool_name` call in a response's content blocks."""
    for block in content or []:
        if getattr(block, "type", None) == "tool_use" and getattr(block, "name", None) == tool_name:
            return block.input
    raise LLMOutputError(f"LLM did not call {tool_name}")


def parse_tool_output(schema: type[Output], tool_input: Any, tool_name: str) -> Output:
    try:
        return schema.model_validate(tool_input)
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_input=False)
        shown = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'input'}: {e['msg']}" for e in errors[:MAX_ERRORS_SHOWN])
        more = f" (+{len(errors) - MAX_ERRORS_SHOWN} more)" if len(errors) > MAX_ERRORS_SHOWN else ""
        raise LLMOutputError(f"LLM output breaks the {tool_name} schema: {shown}{more}") from None
