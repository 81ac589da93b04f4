"""Roles on the `users` document: who may do more than chat.

A role is granted only by an operator (`python -m worker users grant-admin EMAIL`, or the
all-in-one's `--admin EMAIL`), never by registering: anyone can register any address,
because nothing proves they own it.
"""

from __future__ import annotations

from typing import Any, Literal

from shared.mongo import USERS

Role = Literal["admin"]
ADMIN: Role = "admin"


async def grant_role(db: Any, email: str, role: Role) -> bool:
    """Give an existing account the role; False when no account has that email."""
    result = await db[USERS].update_one({"email": email.strip().lower()}, {"$addToSet": {"roles": role}})
    return result.matched_count == 1


async def revoke_role(db: Any, email: str, role: Role) -> bool:
    result = await db[USERS].update_one({"email": email.strip().lower()}, {"$pull": {"roles": role}})
    return result.matched_count == 1


async def has_role(db: Any, user_id: str, role: Role) -> bool:
    return await db[USERS].find_one({"_id": user_id, "roles": role}, {"_id": 1}) is not None


async def holders(db: Any, role: Role) -> list[str]:
    """The emails that hold the role, for the operator's `list-admins`."""
    return [doc["email"] for doc in await db[USERS].find({"roles": role}, {"email": 1}).sort("email", 1).to_list(None)]
