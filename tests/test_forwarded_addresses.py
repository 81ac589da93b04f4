"""Which client address the per-address limits count: the connection's own, unless a proxy
named in FORWARDED_ALLOW_IPS forwarded the request. A rotating X-Forwarded-For from a host
that is not a trusted proxy (loopback included) changes nothing.

Issue 25: uvicorn trusted X-Forwarded-For from loopback by default, so the login and
registration limits per address could be dodged from the same host with a new header value
on every request. The launchers now pass `--no-proxy-headers` and the app decides."""

from __future__ import annotations

import contextlib
import signal
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from service.app import create_app
from shared.process.settings import SettingsError, load_settings
from tests.support.client import Api
from tests.support.processes import start_allinone, stop_now
from tests.support.servers import serve_app

ROOT = Path(__file__).resolve().parent.parent
WRONG = "not the password"


@contextlib.asynccontextmanager
async def launched(settings: Any, mongo_client: Any, **overrides: Any) -> AsyncIterator[Api]:
    """The service as the product's launchers start it: uvicorn's own proxy handling off."""
    app = create_app(settings.model_copy(update=overrides), mongo_client=mongo_client)
    async with serve_app(app, proxy_headers=False) as url, Api(url) as api:
        yield api


async def failed_logins_with_rotating_forwarded_for(api: Api, n: int) -> list[int]:
    statuses = []
    for i in range(n):
        response = await api.http.post(
            "/api/v1/auth/login",
            json={"email": f"nobody{i}@example.com", "password": WRONG},
            headers={"X-Forwarded-For": f"198.51.100.{i + 1}"},
        )
        statuses.append(response.status_code)
    return statuses


async def test_by_default_a_rotating_forwarded_for_does_not_dodge_the_address_limit(settings, mongo_client):
    async with launched(settings, mongo_client, login_address_failures_per_minute=3) as api:
        assert await failed_logins_with_rotating_forwarded_for(api, 5) == [401, 401, 401, 429, 429]


async def test_a_proxy_named_in_forwarded_allow_ips_is_believed(settings, mongo_client):
    """Behind a proxy, each client is counted on its own: the proxy's address is not one client."""
    trusting = {"login_address_failures_per_minute": 3, "forwarded_allow_ips": "127.0.0.1"}
    async with launched(settings, mongo_client, **trusting) as api:
        assert await failed_logins_with_rotating_forwarded_for(api, 5) == [401] * 5
        # The forwarded client itself is limited: the same forwarded address, again and again.
        again = [
            (
                await api.http.post(
                    "/api/v1/auth/login",
                    json={"email": "nobody@example.com", "password": WRONG},
                    headers={"X-Forwarded-For": "203.0.113.7"},
                )
            ).status_code
            for _ in range(4)
        ]
        assert again == [401, 401, 401, 429]


async def test_a_proxy_not_named_is_not_believed_and_registrations_count_alike(settings, mongo_client):
    limits = {"forwarded_allow_ips": "10.0.0.0/8", "registrations_per_hour_per_address": 2}
    async with launched(settings, mongo_client, **limits) as api:
        statuses = [
            (
                await api.http.post(
                    "/api/v1/auth/register",
                    json={"email": f"new{i}@example.com", "password": "correct horse"},
                    headers={"X-Forwarded-For": f"198.51.100.{i + 1}"},
                )
            ).status_code
            for i in range(3)
        ]
    assert statuses == [201, 201, 429]


@pytest.mark.parametrize("value", ["localhost", "10.0.0.0/33", "1.2.3.4, nope"])
def test_a_bad_forwarded_allow_ips_fails_at_start_naming_the_variable(value):
    with pytest.raises(SettingsError) as error:
        load_settings(forwarded_allow_ips=value)
    assert "FORWARDED_ALLOW_IPS" in str(error.value)


def test_the_deployed_service_command_leaves_forwarded_for_to_the_app():
    command = yaml.safe_load((ROOT / "compose.yaml").read_text())["services"]["service"]["command"]
    assert "--no-proxy-headers" in command
    assert '"--no-proxy-headers"' in (ROOT / "Dockerfile").read_text()


@pytest.mark.slow  # a product process (python -m allinone)
async def test_the_allinone_does_not_believe_a_forwarded_for_from_loopback(tmp_path):
    allinone = await start_allinone(tmp_path, LOGIN_ADDRESS_FAILURES_PER_MINUTE="3")
    try:
        async with Api(allinone.url) as api:
            assert await failed_logins_with_rotating_forwarded_for(api, 5) == [401, 401, 401, 429, 429]
        allinone.proc.send_signal(signal.SIGTERM)
        assert allinone.proc.wait(30) == 0
    finally:
        stop_now(allinone.proc)
