"""An extraction's reads before its LLM call, on the in-memory MongoDB stand-in: the three
plain indexed reads it makes now beside the one `$facet` with two `$lookup`s it made before
(issue 22), on a store seeded as `python -m bench.worker_overhead` seeds its full run.

    python -m bench.session_read [SESSIONS] [READS]

CPU per read (the stand-in runs in this process, so this is its cost), each shape read
READS times over SESSIONS seeded sessions, each with its stored context.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from datetime import UTC, datetime
from typing import Any

from mongomock_motor import AsyncMongoMockClient

from bench.extraction import seed_messages
from shared.memory.extraction_input import read_extraction_input
from shared.store.mongo import CHAT_MESSAGES, EMPTY_EXTRACTIONS, SESSION_CONTEXTS, ensure_indexes


def facet_pipeline(session_id: str, limit: int) -> list[dict[str, Any]]:
    """The read as it was (shared/memory/extraction_input.py before issue 22)."""
    keep = ("_id", "session_id", "updated_at", "covered.last_message_id", "context_points.key")
    return [
        {"$match": {"session_id": session_id}},
        {"$sort": {"timestamp": -1, "_id": -1}},
        {"$limit": limit},
        {
            "$facet": {
                "messages": [{"$project": {"_id": 1, "role": 1, "content": 1, "timestamp": 1}}],
                "marks": [
                    {"$limit": 1},
                    {"$lookup": {"from": SESSION_CONTEXTS, "localField": "user_id", "foreignField": "user_id", "as": "contexts"}},
                    {
                        "$lookup": {
                            "from": EMPTY_EXTRACTIONS,
                            "localField": "session_id",
                            "foreignField": "session_id",
                            "as": "empty",
                        }
                    },
                    {
                        "$project": {
                            "_id": 0,
                            **{f"contexts.{k}": 1 for k in keep},
                            "empty.user_id": 1,
                            "empty.covered.last_message_id": 1,
                        }
                    },
                ],
            }
        },
    ]


async def run(sessions: int, reads: int) -> dict[str, Any]:
    db = AsyncMongoMockClient(tz_aware=True)["bench"]
    await ensure_indexes(db)
    await db[CHAT_MESSAGES].insert_many(
        [{**m, "timestamp": datetime.fromisoformat(m["timestamp"])} for m in seed_messages(sessions)]
    )
    now = datetime.now(UTC)
    await db[SESSION_CONTEXTS].insert_many(
        [
            {"user_id": f"user-{n}", "session_id": f"session-{n}", "updated_at": now, "context_points": [{"key": f"goal:{n}"}]}
            for n in range(sessions)
        ]
    )
    figures = {}
    for name, read in (
        ("facet_with_two_lookups", lambda n: db[CHAT_MESSAGES].aggregate(facet_pipeline(f"session-{n}", 100)).to_list(1)),
        ("three_plain_reads", lambda n: read_extraction_input(db, f"user-{n}", f"session-{n}", 100)),
    ):
        started = time.process_time()
        for i in range(reads):
            await read(i % sessions)
        figures[name] = round((time.process_time() - started) / reads * 1000, 2)
    return {"sessions": sessions, "reads": reads, "cpu_ms_per_read": figures}


if __name__ == "__main__":
    args = [int(a) for a in sys.argv[1:]]
    print(json.dumps(asyncio.run(run(*(args or [320, 100]))), indent=2))
