"""One settings class for every process, read from the environment and `.env`.

A bad value fails at start: pydantic names the variable, and `load_settings` turns that
into one readable line instead of a traceback.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

from pydantic import BaseModel, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.process.settings_groups import (
    IN_MEMORY_MONGODB_URI,
    AuthSettings,
    ChatSettings,
    LLMSettings,
    LLMTrafficSettings,
    MemorySettings,
    ModelPrice,
    StorageSettings,
)
from shared.process.settings_processes import DEFAULT_RUNTIME_DIR, ServingSettings, WorkerProcessSettings

__all__ = ["DEFAULT_RUNTIME_DIR", "IN_MEMORY_MONGODB_URI", "SETTING_GROUPS", "ModelPrice", "Settings", "SettingsError"]


class Settings(
    StorageSettings,
    LLMSettings,
    LLMTrafficSettings,
    AuthSettings,
    ChatSettings,
    MemorySettings,
    WorkerProcessSettings,
    ServingSettings,
    BaseSettings,
):
    """Every setting of every process, read from the environment and `.env`; the fields are in
    settings_groups.py, one class per concern."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", case_sensitive=False)

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
        if self.http_max_header_bytes < self.http_max_header_line_bytes:
            raise ValueError("HTTP_MAX_HEADER_BYTES must be at least HTTP_MAX_HEADER_LINE_BYTES")
        if self.jwt_secret is not None and len(self.jwt_secret.get_secret_value()) < 32:
            raise ValueError("JWT_SECRET must be at least 32 characters")
        if self.metrics_token is not None and len(self.metrics_token.get_secret_value()) < 32:
            raise ValueError("METRICS_TOKEN must be at least 32 characters")
        return self

    @property
    def uses_in_memory_mongodb(self) -> bool:
        return self.mongodb_uri == IN_MEMORY_MONGODB_URI


# The groups, in the order docs/configuration.md shows them: the bases of Settings.
SETTING_GROUPS: tuple[type[BaseModel], ...] = tuple(base for base in Settings.__bases__ if base is not BaseSettings)


class SettingsError(Exception):
    """Raised at start when the environment holds a bad value; the message names it.

    An exception like any other inside library code (a caller may catch it, a test may
    expect it); only the entry points turn it into exit 1 with its one line, through
    `exit_on_settings_error`."""


@contextmanager
def exit_on_settings_error() -> Iterator[None]:
    """For entry points only (`python -m worker`, `python -m allinone`, the uvicorn factory,
    arq's settings module): a SettingsError ends the process with exit 1 and its message on
    stderr, not a traceback."""
    try:
        yield
    except SettingsError as exc:
        raise SystemExit(str(exc)) from None


def load_settings(**overrides: object) -> Settings:
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            field = ".".join(str(part) for part in err["loc"]) or "settings"
            problems.append(f"{field.upper()}: {err['msg'].removeprefix('Value error, ')}")
        raise SettingsError("invalid configuration: " + "; ".join(problems)) from None
