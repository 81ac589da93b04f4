"""The `llm_usage` collection: one record per LLM call, and the totals read from it.

Every call made through `create_llm`'s provider (chat replies, extractions, summaries,
reflections) is recorded with its purpose, model, user, tokens, latency and outcome
(shared/llm/metered.py): failed and cancelled calls too, so usage, cost and the daily
budget count them. Totals
are Mongo aggregations by UTC day; cost is computed from LLM_PRICES per model when set.
A user's tokens today also decide USER_DAILY_TOKEN_BUDGET (`tokens_used_on`).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from pydantic import BaseModel, Field

from shared.process.settings import ModelPrice
from shared.store.mongo import LLM_USAGE as LLM_USAGE  # re-exported: its name lives with the indexes
from shared.store.mongo import Database


class LLMUsageRecord(BaseModel):
    """The stored document."""

    purpose: str  # chat | extraction | summary | reflection
    model: str
    user_id: str | None
    input_tokens: int = Field(ge=0)
    output_tokens: int = Field(ge=0)
    latency_seconds: float = Field(ge=0)
    at: datetime
    # ok | error | cancelled. A call that did not finish has the tokens the provider
    # reported, else (cancelled mid-answer) an estimate: the prompt was read, and what
    # streamed before the cancel was written.
    outcome: str = "ok"
    estimated: bool = False


# -- API view models -------------------------------------------------------------------


class UsageTotals(BaseModel):
    calls: int
    input_tokens: int
    output_tokens: int
    cost_usd: float | None = Field(None, description="null unless LLM_PRICES prices every model counted")


class PurposeDay(UsageTotals):
    day: date
    purpose: str


class UsageReport(BaseModel):
    days: int
    daily: list[PurposeDay] = Field(description="the caller's totals per UTC day and purpose, oldest first")


class UserTotals(UsageTotals):
    user_id: str | None


class DayTotals(UsageTotals):
    day: date


class AdminUsageReport(BaseModel):
    days: int
    by_user: list[UserTotals] = Field(description="totals per user over the period, most tokens first")
    by_day: list[DayTotals] = Field(description="totals per UTC day, oldest first")


# -- operations ------------------------------------------------------------------------


async def record_usage(db: Database, record: LLMUsageRecord) -> None:
    await db[LLM_USAGE].insert_one(record.model_dump())


def day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


async def tokens_used_on(db: Database, user_id: str, day: date) -> int:
    """Input plus output tokens the user's calls used on this UTC day."""
    start = day_start(day)
    rows = (
        await db[LLM_USAGE]
        .aggregate(
            [
                {"$match": {"user_id": user_id, "at": {"$gte": start, "$lt": start + timedelta(days=1)}}},
                {"$group": {"_id": None, "tokens": {"$sum": {"$add": ["$input_tokens", "$output_tokens"]}}}},
            ]
        )
        .to_list(length=1)
    )
    return int(rows[0]["tokens"]) if rows else 0


async def _grouped(db: Database, match: dict[str, Any], keys: dict[str, Any]) -> list[dict[str, Any]]:
    """Sums per `keys` and per model (cost needs the model), since `match`."""
    pipeline = [
        {"$match": match},
        {
            "$group": {
                "_id": {**keys, "model": "$model"},
                "calls": {"$sum": 1},
                "input_tokens": {"$sum": "$input_tokens"},
                "output_tokens": {"$sum": "$output_tokens"},
            }
        },
    ]
    return await db[LLM_USAGE].aggregate(pipeline).to_list(length=None)


def _fold(rows: list[dict[str, Any]], key_of: Any, prices: dict[str, ModelPrice] | None) -> dict[Any, dict[str, Any]]:
    """Fold per-model rows into totals per key, pricing each model's tokens."""
    totals: dict[Any, dict[str, Any]] = {}
    for row in rows:
        total = totals.setdefault(
            key_of(row["_id"]), {"calls": 0, "input_tokens": 0, "output_tokens": 0, "cost_usd": 0.0 if prices else None}
        )
        total["calls"] += row["calls"]
        total["input_tokens"] += row["input_tokens"]
        total["output_tokens"] += row["output_tokens"]
        price = prices.get(row["_id"]["model"]) if prices else None
        if price is None:
            total["cost_usd"] = None  # one unpriced model makes the total unknown, not smaller
        elif total["cost_usd"] is not None:
            total["cost_usd"] += (
                row["input_tokens"] * price.input_per_mtok + row["output_tokens"] * price.output_per_mtok
            ) / 1_000_000
    for total in totals.values():
        if total["cost_usd"] is not None:
            total["cost_usd"] = round(total["cost_usd"], 6)
    return totals


def _since(today: date, days: int) -> datetime:
    return day_start(today - timedelta(days=days - 1))


def _day(row_id: dict[str, Any]) -> date:
    return date.fromisoformat(row_id["day"])


DAY_KEY = {"$dateToString": {"format": "%Y-%m-%d", "date": "$at"}}


async def user_daily_usage(
    db: Database, user_id: str, today: date, days: int, prices: dict[str, ModelPrice] | None
) -> UsageReport:
    rows = await _grouped(db, {"user_id": user_id, "at": {"$gte": _since(today, days)}}, {"day": DAY_KEY, "purpose": "$purpose"})
    totals = _fold(rows, lambda k: (_day(k), k["purpose"]), prices)
    daily = [PurposeDay(day=day, purpose=purpose, **t) for (day, purpose), t in sorted(totals.items())]
    return UsageReport(days=days, daily=daily)


async def admin_usage(db: Database, today: date, days: int, prices: dict[str, ModelPrice] | None) -> AdminUsageReport:
    since = {"at": {"$gte": _since(today, days)}}
    by_user = _fold(await _grouped(db, since, {"user_id": "$user_id"}), lambda k: k["user_id"], prices)
    by_day = _fold(await _grouped(db, since, {"day": DAY_KEY}), _day, prices)
    users = sorted(by_user.items(), key=lambda item: -(item[1]["input_tokens"] + item[1]["output_tokens"]))
    return AdminUsageReport(
        days=days,
        by_user=[UserTotals(user_id=user, **t) for user, t in users],
        by_day=[DayTotals(day=day, **t) for day, t in sorted(by_day.items())],
    )
