"""One definition of "Redis is unavailable", used by the requests, the outbox, the limiter
and the worker alike."""

from __future__ import annotations

import builtins
import re
from pathlib import Path

from redis.exceptions import BusyLoadingError, ConnectionError, OutOfMemoryError, ReadOnlyError, ResponseError, TimeoutError

from shared.redis_structures.unavailable import REDIS_DOWN

ROOT = Path(__file__).resolve().parent.parent


def test_outages_are_unavailable_and_bugs_are_not():
    for outage in (ConnectionError("gone"), BusyLoadingError("loading"), TimeoutError("silent"), ReadOnlyError("replica"),
                   OutOfMemoryError("oom"), OSError("reset"), asyncio_timeout()):  # fmt: skip
        assert isinstance(outage, REDIS_DOWN), outage
    assert not isinstance(ResponseError("WRONGTYPE Operation against a key holding the wrong kind of value"), REDIS_DOWN)


def asyncio_timeout() -> BaseException:

    return builtins.TimeoutError()


def test_no_module_defines_its_own():
    own = re.compile(r"^\s*\w+\s*(:[^=]+)?=\s*\(\s*(Redis\w*Error|RedisConnectionError)", re.M)
    defined = [
        str(path.relative_to(ROOT))
        for package in ("shared", "service", "worker", "allinone")
        for path in (ROOT / package).rglob("*.py")
        if own.search(path.read_text())
    ]
    assert defined == ["shared/redis_structures/unavailable.py"], defined
