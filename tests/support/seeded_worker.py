"""A real arq worker process for crash and shutdown tests.

It runs exactly what `python -m worker run` runs (our ResilientWorker, functions and
options, arq's own signal handling), except that its database is an in-memory one seeded with the
chat messages in a JSON file. MongoDB stand-ins cannot be shared between processes, and a
worker that is killed mid-job writes nothing anyway: what these tests prove lives in Redis
(the job's redelivery) and in the surviving worker's database.

    python -m tests.support.seeded_worker messages.json
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

from mongomock_motor import AsyncMongoMockClient

from shared.settings import load_settings
from worker import resources
from worker.resilient import create_worker


def main(seed_path: str) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    messages = json.loads(Path(seed_path).read_text())
    for message in messages:
        message["timestamp"] = datetime.fromisoformat(message["timestamp"])

    async def startup(ctx: dict[str, Any]) -> None:
        await resources.startup(ctx)
        await ctx["db"]["chat_messages"].insert_many(messages)
        print("seeded-worker ready", flush=True)

    settings = load_settings()
    ctx = {"settings": settings, "mongo_client": AsyncMongoMockClient(tz_aware=True)}
    create_worker(settings, on_startup=startup, ctx=ctx).run()


if __name__ == "__main__":
    main(sys.argv[1])
