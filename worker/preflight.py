"""What a standalone worker checks before arq connects: the arq CLI would otherwise answer a
bad REDIS_URL or MONGODB_URI with a long traceback, or (memory://) run against an empty
store of its own and report every extraction as `insufficient_messages`.

`worker.settings` (what `arq worker.settings.WorkerSettings` imports) runs this; any other
entry point that builds a worker from the environment should too. `resources.startup`
repeats the MongoDB part for workers started any other way.
"""

from __future__ import annotations

from shared.process.preflight import (
    check_mongodb_reachable,
    check_redis_reachable,
    refuse_in_memory_mongodb,
)
from shared.process.settings import Settings


def check_worker_can_start(settings: Settings) -> None:
    refuse_in_memory_mongodb(settings, "worker")
    check_redis_reachable(settings)
    check_mongodb_reachable(settings)
