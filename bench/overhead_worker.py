"""The two workers `bench/worker_overhead.py` compares, each run as its own process.

    python -m bench.overhead_worker product messages.json
    python -m bench.overhead_worker minimal messages.json
    python -m bench.overhead_worker chat seed.json

`product`: what `python -m worker run` runs (worker/run.py: its logging, `create_worker`
with our functions and options, the real `extract_session_context` with its metered,
limited LLM client), on an in-memory database seeded with the sessions' messages (an
in-process stand-in cannot be shared, as in tests/support/seeded_worker.py).

`chat`: the product's chat worker (`python -m worker run --chat`, its logging included) on
an in-memory database seeded with `{"collection": [docs]}` (bench/replies.py's queued
replies), for the CPU per reply start (`python -m bench.replies --cpu`).

`minimal`: a plain `arq.Worker`, logging as arq's own CLI sets it up, whose one job makes
the same Anthropic SDK call (the same system prompt, transcript, tool and tool choice,
from shared/llm) and stores the tool's input with one `insert_one`. It holds the
transcripts in memory, so it reads nothing: the smallest worker that does the same call.
Both take WORKER_MAX_JOBS and WORKER_POLL_DELAY_SECONDS from the same settings.

Both also run `bench_snapshot`, which returns this process's CPU time, the worker's
finished-job count and the stand-in's round trips (bench/stand_in_meter.py); the bench
calls it before and after the measured jobs.
"""

from __future__ import annotations

import json
import logging
import logging.config
import resource
import sys
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import anthropic
from anthropic.types import MessageParam, ToolParam
from arq import Worker, func
from arq.logs import default_log_config
from mongomock_motor import AsyncMongoMockClient

from bench.stand_in_meter import StandInMeter
from shared.llm.anthropic_provider import EXTRACTION_TOOL
from shared.llm.prompts import EXTRACTION_INSTRUCTIONS, render_transcript
from shared.models import ChatMessage
from shared.process.settings import load_settings
from shared.queue.arq_adapter.pool import redis_settings as arq_redis_settings

METER = StandInMeter()


class Snapshots:
    """What `bench_snapshot` reads: the worker, set once it exists."""

    worker: Worker | None = None


async def bench_snapshot(ctx: dict[str, Any]) -> dict[str, Any]:
    usage = resource.getrusage(resource.RUSAGE_SELF)  # every thread of this process
    assert Snapshots.worker is not None
    return {
        "cpu_seconds": usage.ru_utime + usage.ru_stime,
        "jobs_complete": Snapshots.worker.jobs_complete,
        "stand_in": METER.snapshot(),
    }


def load_seed(path: str) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = json.loads(Path(path).read_text())
    for message in messages:
        message["timestamp"] = datetime.fromisoformat(message["timestamp"])
    return messages


# -- the product ------------------------------------------------------------------------


def product(seed_path: str) -> None:
    from shared.process.log_format import configure_logging
    from tests.support.seeded_worker import seeding_startup
    from worker.arq_options import FUNCTIONS
    from worker.resilient import create_worker

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = load_settings()
    configure_logging(settings.log_format)
    startup = seeding_startup({"chat_messages": load_seed(seed_path)})

    ctx = {"settings": settings, "mongo_client": AsyncMongoMockClient(tz_aware=True)}
    worker = create_worker(settings, on_startup=startup, ctx=ctx, functions=[*FUNCTIONS, bench_snapshot])
    Snapshots.worker = worker
    worker.run()


def chat(seed_path: str) -> None:
    from shared.process.log_format import configure_logging
    from tests.support.seeded_worker import load_seed as load_collections
    from tests.support.seeded_worker import seeding_startup
    from worker.arq_options import CHAT_FUNCTIONS
    from worker.resilient import create_worker

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = load_settings()
    configure_logging(settings.log_format)
    startup = seeding_startup(load_collections(seed_path))
    ctx = {"settings": settings, "mongo_client": AsyncMongoMockClient(tz_aware=True)}
    worker = create_worker(settings, queues="chat", on_startup=startup, ctx=ctx, functions=[*CHAT_FUNCTIONS, bench_snapshot])
    Snapshots.worker = worker
    worker.run()


# -- the minimal worker -----------------------------------------------------------------


def transcripts(messages: list[dict[str, Any]]) -> dict[str, list[ChatMessage]]:
    by_session: dict[str, list[ChatMessage]] = defaultdict(list)
    for n, m in enumerate(messages):
        by_session[m["session_id"]].append(ChatMessage(id=str(n), role=m["role"], content=m["content"], timestamp=m["timestamp"]))
    return by_session


def minimal(seed_path: str) -> None:
    logging.config.dictConfig(default_log_config(verbose=False))
    settings = load_settings()
    sessions = transcripts(load_seed(seed_path))
    tool = cast(ToolParam, EXTRACTION_TOOL)

    async def startup(ctx: dict[str, Any]) -> None:
        ctx["client"] = anthropic.AsyncAnthropic(
            api_key=cast(Any, settings.anthropic_api_key).get_secret_value(),
            base_url=settings.anthropic_base_url,
            timeout=settings.llm_timeout_seconds,
            max_retries=0,
        )
        ctx["db"] = AsyncMongoMockClient(tz_aware=True)[settings.mongodb_db_name]

    async def shutdown(ctx: dict[str, Any]) -> None:
        await ctx["client"].close()

    async def extract_session_context(ctx: dict[str, Any], user_id: str, session_id: str) -> str:
        response = await ctx["client"].messages.create(
            model=settings.model_for("extraction"),
            max_tokens=settings.llm_max_tokens,
            system=EXTRACTION_INSTRUCTIONS,
            messages=[cast(MessageParam, {"role": "user", "content": render_transcript(sessions[session_id])})],
            tools=[tool],
            tool_choice={"type": "tool", "name": tool["name"]},
        )
        points = next(block.input for block in response.content if block.type == "tool_use")
        stored = await ctx["db"]["session_contexts"].insert_one(
            {"user_id": user_id, "session_id": session_id, "points": points, "created_at": datetime.now(UTC)}
        )
        return str(stored.inserted_id)

    worker = Worker(
        functions=[
            func(extract_session_context, name="extract_session_context"),
            func(bench_snapshot),
        ],
        redis_settings=arq_redis_settings(settings),
        queue_name=settings.queue_name,
        max_jobs=settings.worker_max_jobs,
        poll_delay=settings.worker_poll_delay_seconds,
        on_startup=startup,
        on_shutdown=shutdown,
    )
    Snapshots.worker = worker
    worker.run()


def main() -> None:
    kind, seed_path = sys.argv[1], sys.argv[2]
    METER.install()
    {"product": product, "chat": chat, "minimal": minimal}[kind](seed_path)


if __name__ == "__main__":
    main()
