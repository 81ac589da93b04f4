"""Logging helpers shared by every process."""

from __future__ import annotations

import logging
import re
from typing import Any

_TOKEN_IN_URL = re.compile(r"(token=)[^\s&\"']+")


def _redact(value: Any) -> Any:
    return _TOKEN_IN_URL.sub(r"\1[redacted]", value) if isinstance(value, str) else value


class RedactTokens(logging.Filter):
    """WebSocket URLs carry the access token in the query string; keep it out of logs.

    It rewrites the message and its arguments in place, keeping their shape: uvicorn's
    access formatter reads `record.args` as a tuple.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = _redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(_redact(a) for a in record.args)
        elif isinstance(record.args, dict):
            record.args = {k: _redact(v) for k, v in record.args.items()}
        return True


def redact_tokens_in(*logger_names: str) -> None:
    for name in logger_names:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactTokens) for f in logger.filters):
            logger.addFilter(RedactTokens())
