"""The arithmetic of memory, shared by the worker that stores it and the service that reads it."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

DAY = timedelta(days=1)
_NOT_WORD = re.compile(r"[^\w]+")


def point_key(kind: str, content: str) -> str:
    """Two points are the same when kind and words match, whatever the case, spacing or punctuation."""
    return f"{kind}:{' '.join(_NOT_WORD.sub(' ', content.lower()).split())}"


def current_strength(strength: float, decayed_at: datetime, now: datetime, rate: float) -> float:
    """Strength as of `now`: decay runs daily, so the stored value lags by up to a day."""
    days = max((now - decayed_at) / DAY, 0.0)
    return strength * rate**days


def expiry(now: datetime, ttl_days: int) -> datetime | None:
    return now + timedelta(days=ttl_days) if ttl_days else None
