"""`python -m worker migrate`: move memory written by earlier versions into `memories`.

Idempotent (shared/memory/migrate.py). Prints what it did as one JSON line. Against the
all-in-one's in-memory database there is nothing to migrate from outside: that store lives
inside its process and starts empty.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from redis.asyncio import Redis

from shared.memory.migrate import migrate_contexts
from shared.process.settings import load_settings
from shared.redis_structures import recall_index
from shared.store.mongo import create_mongo_client, ensure_indexes, get_database


def add_migrate_parser(sub: Any) -> None:
    sub.add_parser("migrate", help="move memory written by earlier versions into the memories collection (safe to run again)")


async def migrate_command(options: argparse.Namespace) -> int:
    settings = load_settings()
    if settings.uses_in_memory_mongodb:
        print("MONGODB_URI is memory://: the in-memory store starts empty, there is nothing to migrate", file=sys.stderr)
        return 1
    client = create_mongo_client(settings)
    try:
        db = get_database(client, settings)
        await ensure_indexes(db)
        report = await migrate_contexts(db)
    finally:
        client.close()
    # The recall indexes still name the old points: drop them, the next reply rebuilds each.
    redis = Redis.from_url(settings.redis_url, socket_timeout=settings.redis_timeout_seconds)
    try:
        for user_id in report.users:
            await recall_index.drop(redis, user_id)
    except OSError as exc:
        print(f"recall indexes not dropped ({exc}); they expire or are rebuilt at the next change", file=sys.stderr)
    finally:
        await redis.aclose()
    print(report.model_dump_json())
    return 0
