"""Where a worker's CPU goes: py-spy samples it, and each sample is charged to an owner.

py-spy reads the process from outside, pausing it for each sample so that every stack is
read whole (the pauses cost the worker wall time, not CPU: the profiled run is a run of
its own), and leaves out idle samples (the event loop waiting in epoll), so its samples
are the worker's CPU.
A sample belongs to the code running at its innermost frame: a package from
site-packages, our top-level folder (shared/, worker/, bench/), or asyncio and logging,
kept apart as the event loop's and the log lines' cost (asyncio's socket transports are
their callers'). The rest of the standard library
(copy, json, re, datetime, ...) owns nothing: such a sample goes to the nearest caller
that has an owner, so mongomock's deep copies count as mongomock's. Time in C builtins
is already its calling frame's: py-spy shows Python frames only.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import signal
import sys
import sysconfig
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
STDLIB = Path(sysconfig.get_paths()["stdlib"]).resolve()
KEPT_STDLIB = {"asyncio", "logging", "selectors"}
# asyncio's sockets: their sends and receives belong to the client that uses them.
ASYNCIO_TRANSPORTS = {"selector_events.py", "streams.py"}
RATE = 200  # samples per second

# A thread pool's worker waiting for work (the SDK runs one blocking call in a thread
# once): py-spy counts that wait as active, but it spends no CPU.
IDLE = {("_worker", "futures/thread.py")}
STAND_IN = "MongoDB stand-in (mongomock)"

# Packages that are one cost to a reader of the table.
GROUPS = {
    "mongomock": STAND_IN,
    "mongomock_motor": STAND_IN,
    "sentinels": STAND_IN,
    "bson": STAND_IN,
    "anthropic": "Anthropic SDK, httpx",
    "httpx": "Anthropic SDK, httpx",
    "httpx2": "Anthropic SDK, httpx",
    "httpcore": "Anthropic SDK, httpx",
    "httpcore2": "Anthropic SDK, httpx",
    "h11": "Anthropic SDK, httpx",
    "anyio": "Anthropic SDK, httpx",
    "sniffio": "Anthropic SDK, httpx",
    "distro": "Anthropic SDK, httpx",
    "pydantic": "pydantic",
    "pydantic_core": "pydantic",
    "arq": "arq",
    "redis": "redis-py",
    "asyncio": "asyncio event loop",
    "selectors": "asyncio event loop",
    "logging": "logging",
    "shared": "our code (shared/, worker/)",
    "worker": "our code (shared/, worker/)",
    "bench": "the bench's own meter",
}

# py-spy's raw format: `frame;frame;...;innermost count`, a frame `function (file:line)`.
FRAME = re.compile(r"^(?P<function>.*) \((?P<file>.*?)(?::(?P<line>\d+))?\)$")


def py_spy() -> str | None:
    """py-spy beside this interpreter (the project's venv), else on PATH."""
    beside = Path(sys.executable).parent / "py-spy"
    return str(beside) if beside.exists() else shutil.which("py-spy")


async def start(pid: int, out: Path) -> asyncio.subprocess.Process:
    binary = py_spy()
    assert binary is not None
    proc = await asyncio.create_subprocess_exec(
        binary, "record", "-r", str(RATE), "-p", str(pid), "-f", "raw", "--full-filenames", "-o", str(out),
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    await asyncio.sleep(0.5)  # attached and sampling
    if proc.returncode is not None:
        raise RuntimeError(f"py-spy could not sample pid {pid}: {(await proc.communicate())[1].decode()[-300:]}")
    return proc


async def stop(proc: asyncio.subprocess.Process) -> None:
    """Ctrl-C makes py-spy write its file and exit."""
    if proc.returncode is None:
        proc.send_signal(signal.SIGINT)
    try:
        await asyncio.wait_for(proc.communicate(), 30)
    except TimeoutError:
        proc.kill()
        await proc.wait()


def owner(filename: str) -> str | None:
    """The owner of code in `filename`, or None for the standard library's unowned modules."""
    if not filename.startswith("/"):
        return None  # `<frozen ...>`, `<string>`
    parts = Path(filename).parts
    if "site-packages" in parts:
        return parts[parts.index("site-packages") + 1].removesuffix(".py")
    path = Path(filename).resolve()
    if path.is_relative_to(ROOT):
        return path.relative_to(ROOT).parts[0]
    if path.is_relative_to(STDLIB):
        module = path.relative_to(STDLIB).parts[0].removesuffix(".py")
        return module if module in KEPT_STDLIB and path.name not in ASYNCIO_TRANSPORTS else None
    return "other"


def owner_of(frames: list[tuple[str, str]]) -> str:
    """The owner of a sample: its innermost frame's, or its nearest owned caller's."""
    return next((o for o in (owner(file) for _, file in reversed(frames)) if o is not None), "unowned")


def parse(frame: str) -> tuple[str, str]:
    found = FRAME.match(frame)
    return (found["function"], found["file"]) if found else (frame, "<unknown>")


def job_of(frames: list[tuple[str, str]], jobs: tuple[str, ...]) -> str:
    """Which job a sample ran in: its function, the product's wrappers around every job,
    or neither (arq's polling and bookkeeping, the event loop)."""
    # A nested function's name comes qualified (`minimal.<locals>.extract_session_context`).
    functions = {function.rpartition(".")[2] for function, _ in frames}
    for job in jobs:
        if job in functions:
            return f"in `{job}`"
    if any(file.endswith(WRAPPERS) for _, file in frames):
        return "in the job wrappers (metrics, history, retry policy)"
    return "outside any job (arq, the event loop)"


WRAPPERS = ("worker/job_metrics.py", "worker/reliability.py")


def summarize(path: Path, cpu_ms_per_job: float, jobs: tuple[str, ...], top: int = 6) -> dict[str, Any]:
    """Shares of the samples by owner, by job and by innermost function, in ms per job of
    the profiled run's own measured CPU."""
    by_owner: Counter[str] = Counter()
    by_job: Counter[str] = Counter()
    by_job_less_stand_in: Counter[str] = Counter()
    by_function: Counter[str] = Counter()
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = [parse(f) for f in stack.split(";")]
        function, file = frames[-1]
        if (function, Path(file).parent.name + "/" + Path(file).name) in IDLE:
            continue
        who = GROUPS.get(owner_of(frames), owner_of(frames))
        by_owner[who] += int(count)
        by_job[job_of(frames, jobs)] += int(count)
        if who != STAND_IN:
            by_job_less_stand_in[job_of(frames, jobs)] += int(count)
        by_function[f"{function} ({'/'.join(Path(file).parts[-2:])})"] += int(count)
    samples = sum(by_owner.values())
    scale = cpu_ms_per_job / samples if samples else 0.0
    return {
        "samples": samples,
        "cpu_ms_per_job": cpu_ms_per_job,
        "by_owner_ms_per_job": {k: n * scale for k, n in by_owner.most_common()},
        "by_job_ms_per_job": {k: n * scale for k, n in by_job.most_common()},
        "by_job_less_stand_in_ms_per_job": {k: by_job_less_stand_in[k] * scale for k, _ in by_job.most_common()},
        "top_functions_ms_per_job": {k: n * scale for k, n in by_function.most_common(top)},
    }
