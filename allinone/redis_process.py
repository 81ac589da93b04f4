"""A throwaway `redis-server` on a free loopback port, stopped by its pid."""

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

log = logging.getLogger("allinone")


def _die_with_parent() -> None:
    """Linux: the kernel sends SIGTERM to the child when its parent dies, even by SIGKILL."""
    if sys.platform.startswith("linux"):
        PR_SET_PDEATHSIG = 1
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class RedisProcess:
    def __init__(self, port: int | None = None, *, append_only: bool = False) -> None:
        """`append_only`: write every command to an append-only file (fsync each), so the
        data survives a stop and start on the same port (compose's Redis does the same)."""
        self.port = port or free_port()
        self.append_only = append_only
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None
        self._stopping = False
        self._dir = tempfile.TemporaryDirectory(prefix="coach-redis-")

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
                *(("--appendonly", "yes", "--appendfsync", "always") if self.append_only else ("--appendonly", "no")),
                "--dir",
                self._dir.name,
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
        again on the same port, empty, and the process's Redis clients reconnect to it as
        after any outage. If it cannot start, this process is sent SIGTERM: it stops
        rather than serve without Redis."""

        def watch() -> None:
            while (process := self.process) is not None:
                code = process.wait()
                if self._stopping or self.process is not process:
                    return
                log.error(
                    "the private redis-server (pid %s) exited with code %s; starting it again on port %s, empty",
                    process.pid,
                    code,
                    self.port,
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
        self._dir.cleanup()
