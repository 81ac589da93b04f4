"""The worker's Prometheus listener on WORKER_METRICS_PORT (off when unset).

prometheus-client's own small HTTP server, on a thread: a scrape never waits on the event
loop, so a loop busy with hundreds of jobs still answers. It serves this process's
counters (jobs, LLM calls); queue depth, outbox and dead letters come from the service's
/metrics, which reads them from Redis and MongoDB.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator

from prometheus_client import start_http_server

from shared.process.settings import Settings

log = logging.getLogger("worker.metrics")


@contextlib.contextmanager
def metrics_listener(settings: Settings) -> Iterator[int | None]:
    """Serve /metrics while the block runs; yields the port, or None when switched off."""
    if settings.worker_metrics_port is None:
        yield None
        return
    server, thread = start_http_server(settings.worker_metrics_port, addr=settings.host)
    log.info("worker metrics on http://%s:%s/metrics", settings.host, settings.worker_metrics_port)
    try:
        yield settings.worker_metrics_port
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
