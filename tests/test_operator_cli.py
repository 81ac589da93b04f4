"""`python -m worker`'s operator commands: arguments checked before anything is queued, the
chat job on the chat queue, and always a word on which Redis the command reaches."""

from __future__ import annotations

import os
import sys

import pytest
import redis

from shared.process.runtime_file import RunningAllInOne, publish
from shared.process.settings import Settings
from worker.cli_target import WrongStore, queue_settings, refuse_unreadable_dead_letters

QUEUE, CHAT_QUEUE = "arq:queue:cli-test", "arq:queue:cli-test:chat"


def run_cli(monkeypatch: pytest.MonkeyPatch, redis_url: str, *argv: str) -> int | str:
    """The exit: 0, or the one line sys.exit prints on stderr (exit 1)."""
    from worker.__main__ import main

    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("QUEUE_NAME", QUEUE)
    monkeypatch.setenv("CHAT_QUEUE_NAME", CHAT_QUEUE)
    monkeypatch.setattr(sys, "argv", ["python -m worker", *argv])
    with pytest.raises(SystemExit) as stopped:
        main()
    code = stopped.value.code
    return code if isinstance(code, int | str) else 1


def queued(redis_url: str, queue: str) -> int:
    client = redis.Redis.from_url(redis_url)
    try:
        return int(client.zcard(queue))
    finally:
        client.close()


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["summarize_sessions"], "summarize_sessions takes USER_ID"),
        (["extract_session_context", "u1"], "extract_session_context takes USER_ID SESSION_ID"),
        (["ping", "extra"], "ping takes no arguments"),
        (["generate_reflection", "u1", "maybe"], "FORCE is true or false"),
        (["summarize_sessions", " "], "USER_ID is empty"),
    ],
)
def test_enqueue_refuses_arguments_the_job_does_not_take(monkeypatch, capsys, redis_url, argv, says):
    line = run_cli(monkeypatch, redis_url, "enqueue", *argv)
    assert isinstance(line, str) and "\n" not in line  # exit 1, one line, as every CLI error
    assert says in line and "nothing was queued" in line
    assert queued(redis_url, QUEUE) == 0 and queued(redis_url, CHAT_QUEUE) == 0


def test_enqueue_puts_a_reply_job_on_the_chat_queue(monkeypatch, capsys, redis_url):
    assert run_cli(monkeypatch, redis_url, "enqueue", "generate_reply", "reply-1") == 0
    assert queued(redis_url, CHAT_QUEUE) == 1 and queued(redis_url, QUEUE) == 0


def test_with_redis_url_unset_and_no_allinone_it_names_the_default(capsys, tmp_path):
    settings = Settings(_env_file=None, runtime_dir=tmp_path)  # type: ignore[call-arg]
    assert queue_settings(settings) == settings
    err = capsys.readouterr().err
    assert "no all-in-one running here" in err and "127.0.0.1:6379" in err


def test_help_says_what_the_command_does(monkeypatch, capsys):
    from worker.__main__ import main

    monkeypatch.setattr(sys, "argv", ["python -m worker", "--help"])
    with pytest.raises(SystemExit):
        main()
    out = capsys.readouterr().out
    assert "enqueue a worker job by name, now" not in out
    assert "run a worker process" in out and "dead letters" in out


def test_dead_letters_of_an_in_memory_allinone_point_to_scripts_run_admin(tmp_path):
    settings = Settings(_env_file=None, runtime_dir=tmp_path)  # type: ignore[call-arg]
    publish(
        settings,
        RunningAllInOne(
            pid=os.getpid(), url="http://127.0.0.1:8000", redis_url="redis://x", queue_name="q", in_memory_mongodb=True
        ),
    )
    with pytest.raises(WrongStore) as refused:
        refuse_unreadable_dead_letters(settings)
    assert "scripts/run --admin EMAIL" in str(refused.value) and "python -m allinone" not in str(refused.value)
