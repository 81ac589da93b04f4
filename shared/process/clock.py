"""The time of day that budgets and usage days are counted in.

One function, looked up as `clock.now()` at each call, so a test can move the day forward
(monkeypatch `shared.process.clock.now`) and see a budget reset without waiting for midnight.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


def now() -> datetime:
    return datetime.now(UTC)


def next_utc_midnight(moment: datetime) -> datetime:
    day = moment.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return day + timedelta(days=1)
