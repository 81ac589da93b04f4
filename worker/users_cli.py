"""`python -m worker users ...`: the operator grants and revokes the admin role.

    python -m worker users grant-admin EMAIL     # the account must already be registered
    python -m worker users revoke-admin EMAIL
    python -m worker users list-admins

It writes the `users` collection of MONGODB_URI. The all-in-one's in-memory database lives
inside that process, so there the operator uses `scripts/run --admin EMAIL` instead.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from shared.process.settings import load_settings
from shared.store.mongo import Database, create_mongo_client, get_database
from shared.store.users import ADMIN, grant_role, holders, normalise_email, revoke_role

ACTIONS = ("grant-admin", "revoke-admin", "list-admins")


def add_users_parser(sub: Any) -> None:
    users = sub.add_parser("users", help="grant or revoke the admin role")
    users.add_argument("action", choices=ACTIONS)
    users.add_argument("email", nargs="?", help="the account's email (grant-admin, revoke-admin)")


def check_users_options(parser: argparse.ArgumentParser, options: argparse.Namespace) -> None:
    if options.action != "list-admins" and not options.email:
        parser.error(f"{options.action} needs an EMAIL")


async def change_admin(db: Database, action: str, email: str | None) -> int:
    """The command against a database handle; prints what it did, returns the exit code."""
    if action == "list-admins":
        for holder in await holders(db, ADMIN):
            print(holder)
        return 0
    assert email is not None
    change = grant_role if action == "grant-admin" else revoke_role
    if not await change(db, email, ADMIN):
        print(f"no account with email {email!r}: it must register first", file=sys.stderr)
        return 1
    print(f"{normalise_email(email)}: {'is' if action == 'grant-admin' else 'is no longer'} an admin")
    return 0


async def users_command(options: argparse.Namespace) -> int:
    settings = load_settings()
    if settings.uses_in_memory_mongodb:
        print(
            "MONGODB_URI is the in-memory stand-in: its users live inside the all-in-one's process. "
            "Start it with `scripts/run --admin EMAIL` instead.",
            file=sys.stderr,
        )
        return 2
    client = create_mongo_client(settings)
    try:
        return await change_admin(get_database(client, settings), options.action, options.email)
    finally:
        client.close()
