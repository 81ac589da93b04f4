"""arq's two log lines per job (`→ job(args)` as it starts, `← job ● result` as it
succeeds), left out: the worker's job wrapper (worker/job_metrics.py) writes one line per
job that says the same (job id, function, try, time queued, outcome, duration).

A line costs the worker its formatting and a write: at a chat reply a few milliseconds
long, arq's two were a measurable share of a reply start (docs/benchmarks.md, issue 22).
arq's other per-job lines stay: a failure with its traceback, a retry with its delay, an
abort, a job whose function is unknown or whose tries are used up.
"""

from __future__ import annotations

import logging

ARQ_WORKER_LOGGER = "arq.worker"
# arq's own templates (arq/worker.py, run_job), pinned by tests/test_arq_adapter.py.
STARTED = "%6.2fs → %s(%s)%s"
SUCCEEDED = "%6.2fs ← %s ● %s"


class LeaveOutPerJobLines(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return record.msg not in (STARTED, SUCCEEDED)


def leave_out_per_job_lines() -> None:
    """Install the filter on arq's worker logger, once per process."""
    logger = logging.getLogger(ARQ_WORKER_LOGGER)
    if not any(isinstance(f, LeaveOutPerJobLines) for f in logger.filters):
        logger.addFilter(LeaveOutPerJobLines())
