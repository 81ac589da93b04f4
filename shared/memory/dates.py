"""Dates the user gives in words, resolved against the session's own time.

"yesterday", "last Friday", "next month", "in three weeks", "on 12 April", "April 12th":
what a coach needs to answer "when did I ..." or "when is my race" months later, when
"next month" no longer means anything. Resolved at extraction, from the time of the
session's newest message, and stored as dates with the memory (`valid_from`). A
deterministic reading of common English phrasings, not a parser of every calendar idiom:
what it does not recognise it leaves alone.
"""

from __future__ import annotations

import re
from datetime import date, timedelta

WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
MONTHS = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
]
_MONTH = r"(jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)"
NUMBERS = {
    "a": 1,
    "an": 1,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
}
_N = r"(\d+|a|an|one|two|three|four|five|six|seven|eight|nine|ten)"

_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"\b(today|tonight|this morning|this evening)\b"), "today"),
    (re.compile(r"\byesterday\b"), "yesterday"),
    (re.compile(r"\btomorrow\b"), "tomorrow"),
    (re.compile(rf"\b(last|next|this|on) ({'|'.join(WEEKDAYS)})\b"), "weekday"),
    (re.compile(r"\b(last|next) (week|month|year)\b"), "period"),
    (re.compile(rf"\bin {_N} (day|week|month|year)s?\b"), "in"),
    (re.compile(rf"\b{_N} (day|week|month|year)s? ago\b"), "ago"),
    (re.compile(rf"\b(\d{{1,2}})(?:st|nd|rd|th)? (?:of )?{_MONTH}\b(?: (\d{{4}}))?"), "day_month"),
    (re.compile(rf"\b{_MONTH} (\d{{1,2}})(?:st|nd|rd|th)?\b(?:,? (\d{{4}}))?"), "month_day"),
    (re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b"), "iso"),  # 2027-01-16, as a form or a calendar writes it
]


def _month_index(name: str) -> int:
    return next(i for i, m in enumerate(MONTHS, start=1) if m.startswith(name[:3]))


def _add_months(day: date, months: int) -> date:
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    return date(year, month, min(day.day, 28))


def _upcoming(said: date, month: int, dom: int, year: str | None) -> date | None:
    try:
        if year:
            return date(int(year), month, dom)
        candidate = date(said.year, month, dom)
    except ValueError:
        return None
    # "on 12 April" said in May means next year's: a date without a year is the next one.
    return candidate if candidate >= said - timedelta(days=31) else candidate.replace(year=said.year + 1)


def resolve(text: str, said: date) -> date | None:
    """The first date `text` gives in words, as a calendar date; None if it gives none."""
    lowered = text.lower()
    found: list[tuple[int, date]] = []
    for pattern, kind in _PATTERNS:
        for m in pattern.finditer(lowered):
            day = _resolve_one(kind, m, said)
            if day is not None:
                found.append((m.start(), day))
    return min(found)[1] if found else None


def _resolve_one(kind: str, m: re.Match[str], said: date) -> date | None:
    if kind == "today":
        return said
    if kind == "yesterday":
        return said - timedelta(days=1)
    if kind == "tomorrow":
        return said + timedelta(days=1)
    if kind == "weekday":
        which, target = m.group(1), WEEKDAYS.index(m.group(2))
        delta = (target - said.weekday()) % 7
        if which == "last":
            return said - timedelta(days=(said.weekday() - target) % 7 or 7)
        if which == "next":
            return said + timedelta(days=delta or 7)
        return said + timedelta(days=delta)  # "this Friday", "on Friday": the coming one
    if kind == "period":
        sign = -1 if m.group(1) == "last" else 1
        unit = m.group(2)
        if unit == "week":
            return said + timedelta(weeks=sign)
        if unit == "month":
            return _add_months(said, sign).replace(day=1)
        return date(said.year + sign, 1, 1)
    if kind in ("in", "ago"):
        n = NUMBERS.get(m.group(1)) or int(m.group(1))
        sign = 1 if kind == "in" else -1
        unit = m.group(2)
        if unit == "day":
            return said + timedelta(days=sign * n)
        if unit == "week":
            return said + timedelta(weeks=sign * n)
        if unit == "month":
            return _add_months(said, sign * n)
        return date(said.year + sign * n, said.month, min(said.day, 28))
    if kind == "iso":
        try:
            return date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        except ValueError:
            return None
    if kind == "day_month":
        return _upcoming(said, _month_index(m.group(2)), int(m.group(1)), m.group(3))
    if kind == "month_day":
        return _upcoming(said, _month_index(m.group(1)), int(m.group(2)), m.group(3))
    return None
