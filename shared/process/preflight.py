"""Checks a process makes before it starts: one line naming the variable, not a traceback.

A standalone service or worker on `memory://` would each hold its own empty database and
answer as if all were well; a MongoDB or Redis that cannot be reached would surface only
as a long traceback. Both are refused here, within a few seconds of start.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from shared.process.settings import Settings, SettingsError

MONGODB_PING_TIMEOUT_SECONDS = 3.0
REDIS_PING_TIMEOUT_SECONDS = 2.0


class StartupError(SettingsError):
    """A dependency named by a setting cannot be used; the message names the setting."""


def where(url: str) -> str:
    """The host part of a URI, without credentials, for messages."""
    parts = urlsplit(url)
    return parts.netloc.rpartition("@")[2] or parts.path or url  # unix:///path: the socket's path


def refuse_in_memory_mongodb(settings: Settings, process: str) -> None:
    if settings.uses_in_memory_mongodb and not settings.allow_in_memory_mongodb:
        raise StartupError(
            f"MONGODB_URI=memory:// (the default) is an in-process stand-in that only works in the all-in-one "
            f"(scripts/run), where service and worker share one process; the {process} alone would keep its own "
            "empty store. Set MONGODB_URI=mongodb://host:27017 (or ALLOW_IN_MEMORY_MONGODB=true for a throwaway test)"
        )


def check_mongodb_reachable(settings: Settings, timeout: float = MONGODB_PING_TIMEOUT_SECONDS) -> None:
    """Blocking ping with a short server-selection timeout (call it before serving)."""
    if settings.uses_in_memory_mongodb:
        return
    from typing import Any

    from pymongo import MongoClient
    from pymongo.errors import PyMongoError

    timeout_ms = int(timeout * 1000)
    client: MongoClient[Any] = MongoClient(settings.mongodb_uri, serverSelectionTimeoutMS=timeout_ms, connectTimeoutMS=timeout_ms)
    try:
        client.admin.command("ping")
    except PyMongoError as exc:
        # pymongo appends its timeouts and whole topology description; the first clause is the cause.
        cause = str(exc).split(", Timeout:")[0].split(" (configured timeouts")[0]
        raise StartupError(
            f"MONGODB_URI: cannot reach MongoDB at {where(settings.mongodb_uri)} within {timeout:g} s: {cause}"
        ) from None
    finally:
        client.close()


def check_redis_reachable(settings: Settings, timeout: float = REDIS_PING_TIMEOUT_SECONDS) -> None:
    import redis

    client = redis.Redis.from_url(settings.redis_url, socket_connect_timeout=timeout, socket_timeout=timeout)
    try:
        client.ping()
    except redis.RedisError as exc:
        raise StartupError(f"REDIS_URL: cannot reach Redis at {where(settings.redis_url)}: {exc}") from None
    finally:
        client.close()
