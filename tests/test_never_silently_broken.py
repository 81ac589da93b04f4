"""Start-up and shutdown through the real entry points: a misconfiguration is one line naming
the variable and a non-zero exit; Ctrl-C and SIGTERM stop the all-in-one cleanly; the
operator CLI reaches the all-in-one's queue and says so when it cannot reach its store."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import uuid
from pathlib import Path

import httpx
import pytest
import websockets

from allinone.redis_process import free_port
from shared.process.runtime_file import RunningAllInOne, publish, running_allinone
from shared.process.settings import Settings, SettingsError, load_settings
from tests.support.client import Api
from tests.support.processes import clean_env, error_lines, pid_alive, run, start_allinone, stop_now
from tests.support.settings import JWT_SECRET

SERVICE = ["-m", "uvicorn", "service.app:create_app", "--factory", "--port", "0"]
WORKER = ["-m", "arq", "worker.settings.WorkerSettings"]


def assert_one_line(done, *words: str) -> str:
    lines = error_lines(done.stderr)
    assert done.returncode != 0, done.stderr
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    assert all(word in lines[0] for word in words), lines[0]
    return lines[0]


# Bad values: settings errors, in-process -------------------------------------------------


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("mongodb_uri", "localhost:27017"),
        ("mongodb_uri", "mongodb://db:99999"),
        ("redis_url", "http://redis:6379"),
        ("redis_url", "redis://redis:port/0"),
        ("redis_url", "redis://redis:6379/zero"),
    ],
)
def test_a_malformed_uri_is_a_settings_error_naming_the_variable(variable, value):
    with pytest.raises(SettingsError) as error:
        load_settings(**{variable: value})
    assert str(error.value).startswith(f"invalid configuration: {variable.upper()}: not a ")


def test_well_formed_uris_pass():
    settings = Settings(
        _env_file=None, mongodb_uri="mongodb+srv://u:p@cluster.example.net/coach", redis_url="rediss://:pw@r:6380/2"
    )
    assert settings.mongodb_uri.startswith("mongodb+srv://") and settings.redis_url.endswith("/2")


# Standalone service and worker: one line, non-zero ----------------------------------------


@pytest.mark.slow  # a product process (python -m ...)
def test_the_standalone_service_refuses_the_in_memory_mongodb(tmp_path):
    done = run(SERVICE, clean_env(tmp_path, JWT_SECRET=JWT_SECRET))
    assert_one_line(done, "MONGODB_URI", "memory://", "all-in-one")


@pytest.mark.slow  # a product process (python -m ...)
def test_the_standalone_worker_refuses_the_in_memory_mongodb(tmp_path, redis_url):
    done = run(WORKER, clean_env(tmp_path, REDIS_URL=redis_url))
    assert_one_line(done, "MONGODB_URI", "memory://", "all-in-one")


@pytest.mark.slow  # a product process (python -m ...)
def test_a_malformed_mongodb_uri_stops_service_and_worker(tmp_path, redis_url):
    env = clean_env(tmp_path, JWT_SECRET=JWT_SECRET, REDIS_URL=redis_url, MONGODB_URI="mongo://db:27017")
    assert_one_line(run(SERVICE, env), "MONGODB_URI", "not a MongoDB URI")
    assert_one_line(run(WORKER, env), "MONGODB_URI", "not a MongoDB URI")


@pytest.mark.slow  # a product process (python -m ...)
def test_a_malformed_or_unreachable_redis_url_stops_the_worker(tmp_path):
    env = clean_env(tmp_path, MONGODB_URI="mongodb://127.0.0.1:27017", REDIS_URL="redis//127.0.0.1:6379")
    assert_one_line(run(WORKER, env), "REDIS_URL", "not a Redis URL")
    port = free_port()
    env["REDIS_URL"] = f"redis://127.0.0.1:{port}/0"
    assert_one_line(run(WORKER, env), "REDIS_URL", f"127.0.0.1:{port}", "cannot reach")


@pytest.mark.slow
@pytest.mark.parametrize("command", [SERVICE, WORKER], ids=["service", "worker"])
def test_an_unreachable_mongodb_stops_the_process_within_seconds(tmp_path, redis_url, command):
    port = free_port()  # nothing listens there
    env = clean_env(tmp_path, JWT_SECRET=JWT_SECRET, REDIS_URL=redis_url, MONGODB_URI=f"mongodb://127.0.0.1:{port}")
    # The bound is the start-up ping's 3 s server-selection timeout, not pymongo's 30 s.
    done = run(command, env, timeout=20)
    assert_one_line(done, "MONGODB_URI", f"127.0.0.1:{port}", "cannot reach")


@pytest.mark.slow
def test_the_allinone_checks_a_mongodb_uri_it_is_given(tmp_path):
    port = free_port()
    done = run(["-m", "allinone"], clean_env(tmp_path, MONGODB_URI=f"mongodb://127.0.0.1:{port}"), timeout=20)
    assert_one_line(done, "MONGODB_URI", f"127.0.0.1:{port}")


# The all-in-one: Ctrl-C and SIGTERM --------------------------------------------------------


def redis_pid(stderr: str) -> int:
    return int(re.search(r"private redis-server on \S+ \(pid (\d+)\)", stderr).group(1))


async def gone(pid: int) -> bool:
    for _ in range(100):
        if not pid_alive(pid):
            return True
        await asyncio.sleep(0.05)
    return False


@pytest.mark.slow  # a product process (python -m ...)
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
async def test_the_allinone_stops_cleanly(tmp_path, sig):
    allinone = await start_allinone(tmp_path)
    try:
        runtime = tmp_path / "allinone.json"
        assert json.loads(runtime.read_text())["pid"] == allinone.proc.pid
        redis = redis_pid(allinone.output()[1])
        # Ctrl-C in a terminal reaches the whole foreground process group; SIGTERM, the process.
        if sig == signal.SIGINT:
            os.killpg(allinone.proc.pid, sig)
        else:
            allinone.proc.send_signal(sig)
        code = await asyncio.to_thread(allinone.proc.wait, 30)
    finally:
        stop_now(allinone.proc)
    stderr = allinone.output()[1]
    assert code == 0, stderr
    assert "Traceback" not in stderr and "Error" not in stderr, stderr
    assert await gone(redis), "the private redis-server outlived the all-in-one"
    assert not runtime.exists()


@pytest.mark.slow  # a product process (python -m ...)
async def test_the_allinones_private_redis_killed_comes_back_and_the_product_with_it(tmp_path):
    allinone = await start_allinone(tmp_path)
    try:
        first = redis_pid(allinone.output()[1])
        os.kill(first, signal.SIGKILL)
        async with Api(allinone.url) as api:
            async with asyncio.timeout(30):  # a bound: Redis restarted, the workers back
                try:
                    while (await api.http.get("/readyz")).status_code != 200:
                        await asyncio.sleep(0.2)
                except httpx.TransportError:  # the process is gone: say why
                    raise AssertionError(allinone.output()[1]) from None
            login = await api.new_user()
            accepted = await api.http.post("/api/v1/chat/messages", json={"content": "still there?"}, headers=login.headers)
            assert accepted.status_code == 202, accepted.text
            stream = await api.http.get(accepted.json()["stream_url"], headers=login.headers)
            assert "event: done" in stream.text
        stderr = allinone.output()[1]
        second = int(re.search(r"private redis-server back on \S+ \(pid (\d+)\)", stderr).group(1))
        assert second != first and pid_alive(second)
        assert f"the private redis-server (pid {first}) exited" in stderr
        allinone.proc.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(allinone.proc.wait, 30) == 0
    finally:
        stop_now(allinone.proc)
    assert await gone(second), "the restarted redis-server outlived the all-in-one"


@pytest.mark.slow
async def test_ctrl_c_under_load_stops_within_the_grace(tmp_path, stub_llm):
    """Chat replies and an extraction stuck on a slow LLM: the grace runs out, they are cut
    off, and the all-in-one still exits 0 without a traceback."""
    allinone = await start_allinone(
        tmp_path,
        LLM_PROVIDER="anthropic",
        ANTHROPIC_API_KEY="test-key",
        ANTHROPIC_BASE_URL=stub_llm.url,
        WORKER_SHUTDOWN_GRACE_SECONDS="1",
    )
    sockets = []
    try:
        async with Api(allinone.url) as api:
            talker = await api.new_user()
            async with api.connect(talker) as ws:  # two turns, then the socket stays open
                await api_say(ws, "I want to run a marathon")
                await api_say(ws, "I will train every morning")
                stub_llm.latency = 60
                await api.logout(talker)  # its extraction now waits on the LLM
                for _ in range(3):  # and these replies too
                    chatter = await api.new_user()
                    sockets.append(await websockets.connect(api.ws_url(chatter.token)))
                    await sockets[-1].send(json.dumps({"type": "message", "content": "hello"}))
                while len(stub_llm.requests) < 3 + 2 + 1:  # two replies, the extraction, three replies
                    await asyncio.sleep(0.05)
                redis = redis_pid(allinone.output()[1])
                os.killpg(allinone.proc.pid, signal.SIGINT)
                code = await asyncio.to_thread(allinone.proc.wait, 30)
    finally:
        stop_now(allinone.proc)
        for ws in sockets:
            await ws.close()
    stdout, stderr = allinone.output()
    assert code == 0, stderr
    assert "Traceback" not in stderr, stderr
    # The replies waiting on the LLM end with their sockets: uvicorn closes every socket at
    # shutdown and the chat socket cancels its reply (service/chat_socket.py), so none is
    # left for the grace to cut off, and none was stored half-written.
    assert "Exception in ASGI application" not in stderr, stderr
    # The extraction: cancelled, back to the queue (arq says so per job; its one summary line,
    # worker/shutdown_log.py, is the first worker's to stop, either queue's).
    assert re.search(r"extract_session_context\S* cancelled, will be run again", stderr), stderr
    assert await gone(redis)


@pytest.mark.slow  # a product process (python -m ...)
async def test_ctrl_c_while_the_worker_is_busy_lets_running_jobs_finish(tmp_path):
    """Hundreds of short jobs in flight at the signal: none is cut off mid-write, no traceback."""
    from arq import create_pool

    from shared.queue.arq_adapter.pool import redis_settings as arq_redis_settings

    allinone = await start_allinone(tmp_path)
    try:
        settings = Settings(_env_file=None, redis_url=json.loads((tmp_path / "allinone.json").read_text())["redis_url"])
        pool = await create_pool(arq_redis_settings(settings))
        try:
            for _ in range(400):
                await pool.enqueue_job("ping")
        finally:
            await pool.aclose()
        redis = redis_pid(allinone.output()[1])
        os.killpg(allinone.proc.pid, signal.SIGINT)
        code = await asyncio.to_thread(allinone.proc.wait, 30)
    finally:
        stop_now(allinone.proc)
    stderr = allinone.output()[1]
    assert code == 0, stderr
    assert "Traceback" not in stderr, stderr
    # One shutdown line (worker/shutdown_log.py), and no job cut off: arq names each one it
    # cancels ("... cancelled, will be run again").
    assert stderr.count("shutdown on SIG") == 1 and "to be completed" in stderr, stderr
    assert "cancelled, will be run again" not in stderr, stderr
    assert await gone(redis)


async def api_say(ws, content: str) -> None:
    await ws.send(json.dumps({"type": "message", "content": content}))
    while json.loads(await ws.recv())["type"] not in ("done", "error"):
        pass


# The operator CLI --------------------------------------------------------------------------


@pytest.mark.slow  # a product process (python -m ...)
async def test_the_cli_next_to_the_allinone_reaches_its_queue_and_names_what_it_cannot_read(tmp_path, redis_url):
    allinone = await start_allinone(tmp_path)
    try:
        env = clean_env(tmp_path)  # no REDIS_URL: the CLI finds the all-in-one's
        ping = await asyncio.to_thread(run, ["-m", "worker", "enqueue", "ping", "--wait", "20"], env)
        assert ping.returncode == 0, ping.stderr
        assert ping.stdout.splitlines()[-1] == '"pong"'
        assert "running all-in-one's Redis" in ping.stderr

        letters = await asyncio.to_thread(run, ["-m", "worker", "dead-letters", "list"], env)
        line = assert_one_line(letters, "in-memory MongoDB", f"{allinone.url}/api/v1/admin/failed-jobs")
        assert str(allinone.proc.pid) in line

        # REDIS_URL set to the all-in-one's own: no note, so stderr is the error alone.
        same = {**env, "REDIS_URL": json.loads((tmp_path / "allinone.json").read_text())["redis_url"]}
        broken = await asyncio.to_thread(
            run, ["-m", "worker", "enqueue", "extract_session_context", "only-a-user", "--wait", "20"], same
        )
        # Checked before anything is queued, so it cannot dead-letter.
        assert_one_line(broken, "extract_session_context takes USER_ID SESSION_ID", "nothing was queued")

        elsewhere = await asyncio.to_thread(run, ["-m", "worker", "enqueue", "ping"], {**env, "REDIS_URL": redis_url})
        assert elsewhere.returncode == 0, elsewhere.stderr
        assert "is not the Redis of the all-in-one running here" in elsewhere.stderr
    finally:
        allinone.proc.send_signal(signal.SIGTERM)
        await asyncio.to_thread(allinone.proc.wait, 30)
        stop_now(allinone.proc)


@pytest.mark.slow  # a product process (python -m ...)
def test_the_cli_says_when_redis_cannot_be_reached(tmp_path):
    port = free_port()
    done = run(["-m", "worker", "enqueue", "ping", "--wait", "5"], clean_env(tmp_path, REDIS_URL=f"redis://127.0.0.1:{port}/0"))
    assert_one_line(done, "REDIS_URL", f"127.0.0.1:{port}")


@pytest.mark.slow  # a product process (python -m ...)
def test_the_cli_says_when_no_worker_takes_the_job(tmp_path, redis_url):
    queue = f"cli:{uuid.uuid4().hex[:8]}"  # no worker reads it
    done = run(["-m", "worker", "enqueue", "ping", "--wait", "0.3"], clean_env(tmp_path, REDIS_URL=redis_url, QUEUE_NAME=queue))
    job_id = done.stdout.strip()
    line = assert_one_line(done, "no worker took job", job_id, queue)
    assert "stays queued" in line


@pytest.mark.slow  # a product process (python -m ...)
def test_the_cli_will_not_read_dead_letters_from_an_empty_store_of_its_own(tmp_path):
    done = run(["-m", "worker", "dead-letters", "list"], clean_env(tmp_path))
    assert_one_line(done, "MONGODB_URI", "memory://")


def test_a_runtime_file_left_by_a_dead_allinone_is_ignored(tmp_path):
    settings = Settings(_env_file=None, runtime_dir=tmp_path)
    dead = run(["-c", "import os; print(os.getpid())"], clean_env(tmp_path))
    info = RunningAllInOne(
        pid=int(dead.stdout), url="http://x", redis_url="redis://127.0.0.1:1/0", queue_name="q", in_memory_mongodb=True
    )
    publish(settings, info)
    assert running_allinone(settings) is None
    publish(settings, info.model_copy(update={"pid": os.getpid()}))
    assert running_allinone(settings) == info.model_copy(update={"pid": os.getpid()})
    assert Path(tmp_path / "allinone.json").stat().st_mode & 0o077 == 0
