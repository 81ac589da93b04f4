"""A real arq worker process for crash and shutdown tests.

It runs exactly what `python -m worker run` runs (our ResilientWorker, functions and
options, arq's own signal handling), except that its database is an in-memory one seeded with the
chat messages in a JSON file. MongoDB stand-ins cannot be shared between processes, and a
worker that is killed mid-job writes nothing anyway: what these tests prove lives in Redis
(the job's redelivery) and in the surviving worker's database.

    python -m tests.support.seeded_worker messages.json          # chat messages, both queues
    python -m tests.support.seeded_worker seed.json chat         # {"collection": [docs]}, one queue

Fields named in DATES are ISO strings in the file and datetimes in the database.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import datetime
from pathlib import Path
from typing import Any, cast

from mongomock_motor import AsyncMongoMockClient

from shared.process.settings import load_settings
from worker import resources
from worker.resilient import Queues, create_worker

DATES = ("timestamp", "created_at", "started_at", "expires_at")


def load_seed(seed_path: str) -> dict[str, list[dict[str, Any]]]:
    """The seed file's documents by collection, their DATES as datetimes."""
    seed = json.loads(Path(seed_path).read_text())
    collections: dict[str, list[dict[str, Any]]] = {"chat_messages": seed} if isinstance(seed, list) else seed
    for docs in collections.values():
        for doc in docs:
            for name in DATES:
                if isinstance(doc.get(name), str):
                    doc[name] = datetime.fromisoformat(doc[name])
    return collections


def seeding_startup(collections: dict[str, list[dict[str, Any]]], announce: str | None = None) -> Any:
    """arq's on_startup: the worker's resources, then the seed into its in-memory database."""

    async def startup(ctx: dict[str, Any]) -> None:
        await resources.startup(ctx)
        for name, docs in collections.items():
            await resources.worker_resources(ctx).db[name].insert_many(docs)
        if announce:
            print(announce, flush=True)

    return startup


def main(seed_path: str, queues: Queues = "all") -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    startup = seeding_startup(load_seed(seed_path), announce="seeded-worker ready")
    settings = load_settings()
    ctx = {"settings": settings, "mongo_client": AsyncMongoMockClient(tz_aware=True)}
    create_worker(settings, queues=queues, on_startup=startup, ctx=ctx).run()


if __name__ == "__main__":
    main(sys.argv[1], *(cast(Queues, q) for q in sys.argv[2:3]))
