"""What the all-in-one checks before it starts, and what it tells the operator CLI."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from shared.process.preflight import check_mongodb_reachable, check_redis_reachable, where
from shared.process.runtime_file import RunningAllInOne, publish
from shared.process.settings import Settings

log = logging.getLogger("allinone")


def check_dependencies(settings: Settings) -> None:
    """A MONGODB_URI or REDIS_URL the operator set must answer now, not in a traceback later."""
    check_mongodb_reachable(settings)  # a no-op for memory://
    if "redis_url" in settings.model_fields_set:
        check_redis_reachable(settings)


def publish_for_operators(settings: Settings) -> Path | None:
    """Write `.run/allinone.json` for `python -m worker`; say how to reach this Redis either way."""
    info = RunningAllInOne(
        pid=os.getpid(),
        url=f"http://{settings.host}:{settings.port}",
        redis_url=settings.redis_url,
        queue_name=settings.queue_name,
        in_memory_mongodb=settings.uses_in_memory_mongodb,
        mongodb_host=None if settings.uses_in_memory_mongodb else where(settings.mongodb_uri),
    )
    try:
        path = publish(settings, info)
    except OSError as exc:
        log.warning(
            "could not write %s (%s): run the operator CLI as REDIS_URL=%s python -m worker ...",
            settings.runtime_dir,
            exc,
            settings.redis_url,
        )
        return None
    log.info("operator CLI: python -m worker ... finds this Redis (%s) through %s", settings.redis_url, path)
    return path
