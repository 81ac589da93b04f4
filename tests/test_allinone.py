"""The README's run command's product, as a real process: defaults, one chat, clean shutdown."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from allinone.redis_process import free_port
from tests.support.client import Api
from tests.support.waiting import wait_for

pytestmark = pytest.mark.slow  # every test starts the all-in-one as a process

ROOT = Path(__file__).resolve().parent.parent


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


async def wait_until_up(url: str, proc: subprocess.Popen) -> None:
    async with httpx.AsyncClient() as http:

        async def up() -> bool:
            assert proc.poll() is None, "the all-in-one exited during start-up"
            try:
                return (await http.get(f"{url}/healthz")).status_code == 200
            except httpx.TransportError:
                return False

        await wait_for(up, 10, what="the all-in-one's /healthz")


async def test_allinone_runs_the_product_with_no_configuration_and_stops_cleanly(tmp_path):
    port = free_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"REDIS_URL", "MONGODB_URI", "ANTHROPIC_API_KEY", "JWT_SECRET", "LLM_PROVIDER"}
    }
    env.update(PORT=str(port), WORKER_POLL_DELAY_SECONDS="0.05", RUNTIME_DIR=str(tmp_path))
    log_path = tmp_path / "allinone.log"
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "allinone"],
            cwd=tmp_path,
            env={**env, "PYTHONPATH": str(ROOT)},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        url = f"http://127.0.0.1:{port}"
        await wait_until_up(url, proc)
        async with Api(url) as api:
            login = await api.new_user()
            [frames] = await api.chat(login, "I want to swim a mile")
            assert frames[-1]["provider"] == "offline"
            await api.logout(login)
            again = await api.login(login.email, login.password, login.user_id)
            for _ in range(100):  # the in-process worker extracts it
                contexts = (await api.memory(again))["contexts"]
                if contexts:
                    break
                await asyncio.sleep(0.05)
            assert [p["content"] for p in contexts[0]["points"]] == ["I want to swim a mile"]
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=20)
    text = log_path.read_text()
    assert code == 0, text
    assert f"listening on http://127.0.0.1:{port}" in text and "OFFLINE" in text
    redis_pid = int(re.search(r"private redis-server on \S+ \(pid (\d+)\)", text).group(1))
    for _ in range(50):
        if not pid_alive(redis_pid):
            break
        await asyncio.sleep(0.1)
    assert not pid_alive(redis_pid), "the private redis-server outlived the all-in-one"
    # Access logs work, and the token in the WebSocket URL is not in them.
    assert "Logging error" not in text
    assert "token=[redacted]" in text and login.token not in text


async def test_allinone_makes_the_local_operator_admin_and_cuts_slow_headers(tmp_path):
    port = free_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"REDIS_URL", "MONGODB_URI", "ANTHROPIC_API_KEY", "JWT_SECRET", "LLM_PROVIDER"}
    }
    env.update(PORT=str(port), HTTP_HEADER_TIMEOUT_SECONDS="1", PASSWORD_HASH_TIME_COST="1", PASSWORD_HASH_MEMORY_KIB="1024")
    log_path = tmp_path / "allinone.log"
    command = [sys.executable, "-m", "allinone", "--admin", "Ops@Example.com"]
    with log_path.open("w") as log:
        proc = subprocess.Popen(command, cwd=tmp_path, env={**env, "PYTHONPATH": str(ROOT)}, stdout=log, stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}"
        await wait_until_up(url, proc)
        password = re.search(r"admin: ops@example.com \(created; password: ([^;\s]+);", log_path.read_text()).group(1)
        async with Api(url) as api:
            admin = await api.login("ops@example.com", password, "")
            assert (await api.http.get("/api/v1/admin/failed-jobs", headers=admin.headers)).status_code == 200
            someone = await api.new_user()
            assert (await api.http.get("/api/v1/admin/failed-jobs", headers=someone.headers)).status_code == 403
        # The all-in-one runs uvicorn with the header time limit: a client that never finishes
        # its headers gets 408 and is closed.
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        answer = await asyncio.wait_for(reader.read(), 10)
        writer.close()
        assert answer.startswith(b"HTTP/1.1 408")
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0, log_path.read_text()
    assert password not in "".join(
        line for line in log_path.read_text().splitlines(True) if " INFO " in line or " WARNING " in line
    )


def test_allinone_refuses_an_admin_that_is_not_an_email():
    done = subprocess.run(
        [sys.executable, "-m", "allinone", "--admin", "root"], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2 and "not an email address" in done.stderr
