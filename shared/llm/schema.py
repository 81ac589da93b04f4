"""Tool schemas the model can read without resolving anything.

Pydantic puts nested models under `$defs` and points at them with `$ref`. Anthropic's own
API resolves those, but some Anthropic-compatible servers do not: the model then sees an
empty item schema and answers with objects that fail validation, and every extraction ends
in the dead letters. So every schema we send is self-contained: local refs inlined, `$defs`
dropped. A recursive model cannot be inlined and is refused at import, not at run time.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

LOCAL_REF_PREFIX = "#/$defs/"


def inline_refs(schema: dict[str, Any]) -> dict[str, Any]:
    """A copy of `schema` with every `#/$defs/...` ref replaced by its definition."""
    defs = schema.get("$defs", {})

    def resolve(node: Any, seen: tuple[str, ...]) -> Any:
        if isinstance(node, list):
            return [resolve(item, seen) for item in node]
        if not isinstance(node, dict):
            return node
        if "$ref" in node:
            ref = node["$ref"]
            name = ref.removeprefix(LOCAL_REF_PREFIX)
            if not ref.startswith(LOCAL_REF_PREFIX) or name not in defs:
                raise ValueError(f"cannot inline {ref!r}: only local {LOCAL_REF_PREFIX}<name> refs are supported")
            if name in seen:
                raise ValueError(f"cannot inline {ref!r}: the schema is recursive")
            siblings = {k: v for k, v in node.items() if k != "$ref"}  # e.g. a field's description
            return {**resolve(defs[name], (*seen, name)), **resolve(siblings, seen)}
        return {key: resolve(value, seen) for key, value in node.items() if key != "$defs"}

    resolved: dict[str, Any] = resolve(schema, ())
    return resolved


def tool_input_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The JSON schema of `model` as a tool's `input_schema`: no `$ref`, no `$defs`."""
    return inline_refs(model.model_json_schema())
