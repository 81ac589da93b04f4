"""`scripts/run --admin EMAIL`: the local operator's way to become admin in the all-in-one.

Its in-memory database lives inside the process, out of reach of `python -m worker users`,
so the launcher does the operator's part at start: the account gets the admin role, and if
it does not exist yet it is created with a random password, printed once on this console.
Whoever started the process is the operator; nobody gets the role by registering.
"""

from __future__ import annotations

import logging
import secrets
from datetime import UTC, datetime

from service.credentials import Passwords
from shared.process.log_format import make_formatter
from shared.process.settings import Settings
from shared.store.mongo import Database
from shared.store.users import ADMIN, create_user, email_exists, grant_role, normalise_email


async def ensure_admin(db: Database, settings: Settings, email: str) -> str | None:
    """Grant the role; returns the new password when the account had to be created."""
    email = normalise_email(email)
    password = None
    if not await email_exists(db, email):
        password = secrets.token_urlsafe(16)
        passwords = Passwords(settings.password_hash_time_cost, settings.password_hash_memory_kib, 1)
        await create_user(db, email, await passwords.hash(password), datetime.now(UTC))  # as the register endpoint does
    await grant_role(db, email, ADMIN)
    return password


def admin_notice(email: str, password: str | None, log_format: str) -> str:
    """The one line that tells the operator the account, and its password only when it was
    just created: printed to the terminal, never logged, so it is not shipped with the logs
    and not shown again at a later start. With LOG_FORMAT=json it is a JSON line too, so
    every line of the output parses."""
    said = f"admin: {email}" + (f" (created; password: {password}; shown this once)" if password else " (existing account)")
    if log_format != "json":
        return said
    record = logging.LogRecord("allinone", logging.WARNING, __file__, 0, said, None, None)
    return make_formatter("json").format(record)
