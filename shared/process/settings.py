"""One settings class for every process, read from the environment and `.env`.

A bad value fails at start: pydantic names the variable, and `load_settings` turns that
into one readable line instead of a traceback.
"""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

IN_MEMORY_MONGODB_URI = "memory://"
# `.run/` under the project: where the all-in-one tells the operator CLI its Redis URL.
DEFAULT_RUNTIME_DIR = Path(__file__).resolve().parent.parent / ".run"


class ModelPrice(BaseModel):
    input_per_mtok: float = Field(ge=0, description="price per million input tokens")
    output_per_mtok: float = Field(ge=0, description="price per million output tokens")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", case_sensitive=False)

    # Storage and queue
    mongodb_uri: str = Field(
        IN_MEMORY_MONGODB_URI,
        description="MongoDB URI; memory:// is the in-process stand-in (mongomock), nothing persists",
    )
    allow_in_memory_mongodb: bool = Field(
        False,
        description="memory:// outside the all-in-one: each process gets its own empty store, so say it on purpose",
    )
    mongodb_db_name: str = Field("coach", min_length=1)
    redis_url: str = Field("redis://127.0.0.1:6379/0", description="Redis that holds the arq queue")
    queue_name: str = Field("arq:queue", min_length=1, description="arq queue name")
    chat_queue_name: str = Field(
        "arq:queue:chat", min_length=1, description="arq queue of chat jobs (generate_reply), drained by chat workers"
    )
    streams_redis_url: str | None = Field(
        None, description="Redis that holds the reply streams (one write per chunk); unset: REDIS_URL"
    )
    stream_ttl_seconds: int = Field(3600, ge=1, description="a finished reply's stream can be replayed this long, then 410")
    stream_max_entries: int = Field(
        20_000, ge=16, description="most events one reply stream keeps (a reply has at most LLM_MAX_TOKENS chunks)"
    )
    user_events_ttl_seconds: int = Field(
        86_400, ge=60, description="a user's event stream (GET /api/v1/events) is kept this long after its last event"
    )
    user_events_max_entries: int = Field(1_000, ge=16, description="most events one user's event stream keeps")
    stream_keepalive_seconds: float = Field(15.0, gt=0, description="an idle reply stream sends a keep-alive comment this often")
    redis_timeout_seconds: float = Field(1.0, gt=0, description="longest a request waits on Redis")
    outbox_relay_interval_seconds: float = Field(5.0, gt=0, description="how often the service replays the outbox")

    # LLM
    llm_provider: Literal["anthropic", "offline"] | None = Field(
        None, description="anthropic when ANTHROPIC_API_KEY is set, else offline"
    )
    anthropic_api_key: SecretStr | None = None
    anthropic_base_url: str | None = None
    llm_model: str = "claude-sonnet-5-5"
    llm_max_tokens: int = Field(1024, ge=64, le=64_000)
    llm_timeout_seconds: float = Field(60.0, gt=0)
    # Models per purpose (unset: LLM_MODEL), so background work can run on a cheaper model.
    chat_model: str | None = Field(None, description="model for chat replies; unset: LLM_MODEL")
    extraction_model: str | None = Field(None, description="model for context extraction; unset: LLM_MODEL")
    summary_model: str | None = Field(None, description="model for summaries; unset: LLM_MODEL")
    reflection_model: str | None = Field(None, description="model for reflections; unset: LLM_MODEL")

    # LLM traffic control (shared/llm/limiter.py): kept in Redis, shared by every process
    llm_requests_per_minute: int = Field(0, ge=0, description="LLM requests per window across all processes; 0 = unlimited")
    llm_tokens_per_minute: int = Field(
        0, ge=0, description="LLM tokens (input + output) per window across all processes; 0 = unlimited"
    )
    llm_rate_window_seconds: float = Field(
        60.0, gt=0, description="the limits' window: 60 for per-minute; tests and benchmarks shorten it to scale time"
    )
    llm_max_concurrency: int = Field(
        500, ge=1, description="LLM calls in flight per process (background: all but LLM_CHAT_RESERVED_SHARE of them)"
    )
    llm_chat_reserved_share: float = Field(
        0.2,
        ge=0,
        lt=1,
        description="share of each limit (and of LLM_MAX_CONCURRENCY) background work may not take: kept for chat",
    )
    llm_max_wait_seconds: float = Field(
        10.0,
        ge=0,
        description="longest an LLM call waits for rate budget in place; a job waiting longer is deferred (the try is not counted)",
    )
    llm_header_slowdown_share: float = Field(
        0.05,
        ge=0,
        lt=1,
        description="provider headers saying less than this share is left pause background calls until the provider's reset",
    )
    llm_prices: dict[str, ModelPrice] | None = Field(
        None,
        description='prices per model, JSON {"model": {"input_per_mtok": 3, "output_per_mtok": 15}} or a path to such a file',
    )
    user_daily_token_budget: int = Field(0, ge=0, description="LLM tokens per user per UTC day; 0 = no budget")
    offline_stream_delay_ms: int = Field(
        40,
        ge=0,
        le=5_000,
        description="the offline coach's pause between words, so its replies stream at a reading pace; 0 = at once",
    )

    # Auth
    jwt_secret: SecretStr | None = Field(None, description="HMAC key for access tokens, >= 32 chars")
    access_token_ttl_seconds: int = Field(86_400, ge=60)
    # argon2id cost; the defaults are argon2-cffi's (RFC 9106 low-memory profile). Lower
    # them only where speed matters more than resistance to cracking: tests, benchmarks.
    password_hash_time_cost: int = Field(3, ge=1)
    password_hash_memory_kib: int = Field(65_536, ge=8)
    # Each argon2 hash holds PASSWORD_HASH_MEMORY_KIB while it runs; this bounds how many
    # run at once (so memory stays bounded: 64 MiB each by default). Logins past it wait.
    password_hash_concurrency: int = Field(
        default_factory=lambda: os.cpu_count() or 1, ge=1, description="argon2 hashes running at once"
    )

    # Chat
    max_message_chars: int = Field(4_000, ge=1)
    chat_history_messages: int = Field(20, ge=0, le=200, description="recent turns sent with each reply")
    idempotency_ttl_seconds: int = Field(
        86_400, ge=60, description="a POST resent with the same Idempotency-Key within this long gets the first answer"
    )

    # Limits (kept in Redis, shared by every service process)
    chat_messages_per_minute: int = Field(
        20, ge=1, description="chat messages per user per minute (token bucket, bursts up to this)"
    )
    max_sockets_per_user: int = Field(5, ge=1, description="open chat sockets per user; the next is closed with 4429")
    ws_idle_seconds: float = Field(
        600.0, gt=0, description="a chat socket with no client frame for this long is closed with 4408"
    )
    ws_lease_seconds: float = Field(30.0, gt=0, description="socket and reply leases in Redis lapse after this unless refreshed")
    limits_refresh_seconds: float = Field(
        2.0,
        gt=0,
        le=60,
        description="how often each process re-reads the limits an admin changed at run time (shared/redis_structures/live_limits.py)",
    )
    login_address_failures_per_minute: int = Field(10, ge=1, description="failed logins per client address per minute, then 429")
    login_account_free_failures: int = Field(5, ge=1, description="failed logins an account allows before backing off")
    login_backoff_base_seconds: float = Field(1.0, gt=0, description="first per-account wait; doubles with each further failure")
    login_backoff_cap_seconds: float = Field(
        60.0, gt=0, description="longest per-account wait: an attacker cannot lock a user out for longer"
    )
    login_failure_memory_seconds: int = Field(
        900, ge=1, description="an (account, address) failure count is forgotten after this long without failures"
    )
    login_account_failures_per_hour: int = Field(
        60,
        ge=1,
        description="failed logins one account takes per hour from all addresses; past it, addresses that failed wait",
    )
    registrations_per_hour_per_address: int = Field(
        20, ge=1, description="accounts one client address may register per hour (token bucket), then 429"
    )
    forwarded_allow_ips: str = Field(
        "",
        description="proxies whose X-Forwarded-For names the client: comma-separated IPs or networks, * for any; "
        "empty: none (the connection's own address counts)",
    )
    metrics_public: bool = Field(False, description="GET /metrics answers anyone; false: admins and METRICS_TOKEN only")
    metrics_token: SecretStr | None = Field(
        None, description="a Bearer token (>= 32 chars) Prometheus sends to read /metrics when METRICS_PUBLIC is false"
    )

    # Memory lifecycle
    summarize_threshold: int = Field(20, ge=2, description="unsummarized contexts that trigger a summary")
    summarize_keep_recent: int = Field(5, ge=0, description="newest contexts left out of a summary")
    memory_decay_rate: float = Field(0.95, gt=0, le=1, description="strength kept per day")
    enable_memory_decay: bool = True
    memory_strength_floor: float = Field(0.1, ge=0, le=1, description="summarized contexts below it are deleted")
    memory_retention_days: int = Field(90, ge=0, description="summarized contexts older than this are pruned; 0 = off")
    memory_ttl_days: int = Field(365, ge=0, description="contexts and summaries expire after this; 0 = never")
    recall_points: int = Field(20, ge=0, le=100, description="memories placed in the coach's prompt, chosen for the message")
    recall_core_points: int = Field(3, ge=0, le=20, description="strongest points every prompt carries, whatever the message")
    recall_token_budget: int = Field(1_500, ge=50, description="most tokens (estimated) the recalled points and summary take")

    # Memory engine: reflections, the entity graph, communities, the recall cache
    reflection_min_new_contexts: int = Field(3, ge=1, description="unreflected contexts that make a user due for a reflection")
    reflection_contexts: int = Field(20, ge=1, le=100, description="newest contexts one reflection reads")
    reflection_batch: int = Field(1_000, ge=1, description="most reflections one hourly run enqueues")
    recall_insights: int = Field(3, ge=0, le=20, description="insights of the newest reflection placed in the coach's prompt")
    entity_match_threshold: float = Field(
        92.0, ge=50, le=100, description="rapidfuzz similarity (0-100) at which two entity names are one"
    )
    community_batch_users: int = Field(200, ge=1, description="users whose graphs the community job reads per query")
    recall_cache_ttl_seconds: int = Field(7 * 86_400, ge=60, description="how long a user's recall index stays in Redis")

    # Optional embeddings for recall (shared/memory/embeddings.py): none by default, nothing downloaded
    embeddings_provider: Literal["none", "http"] = Field(
        "none", description="none, or http: an embeddings API (Voyage AI's shape)"
    )
    embeddings_base_url: str = Field(
        "https://api.voyageai.com/v1", description="the embeddings API's base URL (POST {url}/embeddings)"
    )
    embeddings_api_key: SecretStr | None = Field(None, description="bearer token for the embeddings API")
    embeddings_model: str = Field("voyage-3-lite", description="the embeddings model name sent with each request")
    embeddings_timeout_seconds: float = Field(
        2.0, gt=0, le=60, description="one embeddings call's limit (a reply then ranks lexically)"
    )

    # Sessions that end without logout or socket close (crash, expiry, a phone gone quiet)
    session_idle_minutes: int = Field(30, ge=1, description="a session this long without a message has ended")
    session_sweep_batch: int = Field(500, ge=1, description="most extractions one hourly sweep enqueues")
    session_sweep_lookback_hours: int = Field(48, ge=1, description="the sweep looks at sessions with messages this recent")

    # Worker
    worker_max_jobs: int = Field(500, ge=1, description="jobs in flight per worker process")
    worker_chat_max_jobs: int = Field(
        1_000, ge=1, description="replies in flight per worker process (the chat queue's own slots)"
    )
    job_timeout_seconds: float = Field(120.0, gt=0)
    worker_shutdown_grace_seconds: float = Field(
        30.0, ge=0, description="on SIGTERM, running jobs get this long before they go back to the queue"
    )
    job_max_tries: int = Field(3, ge=1, description="tries per job, first included (the app had 2 retries)")
    retry_base_seconds: float = Field(2.0, gt=0, description="backoff base: try n waits up to base * 2^(n-1)")
    retry_cap_seconds: float = Field(60.0, gt=0, description="longest wait between tries")
    worker_poll_delay_seconds: float = Field(
        0.02, gt=0, description="arq queue poll interval (arq: 0.5); an idle worker waits up to twice this for an enqueue's nudge"
    )
    worker_heartbeat_seconds: float = Field(5.0, gt=0, description="how often each worker publishes its heartbeat")
    worker_metrics_port: int | None = Field(
        None,
        ge=1,
        le=65535,
        description="port of a worker's Prometheus metrics listener; unset: off (the all-in-one's /metrics covers its worker)",
    )
    log_format: Literal["text", "json"] = Field("text", description="log lines as text, or one JSON object a line")
    worker_redis_retry_cap_seconds: float = Field(
        5.0, gt=0, description="longest wait between a worker's reconnection attempts while Redis is away"
    )
    readiness_timeout_seconds: float = Field(2.0, gt=0, description="longest /readyz waits on each dependency")

    # Slow clients: uvicorn has no limit of its own on how long headers may take to arrive.
    http_header_timeout_seconds: float = Field(10.0, gt=0, description="a request's headers must arrive within this")
    http_body_timeout_seconds: float = Field(10.0, gt=0, description="a request's body must arrive within this")

    # All-in-one launcher
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=0, le=65535)
    runtime_dir: Path = Field(DEFAULT_RUNTIME_DIR, description="where the all-in-one writes allinone.json for the CLI")

    @property
    def streams_url(self) -> str:
        return self.streams_redis_url or self.redis_url

    @property
    def job_budget_seconds(self) -> float:
        """The longest a job can take over all its tries: each try's limit plus the wait
        before the next. A reply's lease and its unfinished stream outlive it, and the
        cleanup cron fails a reply still `generating` past it."""
        return self.job_max_tries * (self.job_timeout_seconds + self.retry_cap_seconds)

    @field_validator("forwarded_allow_ips")
    @classmethod
    def _proxies_parse(cls, value: str) -> str:
        entries = [entry.strip() for entry in value.split(",") if entry.strip()]
        for entry in entries:
            if entry == "*":
                continue
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise ValueError(f"{entry!r} is not an IP address or network (e.g. 10.0.0.5, 10.0.0.0/8, or *)") from None
        return ",".join(entries)

    @field_validator(
        "anthropic_api_key",
        "anthropic_base_url",
        "jwt_secret",
        "llm_provider",
        "streams_redis_url",
        "metrics_token",
        mode="before",
    )
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        # compose passes `ANTHROPIC_API_KEY: ${ANTHROPIC_API_KEY:-}` as "" when it is not set.
        return None if value == "" else value

    @field_validator("llm_prices", mode="before")
    @classmethod
    def _prices_from_file(cls, value: object) -> object:
        # JSON in the variable, or the path of a JSON file (easier to keep beside compose.yaml).
        if isinstance(value, str):
            if not value.strip():
                return None
            if not value.lstrip().startswith("{"):
                try:
                    value = Path(value).read_text()
                except OSError as exc:
                    raise ValueError(f"not JSON and not a readable file: {exc}") from None
            import json

            try:
                return json.loads(value)
            except ValueError as exc:
                raise ValueError(f"not JSON: {exc}") from None
        return value

    def model_for(self, purpose: str) -> str:
        """The model each purpose runs on: its own setting, else LLM_MODEL."""
        chosen = {
            "chat": self.chat_model,
            "extraction": self.extraction_model,
            "summary": self.summary_model,
            "reflection": self.reflection_model,
        }.get(purpose)
        return chosen or self.llm_model

    @field_validator("mongodb_uri")
    @classmethod
    def _mongodb_uri_parses(cls, value: str) -> str:
        if value == IN_MEMORY_MONGODB_URI:
            return value
        from pymongo.errors import PyMongoError
        from pymongo.uri_parser import parse_uri

        # mongodb+srv:// would make pymongo resolve DNS here; its syntax is mongodb://'s.
        plain = "mongodb://" + value.removeprefix("mongodb+srv://") if value.startswith("mongodb+srv://") else value
        try:
            parse_uri(plain)
        except (PyMongoError, ValueError) as exc:
            raise ValueError(f"not a MongoDB URI (mongodb://host:27017 or memory:// for the all-in-one): {exc}") from None
        return value

    @field_validator("redis_url", "streams_redis_url")
    @classmethod
    def _redis_url_parses(cls, value: str | None) -> str | None:
        from redis.connection import parse_url

        if value is None:
            return None
        try:
            parse_url(value)  # type: ignore[no-untyped-call]  # redis-py leaves it unannotated
            parts = urlsplit(value)
            parts.port  # noqa: B018 - raises ValueError for a port that is not a number in range
            database = parts.path.strip("/")
            if parts.scheme != "unix" and database and not database.isdigit():
                raise ValueError(f"database {database!r} is not a number")
        except ValueError as exc:
            raise ValueError(f"not a Redis URL (redis://host:6379/0): {exc}") from None
        return value

    @model_validator(mode="after")
    def _choose_provider(self) -> Settings:
        if self.llm_provider is None:
            self.llm_provider = "anthropic" if self.anthropic_api_key else "offline"
        if self.llm_provider == "anthropic" and not self.anthropic_api_key:
            raise ValueError("LLM_PROVIDER=anthropic needs ANTHROPIC_API_KEY")
        if self.summarize_keep_recent >= self.summarize_threshold:
            raise ValueError("SUMMARIZE_KEEP_RECENT must be below SUMMARIZE_THRESHOLD")
        if self.session_sweep_lookback_hours * 60 <= self.session_idle_minutes:
            raise ValueError("SESSION_SWEEP_LOOKBACK_HOURS must span more than SESSION_IDLE_MINUTES")
        if self.jwt_secret is not None and len(self.jwt_secret.get_secret_value()) < 32:
            raise ValueError("JWT_SECRET must be at least 32 characters")
        if self.metrics_token is not None and len(self.metrics_token.get_secret_value()) < 32:
            raise ValueError("METRICS_TOKEN must be at least 32 characters")
        return self

    @property
    def uses_in_memory_mongodb(self) -> bool:
        return self.mongodb_uri == IN_MEMORY_MONGODB_URI


class SettingsError(SystemExit):
    """Raised at start when the environment holds a bad value; the message names it."""


def load_settings(**overrides: object) -> Settings:
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            field = ".".join(str(part) for part in err["loc"]) or "settings"
            problems.append(f"{field.upper()}: {err['msg'].removeprefix('Value error, ')}")
        raise SettingsError("invalid configuration: " + "; ".join(problems)) from None
