"""Whose LLM calls these are: the user a job or a chat reply works for.

A context variable, so the provider interface keeps its arguments: a job or a chat reply
runs in its own asyncio task, sets the user once, and every LLM call it makes is recorded
and budgeted for that user. Calls with no user set are recorded with user_id None and
are never refused for budget.
"""

from __future__ import annotations

from contextvars import ContextVar

_user: ContextVar[str | None] = ContextVar("llm_user", default=None)


def attribute_llm_calls(user_id: str | None) -> None:
    """From here on in this task (and tasks it starts), LLM calls are charged to `user_id`."""
    _user.set(user_id)


def current_llm_user() -> str | None:
    return _user.get()
