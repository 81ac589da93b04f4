"""`scripts/run`'s arguments reach the all-in-one, never `scripts/bootstrap.sh`.

The scripts run from a copy of the project with a stand-in `.venv/bin/python` that records
how it was called, so neither pip nor apt-get nor the product runs.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def executable(path: Path, text: str) -> None:
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


def test_run_hands_admin_to_the_allinone_not_to_bootstrap(tmp_path: Path) -> None:
    (tmp_path / "scripts").mkdir()
    for name in ("run", "bootstrap.sh"):
        shutil.copy2(ROOT / "scripts" / name, tmp_path / "scripts" / name)
    shutil.copy2(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    calls = tmp_path / "calls.txt"
    (tmp_path / ".venv" / "bin").mkdir(parents=True)
    executable(tmp_path / ".venv" / "bin" / "python", f'#!/bin/sh\necho "$*" >> {calls}\n')
    # Stand-ins for the Debian packages the test extras would ask apt-get for.
    tools = tmp_path / "tools"
    tools.mkdir()
    for name in ("redis-server", "wrk", "chromium"):
        executable(tools / name, "#!/bin/sh\n")
    env = {**os.environ, "PATH": f"{tools}:{os.environ['PATH']}"}
    env.pop("REDIS_URL", None)

    done = subprocess.run(
        ["bash", str(tmp_path / "scripts" / "run"), "--admin", "you@example.com"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert done.returncode == 0, done.stderr
    lines = calls.read_text().splitlines()
    assert not any("--admin" in line for line in lines if "pip" in line), lines
    assert lines[-1] == "-m allinone --admin you@example.com"
    assert sorted(p.name for p in (tmp_path / ".venv").glob(".installed*")) == [".installed"]
