"""JSON from clients, parsed so that no document can crash the parser or what comes after.

Python's `json` raises RecursionError on deep nesting and ValueError on integers past
4,300 digits, and it happily returns lone surrogates (`"\\ud800"`) that later fail to encode
(argon2, BSON). Here all three are refused up front with a reason; the callers turn that
into a 400 (HTTP) or an `invalid_frame` error frame (WebSocket).
"""

from __future__ import annotations

import json
import math
from typing import Any

# No request or frame of ours nests past 3 levels; 32 leaves room and stops nothing real.
MAX_DEPTH = 32
# Longer than any number a client has reason to send (a float's 17 significant digits,
# an int64's 20), far below what makes int() slow or refuse.
MAX_NUMBER_CHARS = 100


class NotJSON(ValueError):
    """The text is not JSON at all."""


class RefusedJSON(ValueError):
    """Valid JSON that the service will not take: too deep, a huge number, or bad Unicode."""


def _number(kind: type) -> Any:
    def parse(text: str) -> Any:
        if len(text) > MAX_NUMBER_CHARS:
            raise RefusedJSON(f"a number has {len(text)} characters; the maximum is {MAX_NUMBER_CHARS}")
        value = kind(text)
        if kind is float and not math.isfinite(value):
            raise RefusedJSON(f"the number {text} is out of range")
        return value

    return parse


def _constant(name: str) -> Any:
    raise RefusedJSON(f"{name} is not JSON")


def _check(value: Any) -> None:
    """Depth and Unicode, walked with an explicit stack (no recursion to exhaust)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            _check_text(item)
            continue
        if not isinstance(item, (dict, list)):
            continue
        if depth > MAX_DEPTH:
            raise RefusedJSON(f"nested deeper than {MAX_DEPTH} levels")
        if isinstance(item, dict):
            for key in item:
                _check_text(key)
            stack.extend((v, depth + 1) for v in item.values())
        else:
            stack.extend((v, depth + 1) for v in item)


def _check_text(text: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise RefusedJSON("a string holds a lone surrogate (invalid Unicode)") from None


def load_untrusted_json(raw: str | bytes) -> Any:
    try:
        value = json.loads(raw, parse_int=_number(int), parse_float=_number(float), parse_constant=_constant)
    except RecursionError:
        raise RefusedJSON(f"nested deeper than {MAX_DEPTH} levels") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise NotJSON(str(exc)) from None
    _check(value)
    return value
