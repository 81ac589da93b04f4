"""A database wrapper that records each collection call: one call is one MongoDB round trip
(a cursor's `to_list` belongs to the `find` or `aggregate` that made it)."""

from __future__ import annotations

from typing import Any


class CountingCollection:
    def __init__(self, collection: Any, calls: list[tuple[str, str]]) -> None:
        self._collection, self._calls = collection, calls

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._collection, name)
        if not callable(attr):
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            self._calls.append((self._collection.name, name))
            return attr(*args, **kwargs)

        return call


class CountingDatabase:
    def __init__(self, db: Any) -> None:
        self._db, self.calls = db, []

    def __getitem__(self, name: str) -> CountingCollection:
        return CountingCollection(self._db[name], self.calls)
