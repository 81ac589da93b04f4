"""LOG_FORMAT=json: one JSON object a line, with job context, and still no tokens."""

from __future__ import annotations

import io
import json
import logging

import pytest

from shared.process.log_format import bind_log_context, configure_logging, log_context, make_formatter
from shared.process.logs import RedactTokens

JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1MSJ9.c2lnbmF0dXJl"


def capture(log_format: str) -> tuple[logging.Logger, io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(make_formatter(log_format))
    logger = logging.getLogger(f"test.log_format.{log_format}")
    logger.handlers[:] = [handler]
    logger.propagate = False
    logger.setLevel(logging.INFO)
    if not any(isinstance(f, RedactTokens) for f in logger.filters):
        logger.addFilter(RedactTokens())
    return logger, stream


def test_a_json_line_has_time_level_logger_message_and_job_context_but_no_token():
    logger, stream = capture("json")
    token = bind_log_context(
        job_id="extract_session_context:s1:m1", function="extract_session_context", user_id="u1", session_id="s1"
    )
    try:
        logger.info('127.0.0.1 - "GET %s HTTP/1.1" 101', f"/ws/chat?token={JWT}", extra={"duration": 0.25})
    finally:
        log_context.reset(token)
    logger.warning("outside any job")
    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert set(first) == {"time", "level", "logger", "message", "job_id", "function", "user_id", "session_id", "duration"}
    assert first["level"] == "INFO" and first["logger"] == "test.log_format.json" and first["time"].endswith("+00:00")
    assert first["job_id"] == "extract_session_context:s1:m1" and first["user_id"] == "u1" and first["duration"] == 0.25
    assert JWT not in stream.getvalue() and "token=[redacted]" in first["message"]
    assert set(second) == {"time", "level", "logger", "message"} and second["level"] == "WARNING"


def test_a_text_line_has_time_and_level_and_no_token():
    logger, stream = capture("text")
    logger.info("socket %s", f"/ws/chat?token={JWT}")
    line = stream.getvalue().strip()
    assert " INFO test.log_format.text: " in line and line[:4].isdigit()
    assert JWT not in line


def test_configure_logging_formats_uvicorns_handlers_and_leaves_a_hosts_root_handlers(monkeypatch):
    uvicorn_handler = logging.StreamHandler(io.StringIO())
    monkeypatch.setattr(logging.getLogger("uvicorn.access"), "handlers", [uvicorn_handler])
    host_handler = logging.StreamHandler(io.StringIO())
    monkeypatch.setattr(logging.getLogger(), "handlers", [host_handler])
    configure_logging("json", own_root=False)
    assert type(uvicorn_handler.formatter).__name__ == "JsonFormatter"
    assert host_handler.formatter is None
    configure_logging("json")
    assert type(host_handler.formatter).__name__ == "JsonFormatter"


@pytest.mark.slow  # a product process (python -m ...)
async def test_every_line_of_the_allinone_carries_time_and_level_in_either_format(tmp_path, redis_url):
    import re

    import httpx

    from tests.support.processes import start_allinone, stop

    for log_format in ("json", "text"):
        run_dir = tmp_path / log_format
        run_dir.mkdir()
        allinone = await start_allinone(run_dir, REDIS_URL=redis_url, LOG_FORMAT=log_format)
        async with httpx.AsyncClient() as http:
            await http.get(
                f"{allinone.url}/ws/chat?token=eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1In0.c2ln"
            )  # an access line with a token
        assert await stop(allinone.proc) == 0
        lines = [line for line in allinone.output()[1].splitlines() if line.strip()]
        assert any("/ws/chat" in line for line in lines), lines
        assert not any("eyJzdWIiOiJ1In0" in line for line in lines)
        for line in lines:
            if log_format == "json":
                parsed = json.loads(line)
                assert parsed["time"] and parsed["level"] and parsed["logger"], line
            else:
                assert re.match(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (DEBUG|INFO|WARNING|ERROR|CRITICAL) ", line), line


async def test_a_jobs_log_lines_carry_its_ids_and_duration_in_json(api, settings, mongo_client):
    from tests.support.running_worker import running_worker, wait_for

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(make_formatter("json"))
    worker_log = logging.getLogger("worker")
    worker_log.addHandler(handler)
    level, worker_log.level = worker_log.level, logging.INFO
    try:
        login = await api.new_user()
        await api.chat(login, "I want to swim", "I will go on Tuesdays")
        job_id = (await api.logout(login))["job_id"]
        async with running_worker(settings, mongo_client):
            await wait_for(lambda: _logged(stream, "job extract_session_context complete"))
    finally:
        worker_log.removeHandler(handler)
        worker_log.setLevel(level)
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    [done] = [line for line in lines if line["message"].startswith("job extract_session_context complete")]
    assert done["job_id"] == job_id and done["function"] == "extract_session_context"
    assert done["user_id"] == login.user_id and done["session_id"] == login.session_id and done["duration"] >= 0
    assert all(line["time"] and line["level"] for line in lines)


async def _logged(stream: io.StringIO, text: str) -> bool:
    return text in stream.getvalue()
