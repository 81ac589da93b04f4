"""Everything this project knows about arq, in one package.

arq is in maintenance-only mode (python-arq/arq#510) and pinned to the exact version these
modules were written against (pyproject.toml). Nothing outside this package imports arq
(tests/test_arq_adapter.py checks it), so leaving arq one day means rewriting these modules
and nothing else:

| module        | what it wraps                                                                  |
| ------------- | ------------------------------------------------------------------------------ |
| keys.py       | arq's Redis key names (job, result, in-progress, retry, the abort set)         |
| pool.py       | the queue's Redis handle (`QueuePool`, arq's ArqRedis) and how to open one      |
| enqueue.py    | enqueueing and the wake-up nudge beside it, in one round trip (a script)       |
| records.py    | reading one job's record (status, definition, result) and queue entries        |
| control.py    | aborting jobs, dropping waiting ones, handing a try back                       |
| job_api.py    | what job code and schedules use: `Retry`, cron jobs, a schedule's next run,    |
|               | the keys arq puts in a job's ctx (its pool, the job's id and try)              |
| options.py    | the keyword arguments arq's Worker takes, from ours                            |
| worker.py     | `ResilientWorker`: arq's Worker with its overrides (outages, heartbeats, nudges) |
| stop.py       | stopping an in-process worker the way SIGTERM does                             |
| claim.py      | a worker's pickup of one job (arq's test-and-set), one round trip (a script)    |
| job_lines.py  | arq's per-job start and success log lines, left out (one line per job is ours)  |

Each override of arq's Worker is pinned by a test that fails if arq's behaviour under it
changes (tests/test_arq_adapter.py, tests/test_worker_outage_units.py).
"""
