"""Prometheus samples as a scrape sees them (the public REGISTRY API, not a metric's privates)."""

from __future__ import annotations

from prometheus_client import REGISTRY


def sample(name: str, **labels: str) -> float:
    """The sample's value now; 0 for a label set not counted yet."""
    return REGISTRY.get_sample_value(name, labels) or 0.0


def rate_waited(purpose: str) -> float:
    return sample("coach_llm_rate_wait_seconds_total", purpose=purpose)


def rate_deferred(purpose: str) -> float:
    return sample("coach_llm_rate_deferred_total", purpose=purpose)


def open_sockets() -> float:
    """Chat sockets the in-process service holds: back to its earlier value once the service
    has finished with a closed socket (its place released, its extraction enqueued)."""
    return sample("coach_websocket_connections")
