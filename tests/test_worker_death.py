"""A worker that dies of an error it cannot ride out ends its process, non-zero, saying why.

The honest way to kill it: QUEUE_NAME names a Redis key that holds a string, so the
worker's first poll gets WRONGTYPE, which no amount of retrying fixes.
"""

from __future__ import annotations

import pytest
import redis

from allinone.redis_process import free_port
from tests.support.processes import exit_code, start, stop

pytestmark = pytest.mark.slow  # every test starts a worker or the all-in-one as a process


def occupy_queue_key(redis_url: str) -> str:
    client = redis.Redis.from_url(redis_url)
    client.set("not-a-queue", "someone else's string")
    client.close()
    return "not-a-queue"


async def test_allinone_exits_non_zero_when_its_worker_dies(redis_url, tmp_path):
    log_path = tmp_path / "allinone.log"
    proc = start(["-m", "allinone"], log_path, PORT=str(free_port()), REDIS_URL=redis_url, QUEUE_NAME=occupy_queue_key(redis_url))
    try:
        code = await exit_code(proc)
    finally:
        await stop(proc)
    text = log_path.read_text()
    assert code == 3, text
    assert "the worker stopped (ResponseError: WRONGTYPE" in text and "stopping the service too" in text


async def test_standalone_worker_exits_non_zero_when_it_dies(redis_url, tmp_path):
    log_path = tmp_path / "worker.log"
    proc = start(
        ["-m", "worker", "run"],
        log_path,
        REDIS_URL=redis_url,
        ALLOW_IN_MEMORY_MONGODB="true",
        QUEUE_NAME=occupy_queue_key(redis_url),
    )
    try:
        code = await exit_code(proc)
    finally:
        await stop(proc)
    text = log_path.read_text()
    assert code == 1, text
    assert "stopped on an error it cannot ride out" in text and "WRONGTYPE" in text
