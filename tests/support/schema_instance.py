"""Build a tool answer from the JSON schema a request carries, as a model would.

The stub LLM answers tool calls with this, never with our pydantic models, so a schema
the product sends that a model could not follow makes the answer fail validation in the
product, here as it would in production. Text comes from the request itself (the
transcript's user lines, the points of the sessions being summarized), so tests still see
meaningful content.

Supported: object (properties, required), array (items, minItems, maxItems), enum,
const, string (minLength, maxLength), number and integer (minimum, maximum, exclusive
bounds), boolean, null, anyOf/oneOf (first non-null option). A `$ref` anywhere is
refused: like a server that does not resolve refs, the stub cannot see the shape, and
answers with an object that fits no schema of ours.
"""

from __future__ import annotations

import json
import re
from typing import Any

UNRESOLVED = "unresolved_ref"


def contains_ref(schema: Any) -> bool:
    return '"$ref"' in json.dumps(schema)


def request_texts(body: dict[str, Any]) -> list[str]:
    """The texts a sensible answer would draw on: user lines of a transcript, or the
    `content` of every point in a JSON block."""
    prompt = body["messages"][0]["content"]
    if not isinstance(prompt, str):
        return []
    lines = re.findall(r"^user: (.+)$", prompt, flags=re.MULTILINE)
    if lines:
        return lines
    start, end = prompt.find("\n"), prompt.rfind("\n")
    try:
        data = json.loads(prompt[start:end])
    except ValueError:
        return []
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("content"), str):
                found.append(node["content"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(data)
    return found


def fit_text(text: str, schema: dict[str, Any]) -> str:
    text = text[: schema.get("maxLength", len(text))]
    return text.ljust(schema.get("minLength", 0), ".")


def fit_number(schema: dict[str, Any]) -> float | int:
    low = schema.get("minimum", schema.get("exclusiveMinimum"))
    high = schema.get("maximum", schema.get("exclusiveMaximum"))
    if low is not None and high is not None:
        value = low + 0.8 * (high - low)
    elif low is not None:
        value = low + 1
    elif high is not None:
        value = high - 1
    else:
        value = 1
    return round(value) if schema.get("type") == "integer" else value


def instance(schema: dict[str, Any], texts: list[str], index: int | None = None) -> Any:
    """A value valid against `schema`. Inside array item `index`, strings take texts[index];
    elsewhere they say how many texts the request held."""
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return schema["enum"][0]
    for key in ("anyOf", "oneOf"):
        if key in schema:
            options = [o for o in schema[key] if o.get("type") != "null"] or schema[key]
            return instance(options[0], texts, index)
    kind = schema.get("type", "object")
    if kind == "object":
        return {name: instance(sub, texts, index) for name, sub in schema.get("properties", {}).items()}
    if kind == "array":
        count = max(schema.get("minItems", 0), min(len(texts), schema.get("maxItems", len(texts))))
        return [instance(schema.get("items", {}), texts, i % len(texts) if texts else None) for i in range(count)]
    if kind == "string":
        if index is not None:
            return fit_text(texts[index], schema)
        return fit_text(f"Stub {schema.get('title', 'text').lower()} drawn from {len(texts)} request texts.", schema)
    if kind in ("number", "integer"):
        return fit_number(schema)
    if kind == "boolean":
        return True
    if kind == "null":
        return None
    raise ValueError(f"the stub cannot answer schema type {kind!r}")


def tool_answer(body: dict[str, Any]) -> Any:
    """The input for the tool the request forces, built from that tool's `input_schema`."""
    name = body["tool_choice"]["name"]
    schema = next(t["input_schema"] for t in body["tools"] if t["name"] == name)
    if contains_ref(schema):
        return {UNRESOLVED: "the stub does not resolve $ref: it cannot see this schema's shape"}
    return instance(schema, request_texts(body))
