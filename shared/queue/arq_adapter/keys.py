"""arq's Redis key names, and the one key of ours that lives beside them (the nudge list).

arq keeps, per job: its definition (`arq:job:<id>`), while it runs an in-progress mark
(`arq:in-progress:<id>`), its try count (`arq:retry:<id>`) and, once finished, its result
(`arq:result:<id>`); per queue, a sorted set of job ids by due time (the queue's name);
and one sorted set of job ids to abort (`arq:abort`).
"""

from __future__ import annotations

from arq.constants import abort_jobs_ss, in_progress_key_prefix, job_key_prefix, result_key_prefix, retry_key_prefix

ABORT_SET = abort_jobs_ss


def job_key(job_id: str) -> str:
    return job_key_prefix + job_id


def result_key(job_id: str) -> str:
    return result_key_prefix + job_id


def in_progress_key(job_id: str) -> str:
    return in_progress_key_prefix + job_id


def retry_key(job_id: str) -> str:
    return retry_key_prefix + job_id


def nudge_key(queue_name: str) -> str:
    """Ours, not arq's: the list an enqueuer pushes to so that an idle worker wakes at once
    (enqueue.py, worker.py)."""
    return f"{queue_name}:nudge"
