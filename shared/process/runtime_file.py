"""`.run/allinone.json`: what a running all-in-one tells the operator CLI about itself.

The all-in-one's Redis is a private one on a random port and its MongoDB may live only in
its memory; without this file `python -m worker ...` next to it would talk to another
Redis (or another, empty, database) and say nothing. The file is written once the
all-in-one's port is bound (a second one on a busy port never touches the first one's),
removed at exit by the process that wrote it, and ignored when that process is gone.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from pydantic import BaseModel, ValidationError

from shared.process.settings import Settings

FILE_NAME = "allinone.json"


class RunningAllInOne(BaseModel):
    pid: int
    url: str
    redis_url: str
    queue_name: str
    in_memory_mongodb: bool
    mongodb_host: str | None = None


def runtime_file(settings: Settings) -> Path:
    return settings.runtime_dir / FILE_NAME


def publish(settings: Settings, info: RunningAllInOne) -> Path:
    path = runtime_file(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Readable by this user only: REDIS_URL may carry a password.
    fd = os.open(path.with_suffix(".tmp"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(info.model_dump_json(indent=2))
    path.with_suffix(".tmp").replace(path)  # atomic: a reader never sees half a file
    return path


def withdraw(settings: Settings, pid: int) -> None:
    """Remove the file if it is still this process's (another all-in-one may have replaced it)."""
    current = _read(runtime_file(settings))
    if current is not None and current.pid == pid:
        runtime_file(settings).unlink(missing_ok=True)


def running_allinone(settings: Settings) -> RunningAllInOne | None:
    info = _read(runtime_file(settings))
    return info if info is not None and _alive(info.pid) else None


def _read(path: Path) -> RunningAllInOne | None:
    try:
        return RunningAllInOne.model_validate(json.loads(path.read_text()))
    except (OSError, ValueError, ValidationError):
        return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
