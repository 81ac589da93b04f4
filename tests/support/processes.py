"""The product's own entry points as real processes, started the way an operator starts
them, logging to files, stopped by pid."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from allinone.redis_process import free_port
from tests.support.waiting import wait_for

ROOT = Path(__file__).resolve().parent.parent.parent
# What an operator's shell might carry that would change what the product connects to.
PRODUCT_VARIABLES = {
    "REDIS_URL",
    "MONGODB_URI",
    "ALLOW_IN_MEMORY_MONGODB",
    "ANTHROPIC_API_KEY",
    "ANTHROPIC_BASE_URL",
    "LLM_PROVIDER",
    "JWT_SECRET",
    "RUNTIME_DIR",
    "QUEUE_NAME",
}


def clean_env(runtime_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in PRODUCT_VARIABLES}
    return {**env, "PYTHONPATH": str(ROOT), "RUNTIME_DIR": str(runtime_dir), **extra}


def run(args: list[str], env: dict[str, str], timeout: float = 30) -> subprocess.CompletedProcess[str]:
    """A command that is expected to end by itself; `timeout` bounds a hang."""
    return subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.strip()]


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@dataclass
class AllInOne:
    proc: subprocess.Popen[bytes]
    url: str
    stdout: Path
    stderr: Path

    def output(self) -> tuple[str, str]:
        return self.stdout.read_text(), self.stderr.read_text()


async def start_allinone(tmp_path: Path, *args: str, **env: str) -> AllInOne:
    """`python -m allinone [args]` as `scripts/run` execs it, in a session of its own like a
    terminal's foreground job, so a test can send Ctrl-C to the whole process group."""
    port = free_port()
    out, err = tmp_path / "allinone.out", tmp_path / "allinone.err"
    with out.open("w") as stdout, err.open("w") as stderr:
        proc = subprocess.Popen(
            [sys.executable, "-m", "allinone", *args],
            cwd=tmp_path,
            stdout=stdout,
            stderr=stderr,
            start_new_session=True,
            env=clean_env(
                tmp_path,
                PORT=str(port),
                WORKER_POLL_DELAY_SECONDS="0.05",
                PASSWORD_HASH_TIME_COST="1",
                PASSWORD_HASH_MEMORY_KIB="1024",
                **{"OFFLINE_STREAM_DELAY_MS": "0", **env},
            ),
        )
    url = f"http://127.0.0.1:{port}"
    async with httpx.AsyncClient() as http:

        async def up() -> bool:
            if proc.poll() is not None:
                raise AssertionError(f"the all-in-one exited during start-up: {err.read_text()}")
            try:
                return (await http.get(f"{url}/healthz")).status_code == 200
            except httpx.TransportError:
                return False

        try:
            await wait_for(up, 20, what="the all-in-one's /healthz")
        except AssertionError:
            stop_now(proc)
            raise
    return AllInOne(proc, url, out, err)


def stop_now(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, 9)
        proc.wait()


def start(module_args: list[str], log_path: Path, **env: str) -> subprocess.Popen:
    environment = clean_env(
        log_path.parent, PASSWORD_HASH_TIME_COST="1", PASSWORD_HASH_MEMORY_KIB="1024", **{"OFFLINE_STREAM_DELAY_MS": "0", **env}
    )
    with log_path.open("w") as log:
        return subprocess.Popen(
            [sys.executable, *module_args], cwd=log_path.parent, env=environment, stdout=log, stderr=subprocess.STDOUT
        )


async def exit_code(proc: subprocess.Popen, seconds: float = 30) -> int:
    """Wait for the process without blocking the loop (a stub it talks to may run on it)."""
    try:
        await wait_for(lambda: proc.poll() is not None, seconds, what=f"process {proc.pid} exiting")
    except AssertionError:
        proc.kill()
        proc.wait()
        raise
    return proc.returncode


async def stop(proc: subprocess.Popen) -> int:
    if proc.poll() is None:
        proc.terminate()
    return await exit_code(proc)


async def readyz_status(url: str) -> int | None:
    async with httpx.AsyncClient(timeout=5) as http:
        try:
            return (await http.get(f"{url}/readyz")).status_code
        except httpx.TransportError:
            return None


async def until_readyz(url: str, status: int, proc: subprocess.Popen, log_path: Path, seconds: float = 30) -> None:
    async def answered() -> bool:
        assert proc.poll() is None, log_path.read_text()
        return await readyz_status(url) == status

    await wait_for(answered, seconds, every=0.1, what=f"/readyz answering {status}")


def job_runs(log_text: str) -> Counter[str]:
    """How many times each job ran, by job id: the worker's one line per job
    (`job <function> <outcome> in <s> s (<job id>, try <n>, ...)`, worker/job_metrics.py)."""
    return Counter(m.group(1) for m in re.finditer(r"\bjob \w+ \w+ in [\d.]+ s \((\S+), try \d+", log_text))


def start_seeded_worker(
    settings: Any, stub_url: str, seed: Path, *args: str, stdout: Any = subprocess.PIPE, **env: str
) -> subprocess.Popen[bytes]:
    """`python -m tests.support.seeded_worker SEED [ARGS]` on the test's Redis, queue and
    stub LLM: a real worker process whose store is seeded from a file (env adds settings)."""
    environment = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "REDIS_URL": settings.redis_url,
        "QUEUE_NAME": settings.queue_name,
        "MONGODB_DB_NAME": settings.mongodb_db_name,
        "LLM_PROVIDER": "anthropic",
        "ANTHROPIC_API_KEY": "k",
        "ANTHROPIC_BASE_URL": stub_url,
        "WORKER_POLL_DELAY_SECONDS": "0.02",
        **env,
    }
    return subprocess.Popen(
        [sys.executable, "-m", "tests.support.seeded_worker", str(seed), *args],
        env=environment,
        stdout=stdout,
        stderr=subprocess.STDOUT,
    )
