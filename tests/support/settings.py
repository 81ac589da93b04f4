"""Settings for tests: one place for the values every test runs with (tests import them from
here, never from conftest, which pytest imports on its own terms)."""

from __future__ import annotations

import os
import uuid
from typing import Any

from shared.process.settings import Settings

TEST_MONGODB_URI = os.environ.get("TEST_MONGODB_URI")
JWT_SECRET = "test-secret-that-is-long-enough-0123456789"
ADMIN_EMAIL = "admin@example.com"


def make_settings(redis_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "mongodb_uri": TEST_MONGODB_URI or "memory://",
        "mongodb_db_name": f"coach_test_{uuid.uuid4().hex[:12]}",
        "redis_url": redis_url,
        "jwt_secret": JWT_SECRET,
        "worker_poll_delay_seconds": 0.01,
        "retry_base_seconds": 0.01,
        "retry_cap_seconds": 0.05,
        # Cheap hashing: the suite registers hundreds of users on two cores.
        "password_hash_time_cost": 1,
        "password_hash_memory_kib": 1024,
        "offline_stream_delay_ms": 0,  # the offline coach's reading pace would only slow the suite
        # Every test registers its users from 127.0.0.1 (tests/test_registration_limits.py
        # sets the limit it checks).
        "registrations_per_hour_per_address": 100_000,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]
