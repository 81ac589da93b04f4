"""A throwaway `redis-server` on a free loopback port, stopped by its pid.

The all-in-one's own (`RedisProcess.for_allinone`) keeps an append-only file in the runtime
folder, flushed every second: if redis-server alone dies, the watcher starts it again on the
same port and it reloads the file, so the queue (jobs waiting for a retry, deferred jobs,
reply streams) survives with at most the last second lost. The file lives as long as the
all-in-one: it goes with the in-memory database, which dies with the process."""

from __future__ import annotations

import ctypes
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Literal

log = logging.getLogger("allinone")


def _die_with_parent() -> None:
    """Linux: the kernel sends SIGTERM to the child when its parent dies, even by SIGKILL."""
    if sys.platform.startswith("linux"):
        PR_SET_PDEATHSIG = 1
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def _remove_folders_of_dead_runs(runtime_dir: Path) -> None:
    """A killed all-in-one leaves its folder behind; its data went with its database."""
    for folder in runtime_dir.glob("redis-*"):
        pid = folder.name.removeprefix("redis-")
        if not pid.isdigit():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            shutil.rmtree(folder, ignore_errors=True)
        except PermissionError:
            pass  # alive, someone else's


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class RedisProcess:
    def __init__(
        self,
        port: int | None = None,
        *,
        append_only: bool = False,
        fsync: Literal["always", "everysec"] = "always",
        data_dir: Path | None = None,
    ) -> None:
        """`append_only`: write every command to an append-only file (`fsync`: on each, or
        once a second), so the data survives a stop or a crash and a start on the same port
        (compose's Redis does the same). `data_dir`: where (emptied first, removed at exit);
        unset, a temporary folder."""
        self.port = port or free_port()
        self.append_only = append_only
        self.fsync = fsync
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None
        self._stopping = False
        self._temporary: tempfile.TemporaryDirectory[str] | None = None
        if data_dir is None:
            self._temporary = tempfile.TemporaryDirectory(prefix="coach-redis-")
            self.data_dir = Path(self._temporary.name)
        else:
            shutil.rmtree(data_dir, ignore_errors=True)  # a former run's: its database is gone
            data_dir.mkdir(parents=True)
            self.data_dir = data_dir

    @classmethod
    def for_allinone(cls, runtime_dir: Path) -> RedisProcess:
        """The all-in-one's private server: an append-only file in its runtime folder, fsync
        every second, one folder per all-in-one process."""
        folder = runtime_dir / f"redis-{os.getpid()}"
        _remove_folders_of_dead_runs(runtime_dir)
        try:
            return cls(append_only=True, fsync="everysec", data_dir=folder)
        except OSError as exc:
            log.warning("cannot write %s (%s): the private Redis keeps its append-only file in a temporary folder", folder, exc)
            return cls(append_only=True, fsync="everysec")

    def start(self, timeout: float = 10.0) -> RedisProcess:
        self._stopping = False
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server not found: install it (apt-get install redis-server) or set REDIS_URL")
        self.process = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                *(("--appendonly", "yes", "--appendfsync", self.fsync) if self.append_only else ("--appendonly", "no")),
                "--dir",
                str(self.data_dir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=_die_with_parent,
            # Its own session: Ctrl-C in a terminal signals the whole foreground process
            # group, and redis-server must outlive the service and worker it serves while
            # they shut down; `stop` ends it by pid afterwards.
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"redis-server exited with code {self.process.returncode}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as sock:
                    sock.sendall(b"PING\r\n")
                    if sock.recv(16).startswith(b"+PONG"):
                        return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"redis-server did not answer on port {self.port} within {timeout}s")

    def restart_when_it_dies(self) -> None:
        """Watch the server from a thread: one that dies (OOM, killed by hand) is started
        again on the same port (with what its append-only file holds, if it keeps one), and
        the process's Redis clients reconnect to it as after any outage. If it cannot start,
        this process is sent SIGTERM: it stops rather than serve without Redis."""

        def watch() -> None:
            while (process := self.process) is not None:
                code = process.wait()
                if self._stopping or self.process is not process:
                    return
                log.error(
                    "the private redis-server (pid %s) exited with code %s; starting it again on port %s%s",
                    process.pid,
                    code,
                    self.port,
                    f", from its append-only file in {self.data_dir}" if self.append_only else ", empty",
                )
                try:
                    self.start()
                except RuntimeError:
                    log.exception("the private redis-server could not be started again; stopping")
                    os.kill(os.getpid(), signal.SIGTERM)
                    return
                assert self.process is not None
                log.warning("private redis-server back on %s (pid %s)", self.url, self.process.pid)

        threading.Thread(target=watch, name="redis-watch", daemon=True).start()

    def stop(self) -> None:
        self._stopping = True
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def __enter__(self) -> RedisProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
        if self._temporary is not None:
            self._temporary.cleanup()
        else:
            shutil.rmtree(self.data_dir, ignore_errors=True)
