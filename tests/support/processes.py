"""The product's own entry points as real processes, started the way an operator starts them."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import httpx

from allinone.redis_process import free_port

ROOT = Path(__file__).resolve().parent.parent.parent
# What an operator's shell might carry that would change what the product connects to.
PRODUCT_VARIABLES = {"REDIS_URL", "MONGODB_URI", "ALLOW_IN_MEMORY_MONGODB", "ANTHROPIC_API_KEY", "LLM_PROVIDER", "JWT_SECRET", "RUNTIME_DIR", "QUEUE_NAME"}


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


async def start_allinone(tmp_path: Path, **env: str) -> AllInOne:
    """`python -m allinone` as `scripts/run` execs it, in a session of its own like a
    terminal's foreground job, so a test can send Ctrl-C to the whole process group."""
    port = free_port()
    out, err = tmp_path / "allinone.out", tmp_path / "allinone.err"
    with out.open("w") as stdout, err.open("w") as stderr:
        proc = subprocess.Popen(
            [sys.executable, "-m", "allinone"], cwd=tmp_path, stdout=stdout, stderr=stderr, start_new_session=True,
            env=clean_env(tmp_path, PORT=str(port), WORKER_POLL_DELAY_SECONDS="0.05", PASSWORD_HASH_TIME_COST="1",
                          PASSWORD_HASH_MEMORY_KIB="1024", **env),
        )
    url = f"http://127.0.0.1:{port}"
    async with httpx.AsyncClient() as http:
        for _ in range(400):
            if proc.poll() is not None:
                raise AssertionError(f"the all-in-one exited during start-up: {err.read_text()}")
            try:
                if (await http.get(f"{url}/healthz")).status_code == 200:
                    return AllInOne(proc, url, out, err)
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.05)
    stop_now(proc)
    raise AssertionError("the all-in-one did not come up")


def stop_now(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, 9)
        proc.wait()
