"""Enqueueing into arq's queue, and the nudge that wakes an idle worker at once, in one
round trip.

arq's queue (a sorted set per queue) stays the record of every job, in arq's own format:
its job key holds arq's serialized definition, its score is the enqueue time. Beside each
enqueue we push a nudge onto a short list per queue (keys.nudge_key); an idle worker
blocks on that list between its polls (worker.py), so it starts the job within a round
trip instead of at its next poll. A nudge carries nothing: a lost one (popped by a worker
that then found nothing it could take) costs at most one poll, never a job.

arq's own enqueue is three round trips (WATCH the job key, EXISTS, MULTI/PSETEX/ZADD/EXEC)
and the nudge a fourth; here one script does the same, atomically (issue 22: a reply's
enqueue and the worker's follow-ups). A script either runs whole or not at all, so a
connection lost on the way is raised as the outage it is, never mistaken for "already
queued" (arq answers None for both when the connection is lost at its EXEC).
"""

from __future__ import annotations

from typing import Any
from uuid import uuid4

from arq.jobs import serialize_job
from arq.utils import timestamp_ms

from shared.queue.arq_adapter.keys import job_key, nudge_key, result_key
from shared.queue.arq_adapter.pool import QueuePool
from shared.redis_structures.script import Script

# More nudges than this waiting wake no more workers than this; the list stays small even
# when no worker listens.
NUDGE_CAP = 64

# KEYS: job, result, queue, nudge list; ARGV: the job key's lifetime (ms), the definition,
# the score, the job id, the nudge list's last index. 1 if queued, 0 if the id is known.
ENQUEUE = Script("""
if redis.call('EXISTS', KEYS[1], KEYS[2]) > 0 then
  return 0
end
redis.call('PSETEX', KEYS[1], ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[3], ARGV[3], ARGV[4])
redis.call('LPUSH', KEYS[4], 1)
redis.call('LTRIM', KEYS[4], 0, ARGV[5])
return 1
""")


async def enqueue(
    pool: QueuePool, function: str, *args: Any, job_id: str | None = None, queue_name: str | None = None, **kwargs: Any
) -> str | None:
    """Queue a job, as arq's `enqueue_job` would, and nudge the queue's workers. The job's
    id, or None when arq already knows that id (queued, running or a kept result)."""
    queue = queue_name or pool.default_queue_name
    job_id = job_id or uuid4().hex
    now = timestamp_ms()
    definition = serialize_job(function, args, kwargs, None, now, serializer=pool.job_serializer)
    keys = [job_key(job_id), result_key(job_id), queue, nudge_key(queue)]
    argv: list[Any] = [pool.expires_extra_ms, definition, now, job_id, NUDGE_CAP - 1]
    queued = await ENQUEUE.run(pool, keys, argv)
    return job_id if int(queued) == 1 else None


async def enqueue_confirmed(
    pool: QueuePool, function: str, args: list[Any], job_id: str, *, queue_name: str | None = None
) -> None:
    """Queue a job whose id may be queued already (then nothing changes); a lost connection
    raises, so a caller that keeps the job elsewhere until this returns (the outbox) loses
    nothing."""
    await enqueue(pool, function, *args, job_id=job_id, queue_name=queue_name)
