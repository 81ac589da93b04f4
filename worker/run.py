"""`python -m worker run`: one worker process, the way production starts it.

By default one process drains both queues: the background queue (QUEUE_NAME, the crons)
and, beside it on the same loop with its own slots, the chat queue (`generate_reply`).
`--chat` or `--background` runs one of them only, for deployments that scale them apart.

It runs our ResilientWorker (worker/resilient.py) with arq's own signal handling: SIGTERM
or Ctrl-C stops taking jobs and lets running ones finish for WORKER_SHUTDOWN_GRACE_SECONDS.
Plain `arq worker.settings.WorkerSettings` would run arq's base Worker, which exits on the
first Redis error; use this command instead.
"""

from __future__ import annotations

import argparse
import logging
from typing import TYPE_CHECKING

from shared.process.settings import SettingsError, load_settings

if TYPE_CHECKING:
    from worker.resilient import Queues

log = logging.getLogger("worker")


def add_run_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    run = commands.add_parser("run", help="run a worker: consume the queue until SIGTERM, riding out Redis outages")
    only = run.add_mutually_exclusive_group()
    only.add_argument(
        "--chat", action="store_true", help="consume the chat queue (CHAT_QUEUE_NAME) only, with WORKER_CHAT_MAX_JOBS slots"
    )
    only.add_argument("--background", action="store_true", help="consume QUEUE_NAME only (and run the crons), no replies")


def run_worker(queues: Queues = "all") -> int:
    """Run until stopped by a signal (exit 0); a worker that dies of an error exits 1."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from shared.process.log_format import configure_logging
    from worker.metrics_listener import metrics_listener
    from worker.preflight import check_worker_can_start
    from worker.resilient import create_worker
    from worker.shutdown_log import one_shutdown_line

    settings = load_settings()
    configure_logging(settings.log_format)
    one_shutdown_line()
    # A REDIS_URL or MONGODB_URI that is wrong from the start is a configuration error:
    # one line naming it, exit non-zero (compose restarts). Outages *after* start are
    # ridden out by the ResilientWorker.
    check_worker_can_start(settings)
    worker = create_worker(settings, queues=queues)
    try:
        with metrics_listener(settings):
            worker.run()  # arq's run: starts this process's one event loop, closes the worker after
    except SettingsError:
        raise  # a setting found wrong at on_startup: the entry point says it in one line, exit 1
    except Exception:
        log.exception("worker %s stopped on an error it cannot ride out", worker.worker_id)
        return 1
    return 0
