"""Logging helpers shared by every process."""

from __future__ import annotations

import asyncio
import logging
import re
from typing import Any
from urllib.parse import unquote

# A `token` parameter in any letter case, and anything shaped like a JWT wherever it sits
# (another parameter, the path): the header of every JWT we issue encodes to "eyJ".
_TOKEN_PARAM = re.compile(r"(token=)[^\s&\"']+", re.IGNORECASE)
_JWT = re.compile(r"eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")
# Enough rounds to undo double and triple encoding (%2574 -> %74 -> t); bounded on purpose.
_DECODE_ROUNDS = 4


def _decoded(text: str) -> str:
    for _ in range(_DECODE_ROUNDS):
        decoded = unquote(text)
        if decoded == text:
            break
        text = decoded
    return text


def _redact(value: Any) -> Any:
    """Matches on the percent-decoded text, so `tok%65n=` or `%65yJ...` cannot slip past.

    A line with nothing to hide is logged as it came; one that had a token is logged
    decoded, with the token replaced.
    """
    if not isinstance(value, str):
        return value
    decoded = _decoded(value)
    redacted = _JWT.sub("[redacted]", _TOKEN_PARAM.sub(r"\1[redacted]", decoded))
    return value if redacted == decoded else redacted


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


class CutOffAtShutdown(logging.Filter):
    """uvicorn cancels what still runs when its graceful-shutdown time is over (a chat reply
    waiting on a slow LLM) and logs each cancellation as a traceback; that is the planned
    end of a shutdown, so it becomes one warning line."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and isinstance(record.exc_info[1], asyncio.CancelledError):
            record.msg, record.args, record.exc_info, record.exc_text = (
                "a request or WebSocket still running at shutdown was cut off (graceful-shutdown time over)",
                (),
                None,
                None,
            )
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


def one_line_for_cut_off_requests(logger_name: str = "uvicorn.error") -> None:
    logger = logging.getLogger(logger_name)
    if not any(isinstance(f, CutOffAtShutdown) for f in logger.filters):
        logger.addFilter(CutOffAtShutdown())
