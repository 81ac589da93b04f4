"""Round trips to the in-memory MongoDB stand-in, and the CPU it spends, in this process.

One call of a collection method (or of the database's `command`/`aggregate`) is one round
trip, as in tests/support/counting_db.py: a cursor's `to_list` or iteration belongs to the
`find` or `aggregate` that made it. Unlike that wrapper, this one patches mongomock-motor's
classes, so it sees every caller (the jobs, the metered LLM's usage records, the outbox)
without each being handed a wrapped database. For a bench worker process only.

The CPU is the event-loop thread's (time.thread_time) inside mongomock's work, by call (a
cursor's iteration counted with the `find` or `aggregate` that made it): its async methods
and cursors never yield to the loop, so nothing else runs during them.
"""

from __future__ import annotations

import functools
import inspect
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from typing import Any

from mongomock_motor import (
    AsyncCommandCursor,
    AsyncCursor,
    AsyncLatentCommandCursor,
    AsyncMongoMockCollection,
    AsyncMongoMockDatabase,
)

NOT_ROUND_TRIPS = {"get_io_loop"}
CURSOR_WORK = ("to_list", "next", "__anext__")
CURSORS = (AsyncCursor, AsyncLatentCommandCursor, AsyncCommandCursor)
TAG = "_stand_in_meter_call"


def collection_call(method: str) -> Callable[[Any], str]:
    return lambda collection: f"{collection.name}.{method}"


def database_call(method: str) -> Callable[[Any], str]:
    return lambda _: f"db.{method}"


class StandInMeter:
    def __init__(self) -> None:
        self.round_trips: Counter[str] = Counter()  # "collection.method" -> calls
        self.cpu: dict[str, float] = defaultdict(float)  # "collection.method" -> seconds, its cursor's included

    def snapshot(self) -> dict[str, Any]:
        return {"round_trips": dict(self.round_trips), "cpu_seconds": dict(self.cpu)}

    def install(self) -> None:
        # masquerade_class wraps each class in a subclass; the methods live on the class below it.
        collection = AsyncMongoMockCollection.__mro__[1]
        for name, method in list(vars(collection).items()):
            if callable(method) and not name.startswith("_") and name not in NOT_ROUND_TRIPS:
                setattr(collection, name, self._wrap(method, collection_call(name)))
        database = AsyncMongoMockDatabase.__mro__[1]
        for name in ("command", "aggregate"):
            setattr(database, name, self._wrap(vars(database)[name], database_call(name)))
        for cursor in (AsyncCursor, AsyncLatentCommandCursor, AsyncCommandCursor):
            base = cursor.__mro__[1]
            for name in CURSOR_WORK:
                setattr(base, name, self._wrap(vars(base)[name], None))

    def _wrap(self, method: Callable[..., Any], label: Callable[[Any], str] | None) -> Callable[..., Any]:
        """A call with a label is a round trip; a cursor's work (no label) is charged to the
        call that made the cursor, which the wrapper tags it with."""
        meter = self

        def count(this: Any) -> str:
            if label is None:
                return str(this.__dict__.get(TAG, "cursor"))
            name = label(this)
            meter.round_trips[name] += 1
            return name

        if inspect.iscoroutinefunction(method):

            @functools.wraps(method)
            async def timed_async(this: Any, *args: Any, **kwargs: Any) -> Any:
                started = time.thread_time()
                name = count(this)
                try:
                    return await method(this, *args, **kwargs)
                finally:
                    meter.cpu[name] += time.thread_time() - started

            return timed_async

        @functools.wraps(method)
        def timed(this: Any, *args: Any, **kwargs: Any) -> Any:
            started = time.thread_time()
            name = count(this)
            try:
                result = method(this, *args, **kwargs)
                if label is not None and isinstance(result, CURSORS):
                    result.__dict__[TAG] = name
                return result
            finally:
                meter.cpu[name] += time.thread_time() - started

        return timed
