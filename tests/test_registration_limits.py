"""Registration cannot take the service from the users it has: per-address throttling, the
logins' precedence in argon2's queue, a capped password, one account per address however
it is spelt. Real HTTP, a real redis-server."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from typing import Any

from service.app import create_app
from shared.store.mongo import USERS
from tests.support.client import Api
from tests.support.servers import serve_app
from tests.support.settings import make_settings


def register(api: Api, email: str, password: str = "correct horse") -> Any:
    return api.http.post("/api/v1/auth/register", json={"email": email, "password": password})


def new_email() -> str:
    return f"user-{uuid.uuid4().hex[:10]}@example.com"


async def test_registrations_past_the_hourly_limit_per_address_get_429_and_hash_nothing(redis_url, mongo_client):
    settings = make_settings(redis_url, llm_provider="offline", registrations_per_hour_per_address=3)
    app = create_app(settings, mongo_client=mongo_client)
    async with serve_app(app) as url, Api(url) as api:
        statuses = [(await register(api, new_email())).status_code for _ in range(3)]
        hashes = OrderRecorder(app.state.resources.passwords.hasher)
        app.state.resources.passwords.hasher = hashes
        refused = await register(api, new_email())
        # Logins of the accounts made are not registrations: they still get in.
        users = await mongo_client[settings.mongodb_db_name][USERS].find({}, {"email": 1}).to_list(None)
        logged_in = await api.http.post("/api/v1/auth/login", json={"email": users[0]["email"], "password": "correct horse"})
    assert statuses == [201, 201, 201]
    assert refused.status_code == 429
    assert "registrations" in refused.json()["detail"]
    assert 1100 <= int(refused.headers["Retry-After"]) <= 1200  # one registration's worth of 3 an hour
    assert hashes.order == ["verify"]  # the refused registration cost no argon2 work
    assert logged_in.status_code == 200


class OrderRecorder:
    """Wraps the real hasher: records which calls start, in order; each takes a moment so
    that queued calls really wait. With `hold_hashes_for_verify`, a hash (a registration)
    does not finish before a verify (a login) has started, at most 10 s: whether the login
    overtakes the queue then depends on the slots alone, not on how fast this machine is."""

    def __init__(self, hasher: Any, *, hold_hashes_for_verify: bool = False) -> None:
        self.hasher = hasher
        self.lock = threading.Lock()
        self.order: list[str] = []
        self.verify_started = threading.Event()
        self.hold_hashes_for_verify = hold_hashes_for_verify

    def _run(self, name: str, work: Any, *args: Any) -> Any:
        with self.lock:
            self.order.append(name)
        if name == "verify":
            self.verify_started.set()
        elif self.hold_hashes_for_verify:
            self.verify_started.wait(timeout=10)
        time.sleep(0.03)
        return work(*args)

    def hash(self, password: str) -> str:
        return self._run("hash", self.hasher.hash, password)  # type: ignore[no-any-return]

    def verify(self, password_hash: str, password: str) -> bool:
        return self._run("verify", self.hasher.verify, password_hash, password)  # type: ignore[no-any-return]


async def test_a_login_goes_before_a_queue_of_registrations(redis_url, mongo_client):
    """Issue 25: 200 registrations took another user's login from ~120 ms to 4 s, because
    the login queued behind every one of them for argon2."""
    settings = make_settings(
        redis_url, llm_provider="offline", password_hash_concurrency=2, registrations_per_hour_per_address=1000
    )
    app = create_app(settings, mongo_client=mongo_client)
    async with serve_app(app) as url, Api(url) as api:
        user = await api.new_user()
        passwords = app.state.resources.passwords
        recorder = OrderRecorder(passwords.hasher, hold_hashes_for_verify=True)
        passwords.hasher = recorder
        entered = 0
        hash_registration = passwords.hash

        async def counted(password: str) -> str:
            nonlocal entered
            entered += 1
            return await hash_registration(password)

        passwords.hash = counted
        registrations = [asyncio.create_task(register(api, new_email())) for _ in range(12)]
        async with asyncio.timeout(10):
            while entered < 12:  # every registration is waiting for (or running) a hash
                await asyncio.sleep(0.005)
        login = await api.http.post("/api/v1/auth/login", json={"email": user.email, "password": user.password})
        registered = await asyncio.gather(*registrations)
    assert login.status_code == 200
    assert [r.status_code for r in registered] == [201] * 12
    # At most concurrency // 2 = 1 registration ever holds or waits for a slot: the login's
    # verify starts second or third, not thirteenth.
    assert recorder.order.index("verify") <= 2, recorder.order


async def test_passwords_are_capped_at_1024_characters_before_argon2(api):
    at_cap = await register(api, new_email(), "p" * 1024)
    over = await register(api, new_email(), "p" * 1025)
    login_over = await api.http.post("/api/v1/auth/login", json={"email": new_email(), "password": "p" * 1025})
    assert at_cap.status_code == 201
    assert over.status_code == 422 and over.json()["errors"][0]["field"] == "password"
    assert login_over.status_code == 422


async def test_an_address_in_fullwidth_letters_is_the_same_account(api, db):
    """`ａdmin@example.com` used to register a second account beside `admin@example.com`."""
    plain = f"owner-{uuid.uuid4().hex[:8]}@example.com"
    fullwidth = "".join(chr(ord(c) + 0xFEE0) if c.isascii() and c.isalnum() else c for c in plain)
    assert fullwidth != plain
    assert (await register(api, plain)).status_code == 201
    again = await register(api, fullwidth)
    assert again.status_code == 409
    assert (await register(api, "ＯＷＮＥＲ" + plain.removeprefix("owner"))).status_code == 409
    logged_in = await api.http.post("/api/v1/auth/login", json={"email": fullwidth.upper(), "password": "correct horse"})
    assert logged_in.status_code == 200
    assert await db[USERS].count_documents({}) == 1
