"""Admin is a stored role that only an operator grants; registering an address grants nothing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from shared.store.mongo import USERS
from worker.users_cli import change_admin

ROOT = Path(__file__).resolve().parent.parent
ADMIN_VIEW = "/api/v1/admin/failed-jobs"


async def register_and_login(api, email: str, password: str = "admin-password"):
    registered = await api.http.post("/api/v1/auth/register", json={"email": email, "password": password})
    assert registered.status_code == 201, registered.text
    return await api.login(email, password, registered.json()["user_id"])


@pytest.mark.parametrize("email", ["admin@example.com", "Admin@EXAMPLE.com", "ADMIN@example.com"])
async def test_registering_the_admins_address_first_grants_nothing(api, db, monkeypatch, email):
    # The old attack: ADMIN_EMAILS named the address, so whoever registered it first was admin.
    monkeypatch.setenv("ADMIN_EMAILS", "admin@example.com")
    attacker = await register_and_login(api, email)
    assert (await api.http.get(ADMIN_VIEW, headers=attacker.headers)).status_code == 403
    assert (await api.http.post(f"{ADMIN_VIEW}/requeue", headers=attacker.headers)).status_code == 403
    stored = await db[USERS].find_one({"email": "admin@example.com"})
    assert "roles" not in stored


async def test_operator_grants_and_revokes_and_it_holds_at_once(api, db, capsys):
    ops = await register_and_login(api, "ops@example.com")
    assert (await api.http.get(ADMIN_VIEW, headers=ops.headers)).status_code == 403

    assert await change_admin(db, "grant-admin", "OPS@example.com") == 0
    assert "ops@example.com: is an admin" in capsys.readouterr().out
    assert (await api.http.get(ADMIN_VIEW, headers=ops.headers)).status_code == 200  # same token, no re-login
    assert await change_admin(db, "grant-admin", "ops@example.com") == 0  # idempotent
    assert (await db[USERS].find_one({"email": "ops@example.com"}))["roles"] == ["admin"]
    assert await change_admin(db, "list-admins", None) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "ops@example.com"

    assert await change_admin(db, "revoke-admin", "ops@example.com") == 0
    assert (await api.http.get(ADMIN_VIEW, headers=ops.headers)).status_code == 403


async def test_granting_an_address_nobody_registered_fails_and_grants_nothing_later(api, db, capsys):
    assert await change_admin(db, "grant-admin", "later@example.com") == 1
    assert "must register first" in capsys.readouterr().err
    late = await register_and_login(api, "later@example.com")
    assert (await api.http.get(ADMIN_VIEW, headers=late.headers)).status_code == 403


def run_cli(*args: str, **env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in {"MONGODB_URI", "ADMIN_EMAILS"}}
    return subprocess.run(
        [sys.executable, "-m", "worker", *args], cwd=ROOT, env={**clean, **env}, capture_output=True, text=True, timeout=60
    )


@pytest.mark.slow  # a product process (python -m ...)
def test_cli_refuses_the_in_memory_database_and_names_the_all_in_one_way():
    done = run_cli("users", "grant-admin", "ops@example.com", MONGODB_URI="memory://")
    assert done.returncode == 2 and "--admin EMAIL" in done.stderr


@pytest.mark.slow  # a product process (python -m ...)
def test_cli_needs_an_email_to_grant():
    done = run_cli("users", "grant-admin")
    assert done.returncode == 2 and "needs an EMAIL" in done.stderr
