"""`python -m worker`: operator commands against the queue the workers read.

    python -m worker enqueue decay_memories              # run a cron now
    python -m worker enqueue decay_memories --now 2026-12-01T02:00:00+00:00
    python -m worker enqueue sweep_sessions               # extract sessions that ended unseen
    python -m worker enqueue summarize_sessions USER_ID
    python -m worker enqueue extract_session_context USER_ID SESSION_ID --wait
    python -m worker dead-letters list
    python -m worker dead-letters requeue DEAD_LETTER_ID   # or --all
    python -m worker run                                   # a worker process (see worker/run.py)
    python -m worker run --chat                            # a worker of the chat queue (generate_reply)
    python -m worker users grant-admin EMAIL                # or revoke-admin, list-admins
    python -m worker migrate                                # memory of earlier versions into `memories`

It works on the configured Redis (REDIS_URL, QUEUE_NAME); with REDIS_URL unset, on the
Redis of the all-in-one running from this project (it says so). Dead letters live in
MongoDB (MONGODB_URI): the in-memory stand-in of the all-in-one lives inside that process,
so for it the command says to use the admin HTTP endpoint instead. Every error is one
line on stderr and a non-zero exit.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from datetime import datetime
from typing import Any

from redis.exceptions import RedisError

from shared.process.preflight import check_mongodb_reachable, check_redis_reachable, where
from shared.process.settings import Settings, exit_on_settings_error, load_settings
from shared.queue.arq_adapter.pool import QueuePool, open_pool
from shared.queue.arq_adapter.records import WAITING, job_state
from shared.queue.arq_adapter.records import wait_for_result as job_result
from shared.queue.jobs import TAKES_NOW, enqueue_by_name
from worker.arq_options import CHAT_FUNCTIONS, FUNCTIONS, cron_jobs
from worker.cli_target import queue_settings, refuse_unreadable_dead_letters
from worker.job_arguments import JobArguments, job_arguments
from worker.migrate_cli import add_migrate_parser, migrate_command
from worker.run import add_run_command, run_worker
from worker.users_cli import add_users_parser, check_users_options, users_command

JOBS: dict[str, JobArguments] = {
    **{f.__name__: job_arguments(f.__name__, f) for f in FUNCTIONS + CHAT_FUNCTIONS},
    **{c.name: job_arguments(c.name, c.coroutine) for c in cron_jobs()},
}
JOB_NAMES = list(JOBS)


async def enqueue(settings: Settings, name: str, args: list[Any], now: datetime | None, wait: float | None) -> int:
    pool = await open_pool(settings)
    try:
        job_id = await enqueue_by_name(pool, settings, name, args, now)
        if job_id is None:
            print(f"{name}: a job with that id is already queued", file=sys.stderr)
            return 1
        print(job_id)
        if wait is not None:
            print(json.dumps(await wait_for_result(settings, pool, job_id, wait), default=str))
        return 0
    finally:
        await pool.aclose()


async def wait_for_result(settings: Settings, pool: QueuePool, job_id: str, wait: float) -> object:
    try:
        return await job_result(pool, job_id, wait)
    except TimeoutError:
        status = await job_state(pool, job_id, settings.queue_name)
        if status in WAITING:
            raise SystemExit(
                f"no worker took job {job_id} within {wait:g} s: is a worker running against "
                f"REDIS_URL ({where(settings.redis_url)}, queue {settings.queue_name})? The job stays queued"
            ) from None
        raise SystemExit(f"job {job_id} is still {status} after {wait:g} s; it goes on without us") from None
    except (RedisError, OSError):
        raise
    except Exception as exc:  # the job's own exception, re-raised by arq
        raise SystemExit(f"job {job_id} failed: {type(exc).__name__}: {exc}") from None


async def dead_letters(settings: Settings, action: str, dead_id: str | None, requeue_everything: bool) -> int:
    from shared.store.dead_letters import list_dead_letters, requeue, requeue_all
    from shared.store.mongo import create_mongo_client, get_database

    client = create_mongo_client(settings)
    db = get_database(client, settings)
    try:
        if action == "list":
            for letter in await list_dead_letters(db):
                print(letter.model_dump_json())
            return 0
        pool = await open_pool(settings)
        try:
            if requeue_everything:
                for job_id in await requeue_all(db, pool, settings):
                    print(job_id)
                return 0
            requeued = await requeue(db, pool, settings, dead_id or "")
            if requeued is None:
                print(f"no open dead letter with id {dead_id!r}", file=sys.stderr)
                return 1
            print(requeued)
            return 0
        finally:
            await pool.aclose()
    finally:
        client.close()


def main() -> None:
    with exit_on_settings_error():  # the entry point: a bad setting is one line, exit 1
        _main()


def _main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m worker",
        description="run a worker process, or operate the queue: enqueue a job now, list and requeue dead letters, manage admins",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    cmd = sub.add_parser("enqueue", help="enqueue a job by name")
    cmd.add_argument("job", help=f"one of: {', '.join(JOB_NAMES)}")
    cmd.add_argument("args", nargs="*", help="the job's arguments: " + "; ".join(j.usage() for j in JOBS.values() if j.required))
    cmd.add_argument("--now", type=datetime.fromisoformat, help="time to pass to decay/prune (ISO 8601)")
    cmd.add_argument("--wait", type=float, nargs="?", const=60.0, help="wait up to N seconds for the result")
    dead = sub.add_parser("dead-letters", help="list or requeue jobs that failed for good")
    dead.add_argument("action", choices=["list", "requeue"])
    dead.add_argument("id", nargs="?", help="dead letter id to requeue")
    dead.add_argument("--all", action="store_true", help="requeue every open dead letter")
    add_run_command(sub)
    add_users_parser(sub)
    add_migrate_parser(sub)
    options = parser.parse_args()
    if options.command == "migrate":
        sys.exit(asyncio.run(migrate_command(options)))
    if options.command == "run":
        sys.exit(run_worker("chat" if options.chat else "background" if options.background else "all"))
    if options.command == "enqueue" and options.job not in JOB_NAMES:
        sys.exit(f"unknown job {options.job!r}: one of {', '.join(JOB_NAMES)}")
    if options.command == "enqueue" and options.now and options.job not in TAKES_NOW:
        parser.error(f"--now applies only to {', '.join(sorted(TAKES_NOW))}")
    if options.command == "enqueue":
        try:  # before anything is queued: a job with the wrong arguments would only dead-letter
            options.args = JOBS[options.job].parse(options.args)
        except ValueError as exc:
            sys.exit(f"{exc}; nothing was queued")
    if options.command == "dead-letters" and options.action == "requeue" and not (options.id or options.all):
        parser.error("requeue needs a dead letter id or --all")
    if options.command == "users":
        check_users_options(parser, options)
        sys.exit(asyncio.run(users_command(options)))
    settings: Settings | None = None
    try:
        settings = load_settings()
        if options.command == "enqueue":
            settings = queue_settings(settings)
            check_redis_reachable(settings)
            work = enqueue(settings, options.job, options.args, options.now, options.wait)
        else:
            refuse_unreadable_dead_letters(settings)
            check_mongodb_reachable(settings)
            if options.action == "requeue":
                settings = queue_settings(settings)
                check_redis_reachable(settings)
            work = dead_letters(settings, options.action, options.id, options.all)
        # A command-line entry point: this starts the process's one event loop.
        sys.exit(asyncio.run(work))
    except (RedisError, OSError) as exc:  # Redis went away after the first check
        sys.exit(f"REDIS_URL: Redis at {where(settings.redis_url) if settings else '?'} failed: {exc}")


if __name__ == "__main__":
    main()
