"""Which Redis and MongoDB an operator command reaches, and saying so when it is not the
running product's.

With REDIS_URL unset the CLI uses the Redis of the all-in-one running from this project
(`.run/allinone.json`). Dead letters live in MongoDB; the all-in-one's in-memory one
cannot be read from another process, and `memory://` here would be an empty store of the
CLI's own, so both are refused with what to do instead.
"""

from __future__ import annotations

import sys

from shared.process.preflight import where
from shared.process.runtime_file import RunningAllInOne, running_allinone, runtime_file
from shared.process.settings import Settings, SettingsError


class WrongStore(SettingsError):
    """The command would read a store other than the running product's."""


def note(message: str) -> None:
    print(message, file=sys.stderr)


def queue_settings(settings: Settings) -> Settings:
    """Settings whose REDIS_URL and QUEUE_NAME are the running all-in-one's unless set. Unless
    REDIS_URL names one (every error then names it too), it says which Redis it chose: a
    silent default would be a queue no worker reads."""
    running = running_allinone(settings)
    if running is None:
        if "redis_url" not in settings.model_fields_set:
            note(
                f"REDIS_URL not set and no all-in-one running here ({runtime_file(settings)}): "
                f"using the default Redis at {where(settings.redis_url)}"
            )
        return settings
    if "redis_url" in settings.model_fields_set:
        if settings.redis_url != running.redis_url:
            note(
                f"note: REDIS_URL ({where(settings.redis_url)}) is not the Redis of the all-in-one running here "
                f"(pid {running.pid}, {where(running.redis_url)}); unset REDIS_URL to reach that one"
            )
        return settings
    note(
        f"REDIS_URL not set: using the running all-in-one's Redis {running.redis_url} (pid {running.pid}, {runtime_file(settings)})"
    )
    update: dict[str, object] = {"redis_url": running.redis_url}
    if "queue_name" not in settings.model_fields_set:
        update["queue_name"] = running.queue_name
    return settings.model_copy(update=update)


def refuse_unreadable_dead_letters(settings: Settings) -> None:
    if not settings.uses_in_memory_mongodb:
        return
    running: RunningAllInOne | None = running_allinone(settings)
    if running is not None and running.in_memory_mongodb:
        raise WrongStore(
            f"the running all-in-one (pid {running.pid}) keeps its dead letters in its in-memory MongoDB, which no other "
            f"process can read: use GET {running.url}/api/v1/admin/failed-jobs as an admin (`scripts/run --admin EMAIL` grants the role), "
            "or run the all-in-one with MONGODB_URI set"
        )
    if running is not None:
        raise WrongStore(f"MONGODB_URI is not set: set it to the running all-in-one's MongoDB ({running.mongodb_host})")
    raise WrongStore(
        "MONGODB_URI is memory:// (the default), an empty store of this command's own: "
        "set MONGODB_URI to the MongoDB your workers use"
    )
