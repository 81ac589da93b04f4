"""USER_DAILY_TOKEN_BUDGET: a user's LLM tokens per UTC day, counted from `llm_usage`;
an admin may change it at run time (shared/redis_structures/live_limits.py).

Checked before each call charged to a user (shared/llm/metered.py) and by the chat before
it stores a message. Past the budget: LLMBudgetExhausted with the next UTC midnight, which
the chat answers as `budget_exhausted` and a job turns into a deferral to that time (the
try is not counted). A call already running finishes: the budget can be overshot by the
calls in flight when it runs out, never by more.
"""

from __future__ import annotations

from shared.llm.base import LLMBudgetExhausted
from shared.process import clock
from shared.store.llm_usage import tokens_used_on
from shared.store.mongo import Database


async def check_daily_budget(db: Database, budget: int, user_id: str | None) -> None:
    """`budget`: the figure in force (shared/redis_structures/live_limits.py; 0 = none)."""
    if not budget or user_id is None:
        return
    now = clock.now()
    used = await tokens_used_on(db, user_id, now.date())
    if used >= budget:
        resets_at = clock.next_utc_midnight(now)
        raise LLMBudgetExhausted(
            f"user {user_id} used {used} of {budget} LLM tokens today",
            retry_after=(resets_at - now).total_seconds(),
            resets_at=resets_at,
        )
