"""The `users` collection: accounts and their roles. Every read and write of its fields lives here.

A stored user: _id (hex uuid), email (unique, normalised: `normalise_email`), password_hash
(argon2), created_at, roles (optional list).

A role is granted only by an operator (`python -m worker users grant-admin EMAIL`, or the
all-in-one's `--admin EMAIL`), never by registering: anyone can register any address,
because nothing proves they own it.
"""

from __future__ import annotations

import unicodedata
import uuid
from datetime import datetime
from typing import Any, Literal, NotRequired, TypedDict

from shared.store.mongo import USERS, Database

Role = Literal["admin"]
ADMIN: Role = "admin"


class StoredUser(TypedDict):
    _id: str
    email: str
    password_hash: str
    created_at: datetime
    roles: NotRequired[list[Role]]


def normalise_email(email: str) -> str:
    """The one spelling an address is stored and looked up by: NFKC, then lower case, so
    `ａdmin@example.com` (fullwidth) and `Admin@Example.com` are `admin@example.com`."""
    return unicodedata.normalize("NFKC", email.strip()).lower()


async def create_user(db: Database, email: str, password_hash: str, now: datetime) -> str:
    """Insert the account; its id. Raises pymongo's DuplicateKeyError if the email is taken."""
    user_id = uuid.uuid4().hex
    user: StoredUser = {"_id": user_id, "email": normalise_email(email), "password_hash": password_hash, "created_at": now}
    await db[USERS].insert_one(user)
    return user_id


async def find_by_email(db: Database, email: str) -> StoredUser | None:
    user: StoredUser | None = await db[USERS].find_one({"email": normalise_email(email)})
    return user


async def find_by_id(db: Database, user_id: str) -> StoredUser | None:
    user: StoredUser | None = await db[USERS].find_one({"_id": user_id}, {"email": 1, "created_at": 1})
    return user


async def email_exists(db: Database, email: str) -> bool:
    return await db[USERS].find_one({"email": normalise_email(email)}, {"_id": 1}) is not None


async def grant_role(db: Database, email: str, role: Role) -> bool:
    """Give an existing account the role; False when no account has that email."""
    result = await db[USERS].update_one({"email": normalise_email(email)}, {"$addToSet": {"roles": role}})
    return result.matched_count == 1


async def revoke_role(db: Database, email: str, role: Role) -> bool:
    result = await db[USERS].update_one({"email": normalise_email(email)}, {"$pull": {"roles": role}})
    return result.matched_count == 1


async def has_role(db: Database, user_id: str, role: Role) -> bool:
    return await db[USERS].find_one({"_id": user_id, "roles": role}, {"_id": 1}) is not None


async def holders(db: Database, role: Role) -> list[str]:
    """The emails that hold the role, for the operator's `list-admins`."""
    return [doc["email"] for doc in await db[USERS].find({"roles": role}, {"email": 1}).sort("email", 1).to_list(None)]


async def exported_user(db: Database, user_id: str) -> dict[str, Any] | None:
    """The user's document for their own download: everything but the password hash."""
    user: dict[str, Any] | None = await db[USERS].find_one({"_id": user_id}, {"password_hash": 0})
    return user


async def delete_user(db: Database, user_id: str) -> int:
    """The account itself goes (its data in other collections is the caller's to delete first)."""
    return int((await db[USERS].delete_one({"_id": user_id})).deleted_count)
