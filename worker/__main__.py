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

from arq import create_pool
from arq.jobs import Job, JobStatus
from redis.exceptions import RedisError

from shared.process.preflight import check_mongodb_reachable, check_redis_reachable, where
from shared.process.settings import Settings, SettingsError, load_settings
from shared.queue.connection import arq_redis_settings
from shared.queue.jobs import TAKES_NOW, enqueue_by_name
from worker.arq_options import FUNCTIONS, cron_jobs
from worker.cli_target import queue_settings, refuse_unreadable_dead_letters
from worker.migrate_cli import add_migrate_parser, migrate_command
from worker.run import add_run_command, run_worker
from worker.users_cli import add_users_parser, check_users_options, users_command

JOB_NAMES = [f.__name__ for f in FUNCTIONS] + [c.name for c in cron_jobs()]


async def enqueue(settings: Settings, name: str, args: list[str], now: datetime | None, wait: float | None) -> int:
    pool = await create_pool(arq_redis_settings(settings), default_queue_name=settings.queue_name)
    try:
        job = await enqueue_by_name(pool, name, list(args), now)
        if job is None:
            print(f"{name}: a job with that id is already queued", file=sys.stderr)
            return 1
        print(job.job_id)
        if wait is not None:
            print(json.dumps(await wait_for_result(settings, job, wait), default=str))
        return 0
    finally:
        await pool.aclose()


async def wait_for_result(settings: Settings, job: Job, wait: float) -> object:
    try:
        return await job.result(timeout=wait, poll_delay=0.1)
    except TimeoutError:
        status = await job.status()
        if status in (JobStatus.queued, JobStatus.deferred):
            raise SystemExit(
                f"no worker took job {job.job_id} within {wait:g} s: is a worker running against "
                f"REDIS_URL ({where(settings.redis_url)}, queue {settings.queue_name})? The job stays queued"
            ) from None
        raise SystemExit(f"job {job.job_id} is still {status.value} after {wait:g} s; it goes on without us") from None
    except (RedisError, OSError):
        raise
    except Exception as exc:  # the job's own exception, re-raised by arq
        raise SystemExit(f"job {job.job_id} failed: {type(exc).__name__}: {exc}") from None


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
        pool = await create_pool(arq_redis_settings(settings), default_queue_name=settings.queue_name)
        try:
            if requeue_everything:
                for job_id in await requeue_all(db, pool):
                    print(job_id)
                return 0
            requeued = await requeue(db, pool, dead_id or "")
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
    parser = argparse.ArgumentParser(prog="python -m worker", description="enqueue a worker job by name, now")
    sub = parser.add_subparsers(dest="command", required=True)
    cmd = sub.add_parser("enqueue", help="enqueue a job by name")
    cmd.add_argument("job", help=f"one of: {', '.join(JOB_NAMES)}")
    cmd.add_argument("args", nargs="*", help="the job's arguments (user id, session id)")
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
        try:
            sys.exit(asyncio.run(migrate_command(options)))
        except SettingsError as exc:
            sys.exit(str(exc))
    if options.command == "run":
        sys.exit(run_worker("chat" if options.chat else "background" if options.background else "all"))
    if options.command == "enqueue" and options.job not in JOB_NAMES:
        sys.exit(f"unknown job {options.job!r}: one of {', '.join(JOB_NAMES)}")
    if options.command == "enqueue" and options.now and options.job not in TAKES_NOW:
        parser.error(f"--now applies only to {', '.join(sorted(TAKES_NOW))}")
    if options.command == "dead-letters" and options.action == "requeue" and not (options.id or options.all):
        parser.error("requeue needs a dead letter id or --all")
    if options.command == "users":
        check_users_options(parser, options)
        try:
            sys.exit(asyncio.run(users_command(options)))
        except SettingsError as exc:
            sys.exit(str(exc))
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
    except SettingsError as exc:
        sys.exit(str(exc))
    except (RedisError, OSError) as exc:  # Redis went away after the first check
        sys.exit(f"REDIS_URL: Redis at {where(settings.redis_url) if settings else '?'} failed: {exc}")


if __name__ == "__main__":
    main()
