"""Start the product's own commands as real processes, log to a file, stop them by pid."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent.parent

# Settings a test must never inherit from the machine it runs on.
UNSET = {"REDIS_URL", "MONGODB_URI", "ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL", "JWT_SECRET", "LLM_PROVIDER", "QUEUE_NAME"}


def start(module_args: list[str], log_path: Path, **env: str) -> subprocess.Popen:
    environment = {k: v for k, v in os.environ.items() if k not in UNSET}
    environment.update(PYTHONPATH=str(ROOT), PASSWORD_HASH_TIME_COST="1", PASSWORD_HASH_MEMORY_KIB="1024", **env)
    with log_path.open("w") as log:
        return subprocess.Popen([sys.executable, *module_args], cwd=log_path.parent, env=environment, stdout=log, stderr=subprocess.STDOUT)


async def exit_code(proc: subprocess.Popen, seconds: float = 30) -> int:
    for _ in range(int(seconds / 0.05)):
        if proc.poll() is not None:
            return proc.returncode
        await asyncio.sleep(0.05)
    proc.kill()
    proc.wait()
    raise AssertionError("the process did not exit in time")


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
    for _ in range(int(seconds / 0.1)):
        assert proc.poll() is None, log_path.read_text()
        if await readyz_status(url) == status:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"/readyz never answered {status}\n{log_path.read_text()}")


def job_starts(log_text: str) -> Counter[str]:
    """How many times arq started each job (`→ <job id>:<function>(...)`), by job id."""
    return Counter(m.group(1) for m in re.finditer(r"→ (\S+):\w+\(", log_text))
