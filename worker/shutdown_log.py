"""One shutdown line for one Ctrl-C.

arq's Worker logs "Setting allow_pick_jobs to `False`" and "shutdown on SIGTERM ..." at
each step of its graceful stop, and our process runs two of them (the background queue's
and the chat queue's companion) and then closes each: one Ctrl-C printed six lines, four
saying SIGTERM and two SIGUSR1. This filter lets the first "shutdown on" line through (arq's
counts of the jobs that were running) and drops the repeats.
"""

from __future__ import annotations

import logging

ARQ_WORKER_LOGGER = "arq.worker"


class OneShutdownLine(logging.Filter):
    def __init__(self) -> None:
        super().__init__()
        self.said = False

    def filter(self, record: logging.LogRecord) -> bool:
        message = str(record.msg)
        if message.startswith("Setting allow_pick_jobs"):
            return False
        if message.startswith("shutdown on"):
            if self.said:
                return False
            self.said = True
        return True


def one_shutdown_line() -> OneShutdownLine:
    """Install the filter on arq's worker logger (once per process); returns it."""
    logger = logging.getLogger(ARQ_WORKER_LOGGER)
    for existing in logger.filters:
        if isinstance(existing, OneShutdownLine):
            return existing
    installed = OneShutdownLine()
    logger.addFilter(installed)
    return installed
