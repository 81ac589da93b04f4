"""The settings' fields, grouped by concern: `Settings` (settings.py) is all of them (the
worker's and the server's groups are in settings_processes.py).

One class per group, each field with its default and a description: docs/configuration.md
is generated from these (shared/process/settings_doc.py), one section per group, so the
page cannot drift from the code. Validation across fields lives in `Settings`.
"""

from __future__ import annotations

import os
from typing import Literal

from pydantic import BaseModel, Field, SecretStr

IN_MEMORY_MONGODB_URI = "memory://"


class ModelPrice(BaseModel):
    input_per_mtok: float = Field(ge=0, description="price per million input tokens")
    output_per_mtok: float = Field(ge=0, description="price per million output tokens")


class StorageSettings(BaseModel):
    """Storage and queue: MongoDB, Redis, the queues, the reply streams."""

    mongodb_uri: str = Field(
        IN_MEMORY_MONGODB_URI,
        description="MongoDB URI. `memory://` is the in-process stand-in (mongomock; nothing survives a restart), "
        "for the all-in-one only: a standalone service or worker refuses it. Checked at start: malformed or "
        "unreachable stops the process with one line",
    )
    allow_in_memory_mongodb: bool = Field(
        False,
        description="`true` lets a standalone service or worker run on `memory://`, each with an empty store of its "
        "own (tests, benchmarks)",
    )
    mongodb_db_name: str = Field("coach", min_length=1, description="database name")
    redis_url: str = Field(
        "redis://127.0.0.1:6379/0",
        description="Redis holding the arq queue. Unset, the all-in-one starts its own, and the operator CLI uses "
        "the running all-in-one's. Checked at start by the worker and the CLI",
    )
    queue_name: str = Field("arq:queue", min_length=1, description="arq queue of background jobs")
    chat_queue_name: str = Field(
        "arq:queue:chat",
        min_length=1,
        description="arq queue of chat jobs (`generate_reply`), drained by every worker process beside `QUEUE_NAME` "
        "(or by `python -m worker run --chat` alone)",
    )
    streams_redis_url: str | None = Field(
        None,
        description="Redis holding the reply streams (one write per chunk): give it its own Redis when chat traffic "
        "would crowd the job queue. Unset: `REDIS_URL`",
    )
    stream_ttl_seconds: int = Field(
        3600,
        ge=1,
        description="a finished reply's stream can be replayed this long; then the stream endpoint answers 410 "
        "(the message stays in `/chat/messages`)",
    )
    stream_max_entries: int = Field(
        20_000,
        ge=16,
        description="most events one reply stream keeps (`XADD MAXLEN ~`); a reply has at most `LLM_MAX_TOKENS` chunks",
    )
    stream_keepalive_seconds: float = Field(
        15.0, gt=0, description="an idle SSE stream sends a `: keep-alive` comment this often"
    )
    redis_timeout_seconds: float = Field(
        1.0,
        gt=0,
        description="longest one Redis call of a request waits; past it a logout's enqueue goes to the outbox and a "
        "chat message is refused `unavailable`",
    )
    outbox_relay_interval_seconds: float = Field(
        5.0, gt=0, description="how often the service replays enqueues that could not reach Redis"
    )


class LLMSettings(BaseModel):
    """The LLM: provider, models, limits of one call."""

    llm_provider: Literal["anthropic", "offline"] | None = Field(
        None,
        description="`anthropic` or `offline` (a deterministic rule-based stand-in, labeled as such); unset: "
        "`anthropic` when `ANTHROPIC_API_KEY` is set, else `offline`",
    )
    anthropic_api_key: SecretStr | None = Field(None, description="Anthropic API key")
    anthropic_base_url: str | None = Field(
        None, description="Messages API base URL (tests point it at the stub); unset: the SDK's"
    )
    llm_model: str = Field("claude-sonnet-5-5", description="model of every purpose whose own setting (below) is unset")
    llm_max_tokens: int = Field(1024, ge=64, le=64_000, description="max tokens per LLM answer")
    llm_timeout_seconds: float = Field(60.0, gt=0, description="timeout of one LLM call")
    # Models per purpose (unset: LLM_MODEL), so background work can run on a cheaper model.
    chat_model: str | None = Field(None, description="model for chat replies; unset: `LLM_MODEL`")
    extraction_model: str | None = Field(None, description="model for context extraction; unset: `LLM_MODEL`")
    summary_model: str | None = Field(None, description="model for summaries; unset: `LLM_MODEL`")
    reflection_model: str | None = Field(None, description="model for reflections; unset: `LLM_MODEL`")
    offline_stream_delay_ms: int = Field(
        40,
        ge=0,
        le=5_000,
        description="the offline coach's pause between words, so its replies stream at a reading pace; 0 = at once",
    )


class LLMTrafficSettings(BaseModel):
    """LLM traffic control (shared/llm/limiter.py): kept in Redis, shared by every process; prices and budgets."""

    llm_requests_per_minute: int = Field(
        0, ge=0, description="LLM requests per window across every worker and service process (Redis); 0 = unlimited"
    )
    llm_tokens_per_minute: int = Field(
        0,
        ge=0,
        description="LLM tokens (input + output; estimated at admission, corrected with the real usage after) per "
        "window across all processes; 0 = unlimited",
    )
    llm_rate_window_seconds: float = Field(
        60.0, gt=0, description="the window of the two limits above (shorter in tests and benchmarks, to scale time)"
    )
    llm_max_concurrency: int = Field(
        500,
        ge=1,
        description="LLM calls in flight per process (background work: all but `LLM_CHAT_RESERVED_SHARE` of them, "
        "so 400 by default)",
    )
    llm_chat_reserved_share: float = Field(
        0.2,
        ge=0,
        lt=1,
        description="share of each limit, and of `LLM_MAX_CONCURRENCY`, that background work may not take: kept for chat",
    )
    llm_max_wait_seconds: float = Field(
        10.0,
        ge=0,
        description="longest a call waits in place for rate budget; a job past it is deferred without using a try, "
        "a chat reply gets `llm_unavailable`",
    )
    llm_header_slowdown_share: float = Field(
        0.05,
        ge=0,
        lt=1,
        description="when the provider's `anthropic-ratelimit-*-remaining` is below this share of its limit, "
        "background calls pause until its reset (`retry-after` on a 429/529 pauses every call)",
    )
    llm_prices: dict[str, ModelPrice] | None = Field(
        None,
        description='prices per model for cost totals: JSON `{"model": {"input_per_mtok": 3, "output_per_mtok": 15}}` '
        "or the path of a file holding it",
    )
    user_daily_token_budget: int = Field(
        0,
        ge=0,
        description="LLM tokens per user per UTC day; past it chat answers `budget_exhausted` and the user's "
        "background jobs wait for the next day; 0 = off",
    )


class AuthSettings(BaseModel):
    """Accounts and sign-in: tokens and password hashing."""

    jwt_secret: SecretStr | None = Field(
        None,
        description="HMAC key for access tokens, 32+ characters; required by the service (the all-in-one makes a random one)",
    )
    access_token_ttl_seconds: int = Field(86_400, ge=60, description="lifetime of a login session and its token")
    # argon2id cost; the defaults are argon2-cffi's (RFC 9106 low-memory profile). Lower
    # them only where speed matters more than resistance to cracking: tests, benchmarks.
    password_hash_time_cost: int = Field(3, ge=1, description="argon2id time cost (argon2-cffi's default); lower only for tests")
    password_hash_memory_kib: int = Field(
        65_536, ge=8, description="argon2id memory cost in KiB (argon2-cffi's default); lower only for tests"
    )
    # Each argon2 hash holds PASSWORD_HASH_MEMORY_KIB while it runs; this bounds how many
    # run at once (so memory stays bounded: 64 MiB each by default). Logins past it wait.
    password_hash_concurrency: int = Field(
        default_factory=lambda: os.cpu_count() or 1,
        ge=1,
        description="argon2 hashes running at once (each holds `PASSWORD_HASH_MEMORY_KIB`); further logins wait",
        json_schema_extra={"shown_default": "number of cores"},
    )


class ChatSettings(BaseModel):
    """The chat, and the limits against abuse: chat, sockets, logins, registrations, /metrics (kept in Redis, shared by every service process)."""

    max_message_chars: int = Field(4_000, ge=1, description="longest chat message accepted")
    chat_history_messages: int = Field(20, ge=0, le=200, description="recent turns sent to the LLM with each reply")
    user_events_ttl_seconds: int = Field(
        86_400, ge=60, description="a user's event stream (GET /api/v1/events) is kept this long after its last event"
    )
    user_events_max_entries: int = Field(1_000, ge=16, description="most events one user's event stream keeps")
    idempotency_ttl_seconds: int = Field(
        86_400, ge=60, description="a POST resent with the same Idempotency-Key within this long gets the first answer"
    )

    # Limits (kept in Redis, shared by every service process)
    chat_messages_per_minute: int = Field(
        20,
        ge=1,
        description="chat messages per user per minute, all sockets and service processes together (token bucket: "
        "bursts up to this many); every message sent counts, answered or refused as `busy`",
    )
    max_sockets_per_user: int = Field(
        5, ge=1, description="open chat sockets per user across all service processes; the next is closed with 4429"
    )
    max_streams_per_user: int = Field(
        20, ge=1, description="reply streams (SSE) one user may hold open, across processes; the next is answered 429"
    )
    max_streams_per_session: int = Field(
        10, ge=1, description="reply streams (SSE) one session (one sign-in, one device) may hold open; the next is 429"
    )
    ws_frames_per_minute_per_socket: int = Field(
        60, ge=1, description="frames of any kind one chat socket may send a minute (bursts up to this); past it rate_limited"
    )
    ws_frames_per_minute_per_user: int = Field(
        150, ge=1, description="frames of any kind one user's sockets may send a minute, across processes"
    )
    ws_send_timeout_seconds: float = Field(
        10.0, gt=0, description="a chat socket whose client reads nothing for this long while a frame waits is closed"
    )
    ws_idle_seconds: float = Field(
        600.0,
        gt=0,
        description="a chat socket with no frame from the client for this long (and no reply being written) is closed with 4408",
    )
    ws_lease_seconds: float = Field(
        30.0,
        gt=0,
        description="each open socket and each reply in flight holds a lease in Redis, refreshed every third of this; "
        "a process that dies frees its places within this long",
    )
    limits_refresh_seconds: float = Field(
        2.0,
        gt=0,
        le=60,
        description="how often each process re-reads the limits an admin changed at run time "
        "(shared/redis_structures/live_limits.py)",
    )
    login_address_failures_per_minute: int = Field(
        10, ge=1, description="failed logins per client address per minute (only failures take tokens); then 429"
    )
    login_account_free_failures: int = Field(5, ge=1, description="failed logins an account allows before it backs off")
    login_backoff_base_seconds: float = Field(
        1.0, gt=0, description="then each attempt on the account waits base × 2^(failures − free); a success resets the count"
    )
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


class MemorySettings(BaseModel):
    """The memory: its lifecycle, the memory engine, and the sweep of sessions that ended unseen."""

    summarize_threshold: int = Field(
        20, ge=2, description="unsummarized contexts that make an extraction enqueue `summarize_sessions`"
    )
    summarize_keep_recent: int = Field(
        5, ge=0, description="newest contexts a summary leaves out (must be below `SUMMARIZE_THRESHOLD`)"
    )
    memory_decay_rate: float = Field(0.95, gt=0, le=1, description="strength kept per day: strength × rate^days")
    enable_memory_decay: bool = Field(True, description="`false` turns the `decay_memories` cron into a no-op")
    memory_strength_floor: float = Field(
        0.1, ge=0, le=1, description="summarized contexts whose strength falls below it are deleted by decay"
    )
    memory_retention_days: int = Field(
        90, ge=0, description="`prune_memories` deletes summarized contexts older than this; 0 turns it off"
    )
    memory_ttl_days: int = Field(365, ge=0, description="contexts and summaries get `expires_at` this far ahead; 0 = never")
    recall_points: int = Field(
        20, ge=0, le=100, description="memories put in the coach's prompt, chosen for the message (ranked for relevance)"
    )
    recall_core_points: int = Field(3, ge=0, le=20, description="strongest points every prompt carries, whatever the message")
    recall_token_budget: int = Field(
        1_500, ge=50, description="most tokens (estimated) the recalled points and summary take in the prompt"
    )

    # Memory engine: reflections, the entity graph, communities, the recall cache
    reflection_min_new_contexts: int = Field(
        3,
        ge=1,
        description="contexts no reflection has read yet that make a user due for the hourly `generate_reflections`",
    )
    reflection_contexts: int = Field(20, ge=1, le=100, description="newest contexts one reflection reads (and may cite)")
    reflection_batch: int = Field(1_000, ge=1, description="most reflections one hourly run enqueues")
    recall_insights: int = Field(3, ge=0, le=20, description="insights of the user's newest reflection put in the coach's prompt")
    entity_match_threshold: float = Field(
        92.0,
        ge=50,
        le=100,
        description="rapidfuzz similarity (0-100) of two normalized entity names at which they are one entity",
    )
    community_batch_users: int = Field(200, ge=1, description="users whose entity graphs `detect_communities` reads per query")
    recall_cache_ttl_seconds: int = Field(
        7 * 86_400,
        ge=60,
        description="how long an unused recall index of a user stays in Redis (a miss ranks from MongoDB and queues a rebuild)",
    )

    # Optional embeddings for recall (shared/memory/embeddings.py): none by default, nothing downloaded
    embeddings_provider: Literal["none", "http"] = Field(
        "none", description="`none`, or `http`: an embeddings API (Voyage AI's shape) that recall ranks with too"
    )
    embeddings_base_url: str = Field(
        "https://api.voyageai.com/v1", description="the embeddings API's base URL (POST {url}/embeddings)"
    )
    embeddings_api_key: SecretStr | None = Field(None, description="bearer token for the embeddings API")
    embeddings_model: str = Field("voyage-3-lite", description="the embeddings model name sent with each request")
    embeddings_timeout_seconds: float = Field(
        2.0, gt=0, le=60, description="one embeddings call's limit (past it a reply ranks lexically)"
    )

    # Sessions that end without logout or socket close (crash, expiry, a phone gone quiet)
    session_idle_minutes: int = Field(
        30,
        ge=1,
        description="a session with no message for this long has ended: `sweep_sessions` extracts it if nothing "
        "covers its messages yet",
    )
    session_sweep_batch: int = Field(
        500, ge=1, description="most extractions one `sweep_sessions` run enqueues (oldest first; the rest wait an hour)"
    )
    session_sweep_lookback_hours: int = Field(
        48,
        ge=1,
        description="`sweep_sessions` looks at sessions with messages this recent (must span more than the idle window)",
    )
