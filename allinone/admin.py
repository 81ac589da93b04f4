"""`scripts/run --admin EMAIL`: the local operator's way to become admin in the all-in-one.

Its in-memory database lives inside the process, out of reach of `python -m worker users`,
so the launcher does the operator's part at start: the account gets the admin role, and if
it does not exist yet it is created with a random password, printed once on this console.
Whoever started the process is the operator; nobody gets the role by registering.
"""

from __future__ import annotations

import secrets
import uuid
from datetime import UTC, datetime
from typing import Any

from service.security import Passwords
from shared.mongo import USERS
from shared.roles import ADMIN, grant_role
from shared.settings import Settings


async def ensure_admin(db: Any, settings: Settings, email: str) -> str | None:
    """Grant the role; returns the new password when the account had to be created."""
    email = email.strip().lower()
    password = None
    if await db[USERS].find_one({"email": email}, {"_id": 1}) is None:
        password = secrets.token_urlsafe(16)
        passwords = Passwords(settings.password_hash_time_cost, settings.password_hash_memory_kib, 1)
        # The same document the register endpoint writes.
        user = {"_id": uuid.uuid4().hex, "email": email, "password_hash": await passwords.hash(password), "created_at": datetime.now(UTC)}
        await db[USERS].insert_one(user)
    await grant_role(db, email, ADMIN)
    return password
