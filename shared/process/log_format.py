"""How every process logs: `LOG_FORMAT=text` (default) or `json`, one object a line.

Both carry the time and the level. Job context (job id, function, user id, session id)
rides on context variables set where a job starts, so every line a job logs, ours or
arq's, carries it in JSON without each call passing it. The token redaction filters
(shared/process/logs.py) rewrite the message before any formatter sees it, so both formats are
clean.
"""

from __future__ import annotations

import contextvars
import json
import logging
from datetime import UTC, datetime
from typing import Any

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
CONTEXT_FIELDS = ("job_id", "function", "user_id", "session_id")
log_context: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar("log_context", default=None)


def bind_log_context(**fields: Any) -> contextvars.Token[dict[str, Any] | None]:
    """Add fields to this task's log context (tasks it starts inherit them)."""
    current = log_context.get() or {}
    return log_context.set({**current, **{k: v for k, v in fields.items() if v is not None}})


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        line.update(log_context.get() or {})
        for field in (*CONTEXT_FIELDS, "duration"):
            if field in record.__dict__:  # passed with `extra=`
                line[field] = record.__dict__[field]
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


def make_formatter(log_format: str) -> logging.Formatter:
    return JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT)


def configure_logging(log_format: str, level: int = logging.INFO, *, own_root: bool = True) -> None:
    """Log lines in the chosen format, with time and level. Safe to call again.

    `own_root`: the caller is the process's entry point (worker, all-in-one) and sets the
    root handlers' format. The service's app factory passes False: it formats uvicorn's
    handlers and adds a root handler only when nothing set one up (plain `uvicorn`), and
    leaves a host's handlers (a test runner's) alone.
    """
    formatter = make_formatter(log_format)
    root = logging.getLogger()
    if not root.handlers:
        console = logging.StreamHandler()
        console.setFormatter(formatter)
        root.addHandler(console)
        if root.level == logging.WARNING:  # Python's default: our INFO lines would vanish
            root.setLevel(level)
    elif own_root:
        for handler in root.handlers:
            handler.setFormatter(formatter)
    # httpx says every request at INFO: a line per LLM call, one more per chat reply. Its
    # failures reach us as exceptions, which our code logs; the calls' usage is recorded.
    for name in ("httpx", "httpx2"):
        logging.getLogger(name).setLevel(max(level, logging.WARNING))
    # uvicorn's default config gives its loggers their own handlers (no time, own format).
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        for handler in logging.getLogger(name).handlers:
            handler.setFormatter(formatter)
