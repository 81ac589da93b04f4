"""At most PASSWORD_HASH_CONCURRENCY argon2 hashes run at once; the other logins wait and succeed."""

from __future__ import annotations

import asyncio
import threading
import time

from service.app import create_app
from tests.support.client import Api
from tests.support.servers import serve_app
from tests.support.settings import make_settings


class CountingHasher:
    """Wraps the real hasher; records how many hash/verify calls overlap."""

    def __init__(self, hasher) -> None:
        self.hasher = hasher
        self.lock = threading.Lock()
        self.running = 0
        self.most = 0
        self.calls = 0

    def _timed(self, work, *args):
        with self.lock:
            self.running += 1
            self.calls += 1
            self.most = max(self.most, self.running)
        try:
            time.sleep(0.02)  # long enough that unbounded calls would overlap
            return work(*args)
        finally:
            with self.lock:
                self.running -= 1

    def hash(self, password):
        return self._timed(self.hasher.hash, password)

    def verify(self, password_hash, password):
        return self._timed(self.hasher.verify, password_hash, password)


async def test_concurrent_logins_wait_for_a_hashing_slot_and_all_succeed(redis_url, mongo_client):
    settings = make_settings(redis_url, llm_provider="offline", password_hash_concurrency=2)
    app = create_app(settings, mongo_client=mongo_client)
    async with serve_app(app) as url, Api(url) as api:
        users = [await api.new_user(password="pass-word-1") for _ in range(3)]
        counting = CountingHasher(app.state.resources.passwords.hasher)
        app.state.resources.passwords.hasher = counting

        logins = [
            api.http.post(
                "/api/v1/auth/login", json={"email": users[i % 3].email, "password": "pass-word-1" if i % 4 else "wrong-password"}
            )
            for i in range(24)
        ]
        answers = await asyncio.gather(*logins)
    assert sorted({a.status_code for a in answers}) == [200, 401]
    assert sum(a.status_code == 200 for a in answers) == 18
    assert counting.calls == 24
    assert counting.most == 2


def test_the_limit_defaults_to_the_number_of_cores(redis_url):
    import os

    assert make_settings(redis_url).password_hash_concurrency == (os.cpu_count() or 1)
