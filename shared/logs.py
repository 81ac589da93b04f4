"""Logging helpers shared by every process."""

from __future__ import annotations

import logging
import re

_TOKEN_IN_URL = re.compile(r"(token=)[^\s&\"']+")


class RedactTokens(logging.Filter):
    """WebSocket URLs carry the access token in the query string; keep it out of logs."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.args:
            record.msg = record.getMessage()
            record.args = None
        if isinstance(record.msg, str):
            record.msg = _TOKEN_IN_URL.sub(r"\1[redacted]", record.msg)
        return True


def redact_tokens_in(*logger_names: str) -> None:
    for name in logger_names:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactTokens) for f in logger.filters):
            logger.addFilter(RedactTokens())
