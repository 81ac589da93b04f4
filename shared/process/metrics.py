"""Prometheus metrics, one registry per process (prometheus-client's default).

Label values are bounded: function names outside the known set count as "other", LLM
purposes are a fixed set, and nothing carries a user or session id. In the all-in-one the
service and the worker share a process, so the service's /metrics shows both.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

from shared.queue.jobs import ALL_JOBS

KNOWN_FUNCTIONS = ALL_JOBS


def function_label(name: str) -> str:
    return name if name in KNOWN_FUNCTIONS else "other"


JOBS_STARTED = Counter("coach_jobs_started_total", "Jobs a worker started", ["function"])
JOBS_COMPLETED = Counter("coach_jobs_completed_total", "Jobs that returned", ["function"])
JOBS_FAILED = Counter("coach_jobs_failed_total", "Jobs that failed (and were not retried)", ["function"])
JOBS_RETRIED = Counter("coach_jobs_retried_total", "Job tries that failed and were scheduled again", ["function"])
JOBS_CANCELLED = Counter(
    "coach_jobs_cancelled_total", "Jobs cancelled while running (aborted, or cut off at shutdown)", ["function"]
)
JOB_DURATION = Histogram(
    "coach_job_duration_seconds",
    "Time one try of a job ran",
    ["function"],
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300),
)

LLM_CALLS = Counter("coach_llm_calls_total", "LLM calls by purpose and outcome", ["purpose", "outcome"])
LLM_LATENCY = Histogram(
    "coach_llm_call_duration_seconds",
    "LLM call time by purpose",
    ["purpose"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 16, 32, 64),
)
LLM_TOKENS = Counter("coach_llm_tokens_total", "LLM tokens by purpose and direction", ["purpose", "direction"])
LLM_RATE_WAIT = Counter(
    "coach_llm_rate_wait_seconds_total", "Seconds LLM calls waited in place for the shared rate budget, by purpose", ["purpose"]
)
LLM_RATE_DEFERRED = Counter(
    "coach_llm_rate_deferred_total", "LLM calls refused after LLM_MAX_WAIT_SECONDS (jobs deferred), by purpose", ["purpose"]
)

QUEUE_DEPTH = Gauge("coach_queue_jobs", "Jobs in the arq queue by function and state", ["function", "state"])
OUTBOX_SIZE = Gauge("coach_outbox_jobs", "Enqueues waiting in the outbox for Redis")
DEAD_LETTERS_OPEN = Gauge("coach_dead_letters_open", "Dead letters not yet resolved")
WEBSOCKETS_OPEN = Gauge("coach_websocket_connections", "Open chat WebSockets on this process")
