"""What "Redis is unavailable" means, said once for every process.

Redis gone or restarting (a ConnectionError; BusyLoadingError is one), silent past a
timeout (redis-py's TimeoutError, or asyncio's from an `asyncio.timeout` around a call),
failing over (a replica that answers READONLY until it is promoted), or out of memory
(OOM refuses writes until memory is freed). Each is an outage that passes: a request fails
open or refuses with 503, an enqueue goes to the outbox, a worker waits and reconnects.

Anything else Redis answers (WRONGTYPE, a script error, a bad argument) is a bug or a
misconfiguration, not an outage: it is raised, so it is seen.
"""

from __future__ import annotations

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import OutOfMemoryError, ReadOnlyError
from redis.exceptions import TimeoutError as RedisTimeoutError

REDIS_DOWN: tuple[type[BaseException], ...] = (
    RedisConnectionError,
    RedisTimeoutError,
    ReadOnlyError,
    OutOfMemoryError,
    OSError,
    TimeoutError,
)
