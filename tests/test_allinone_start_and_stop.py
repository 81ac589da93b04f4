"""The all-in-one as a process: a second one on a busy port leaves the first one's runtime
file alone, the admin's generated password is shown once (a JSON line when logs are JSON),
and one Ctrl-C is one shutdown line."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys

import pytest

from shared.process.runtime_file import RunningAllInOne, publish, runtime_file
from shared.process.settings import Settings
from tests.support.processes import clean_env, exit_code, start_allinone, stop_now

pytestmark = pytest.mark.slow  # each test starts the all-in-one as a process


def test_a_second_allinone_on_a_busy_port_leaves_the_first_ones_file(tmp_path, redis_url):
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen()
    port = busy.getsockname()[1]
    # The first all-in-one: this test process stands in for it (alive, its own pid).
    settings = Settings(_env_file=None, runtime_dir=tmp_path)  # type: ignore[call-arg]
    first = RunningAllInOne(
        pid=os.getpid(), url="http://first", redis_url="redis://first:6379/0", queue_name="arq:queue", in_memory_mongodb=True
    )
    publish(settings, first)
    try:
        done = subprocess.run(
            [sys.executable, "-m", "allinone", "--admin", "ops@example.com"],
            cwd=tmp_path,
            env=clean_env(
                tmp_path,
                PORT=str(port),
                REDIS_URL=redis_url,
                LOG_FORMAT="json",
                PASSWORD_HASH_TIME_COST="1",
                PASSWORD_HASH_MEMORY_KIB="1024",
            ),
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        busy.close()
    assert done.returncode != 0, done.stderr
    assert RunningAllInOne.model_validate_json(runtime_file(settings).read_text()) == first
    # Every line parses as JSON; the generated password is in one of them, on stdout.
    lines = [line for line in (done.stdout + done.stderr).splitlines() if line.strip()]
    parsed = [json.loads(line) for line in lines]
    [notice] = [p for p in parsed if "password" in p["message"]]
    password = notice["message"].split("password: ")[1].split(";")[0]
    assert sum(password in line for line in lines) == 1 and password in done.stdout


async def test_one_ctrl_c_is_one_shutdown_line(tmp_path):
    allinone = await start_allinone(tmp_path)
    try:
        os.killpg(allinone.proc.pid, signal.SIGINT)  # a terminal's Ctrl-C: the whole group
        assert await exit_code(allinone.proc) == 0
    finally:
        stop_now(allinone.proc)
    out, err = allinone.output()
    text = out + err
    assert text.count("shutdown on") == 1, text
    assert "allow_pick_jobs" not in text
