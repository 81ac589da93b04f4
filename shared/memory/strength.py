"""The arithmetic of memory, shared by the worker that stores it and the service that reads it."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

DAY = timedelta(days=1)
_NOT_WORD = re.compile(r"[^\w]+")


def point_key(kind: str, content: str) -> str:
    """Two points are the same when kind and words match, whatever the case, spacing or punctuation."""
    return f"{kind}:{' '.join(_NOT_WORD.sub(' ', content.lower()).split())}"


def current_strength(strength: float, decayed_at: datetime, now: datetime, rate: float) -> float:
    """Strength as of `now`: decay runs daily, so the stored value lags by up to a day."""
    days = max((now - decayed_at) / DAY, 0.0)
    return float(strength * rate**days)


def expiry(now: datetime, ttl_days: int) -> datetime | None:
    return now + timedelta(days=ttl_days) if ttl_days else None


MS_PER_DAY = DAY / timedelta(milliseconds=1)


def decay_pipeline(rate: float, now: datetime) -> list[dict[str, Any]]:
    """strength *= rate ^ (days since decayed_at), then decayed_at = now. Because the exponent
    is the real time elapsed, a missed day is caught up exactly on the next run. Contexts and
    summaries decay alike."""
    days = {"$divide": [{"$subtract": [now, "$decayed_at"]}, MS_PER_DAY]}
    return [{"$set": {"strength": {"$multiply": ["$strength", {"$pow": [rate, days]}]}, "decayed_at": now}}]
