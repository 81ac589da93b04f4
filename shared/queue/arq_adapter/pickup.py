"""A worker's pickup of the jobs one poll found, in one round trip.

arq takes each job with four round trips (WATCH its in-progress mark, EXISTS, ZSCORE,
then MULTI/PSETEX/EXEC): at a chat reply a few milliseconds of CPU long, a send and a
wake-up each are a share of a reply start (docs/benchmarks.md, issue 22). This script
does the same checks and marks for a poll's whole batch at once, atomically (a script runs
alone in Redis, as the WATCH made sure): a job is taken if no worker marked it in progress
and it is still in the queue, due. Two workers polling together take each job once.
"""

from __future__ import annotations

import hashlib

from redis.exceptions import NoScriptError

from shared.queue.arq_adapter.keys import in_progress_key
from shared.queue.arq_adapter.pool import QueuePool

# KEYS: the queue, then each job's in-progress mark; ARGV: now (ms), the mark's lifetime
# (ms), then the job ids. Returns id, score, id, score, ... of the jobs taken.
PICK_UP = """
local taken = {}
for i = 2, #KEYS do
  local id = ARGV[i + 1]
  if redis.call('EXISTS', KEYS[i]) == 0 then
    local score = redis.call('ZSCORE', KEYS[1], id)
    if score and tonumber(score) <= tonumber(ARGV[1]) then
      redis.call('PSETEX', KEYS[i], ARGV[2], '1')
      taken[#taken + 1] = id
      taken[#taken + 1] = score
    end
  end
end
return taken
"""
PICK_UP_SHA = hashlib.sha1(PICK_UP.encode()).hexdigest()


async def pick_up(
    pool: QueuePool, queue_name: str, job_ids: list[str], now_ms: int, in_progress_ms: int
) -> list[tuple[str, int]]:
    """The jobs of `job_ids` now marked in progress by this worker, with their queue scores."""
    if not job_ids:
        return []
    keys = [queue_name, *(in_progress_key(job_id) for job_id in job_ids)]
    args = [str(now_ms), str(in_progress_ms), *job_ids]
    try:
        found = await pool.evalsha(PICK_UP_SHA, len(keys), *keys, *args)  # type: ignore[misc]  # redis-py types sync and async as one
    except NoScriptError:  # a Redis that has not seen it yet (or restarted): sent whole once
        found = await pool.eval(PICK_UP, len(keys), *keys, *args)  # type: ignore[misc]
    pairs = [item.decode() if isinstance(item, bytes) else str(item) for item in found]
    return [(pairs[i], int(float(pairs[i + 1]))) for i in range(0, len(pairs), 2)]
