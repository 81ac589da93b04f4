"""Claiming a queued job for this worker in one round trip.

arq's own pickup (`Worker.start_jobs`) WATCHes the job's in-progress key, reads it and the
job's due time, then sets the mark in MULTI/EXEC: four round trips before the job can start,
and on a loaded machine each waits for the redis-server process to be scheduled. The same
test-and-set as one Lua script is atomic by Redis's own rule (no other command runs while a
script does), so it is as safe as arq's optimistic transaction and costs one round trip.
The keys and their meaning are arq's (keys.py); only the way of asking changes.
"""

from __future__ import annotations

from redis.asyncio import Redis

from shared.queue.arq_adapter.keys import in_progress_key
from shared.redis_structures.script import Script

# KEYS: the in-progress mark, the queue's sorted set. ARGV: the job id, the mark's time to
# live (ms), the worker's clock (ms). Answers the job's score (its due time), or nothing when
# it is not ours to start: running elsewhere, gone from the queue, or not yet due (a retry
# deferred, or re-enqueued with a delay by another worker).
CLAIM = Script("""
if redis.call('EXISTS', KEYS[1]) == 1 then return false end
local score = redis.call('ZSCORE', KEYS[2], ARGV[1])
if not score or tonumber(score) > tonumber(ARGV[3]) then return false end
redis.call('PSETEX', KEYS[1], ARGV[2], '1')
return score
""")


async def claim(redis: Redis, queue_name: str, job_id: str, in_progress_ms: int, now_ms: int) -> int | None:
    """The job's score (its due time) if this worker now holds it, else None."""
    score = await CLAIM.run(redis, [in_progress_key(job_id), queue_name], [job_id, in_progress_ms, now_ms])
    return None if score is None else int(float(score))
