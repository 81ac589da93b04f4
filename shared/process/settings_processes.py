"""The settings of how each process runs: the worker's slots, time limits, retries and
heartbeats, and how HTTP is served. Part of `Settings` (settings.py), beside the groups in
settings_groups.py."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

# `.run/` under the project: where the all-in-one tells the operator CLI its Redis URL.
DEFAULT_RUNTIME_DIR = Path(__file__).resolve().parents[2] / ".run"


class WorkerProcessSettings(BaseModel):
    """The worker process: slots, time limits, retries, heartbeats, logs and readiness."""

    worker_max_jobs: int = Field(
        500, ge=1, description="background jobs in flight per worker process (they wait on I/O, not CPU)"
    )
    worker_chat_max_jobs: int = Field(
        1_000,
        ge=1,
        description="replies in flight per worker process (the chat queue's own slots; a reply spends its life awaiting the LLM)",
    )
    job_timeout_seconds: float = Field(
        120.0,
        gt=0,
        description="one try's time limit (one LLM call plus its reads and writes); past it the job is retried",
    )
    worker_shutdown_grace_seconds: float = Field(
        30.0, ge=0, description="on SIGTERM, running jobs get this long, then go back to the queue"
    )
    job_max_tries: int = Field(3, ge=1, description="tries per job, first included; then a dead letter (see docs/reliability.md)")
    retry_base_seconds: float = Field(
        2.0, gt=0, description="backoff between tries, exponential with full jitter: try n waits up to base × 2^(n-1)"
    )
    retry_cap_seconds: float = Field(60.0, gt=0, description="longest wait between tries")
    worker_poll_delay_seconds: float = Field(
        0.02,
        gt=0,
        description="how often a busy worker polls Redis for jobs (arq's default 0.5 s would add ~250 ms to every pickup); "
        "an idle one waits up to twice this for an enqueue's nudge",
    )
    worker_heartbeat_seconds: float = Field(
        5.0,
        gt=0,
        description="how often each worker publishes its heartbeat; stale after 3 missed beats (`/readyz` then "
        "stops counting it), gone after 12",
    )
    worker_metrics_port: int | None = Field(
        None,
        ge=1,
        le=65535,
        description="a standalone worker serves its Prometheus metrics on this port at `/metrics`, on `HOST`; "
        "unset: off (the all-in-one's `/metrics` covers its worker)",
    )
    log_format: Literal["text", "json"] = Field(
        "text",
        description="`text`: `time LEVEL logger: message`; `json`: one JSON object a line with `time`, `level`, "
        "`logger`, `message` and, where known, `job_id`, `function`, `user_id`, `session_id`, `duration`. "
        "Tokens are redacted in both",
    )
    worker_redis_retry_cap_seconds: float = Field(
        5.0,
        gt=0,
        description="longest wait between a worker's reconnection attempts while Redis is away (starts at 0.1 s, "
        "doubles); also how late it may notice Redis is back",
    )
    readiness_timeout_seconds: float = Field(
        2.0, gt=0, description="longest `/readyz` waits on each of MongoDB, Redis and the heartbeat read"
    )


class ServingSettings(BaseModel):
    """Serving HTTP: slow clients, and where the all-in-one listens."""

    http_header_timeout_seconds: float = Field(
        10.0,
        gt=0,
        description="a request's headers must arrive within this, else 408 and close (needs uvicorn's "
        "`--http service.header_timeout:HttpProtocol`; the all-in-one uses it)",
    )
    http_body_timeout_seconds: float = Field(
        10.0, gt=0, description="a request's body must arrive within this after its headers, else 408 and close"
    )
    http_max_header_line_bytes: int = Field(
        16_384,
        ge=1_024,
        description="longest request line or header line, in bytes; longer: 431 and the connection closed (the header "
        "protocol, as for HTTP_HEADER_TIMEOUT_SECONDS)",
    )
    http_max_header_bytes: int = Field(
        65_536, ge=4_096, description="most bytes of a request's head (request line and headers); more: 431"
    )
    max_open_connections: int = Field(
        0,
        ge=0,
        description="requests and sockets open at once per service process, then 503; 0: half the open-file limit (ulimit -n)",
    )

    @property
    def open_connection_limit(self) -> int:
        """MAX_OPEN_CONNECTIONS, or half the open-file limit: each open request or socket
        holds a descriptor, and the rest are left for Redis, MongoDB, logs and accept()."""
        if self.max_open_connections:
            return self.max_open_connections
        import resource

        soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
        return max(64, (soft if soft != resource.RLIM_INFINITY else 1_048_576) // 2)

    # All-in-one launcher
    host: str = Field(
        "127.0.0.1",
        description="where the all-in-one listens; also the address of a worker's metrics listener (compose sets "
        "`0.0.0.0` for the workers)",
    )
    port: int = Field(8000, ge=0, le=65535, description="the all-in-one's port")
    runtime_dir: Path = Field(
        DEFAULT_RUNTIME_DIR,
        description="where the all-in-one writes `allinone.json` (its Redis URL, pid, whether MongoDB is in memory) "
        "for the operator CLI",
        json_schema_extra={"shown_default": "`.run/` in the project"},
    )
