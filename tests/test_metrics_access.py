"""`/metrics` is not public unless METRICS_PUBLIC says so: its gauges (open sockets, file
descriptors, queue depth) are a live view of an attack for whoever mounts one."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest
from pydantic import SecretStr

from service.app import create_app
from shared.process.settings import SettingsError, load_settings
from shared.store.users import ADMIN, grant_role
from tests.support.client import Api
from tests.support.servers import serve_app

SCRAPE_TOKEN = "prometheus-scrape-token-0123456789abcdef"


@contextlib.asynccontextmanager
async def service(settings: Any, mongo_client: Any, **overrides: Any) -> AsyncIterator[Api]:
    async with serve_app(create_app(settings.model_copy(update=overrides), mongo_client=mongo_client)) as url:
        async with Api(url) as api:
            yield api


async def test_by_default_metrics_answer_admins_and_the_scrape_token_only(settings, mongo_client, db):
    async with service(settings, mongo_client, metrics_token=SecretStr(SCRAPE_TOKEN)) as api:
        user = await api.new_user()
        admin = await api.new_user()
        assert await grant_role(db, admin.email, ADMIN)
        anonymous = await api.http.get("/metrics")
        as_user = await api.http.get("/metrics", headers=user.headers)
        wrong_token = await api.http.get("/metrics", headers={"Authorization": "Bearer " + SCRAPE_TOKEN[:-1] + "x"})
        as_admin = await api.http.get("/metrics", headers=admin.headers)
        as_scraper = await api.http.get("/metrics", headers={"Authorization": f"Bearer {SCRAPE_TOKEN}"})
    assert anonymous.status_code == 401 and "process_open_fds" not in anonymous.text
    assert as_user.status_code == 403 and "process_open_fds" not in as_user.text
    assert wrong_token.status_code == 401
    assert as_admin.status_code == 200 and "coach_metrics_source_up" in as_admin.text
    assert as_scraper.status_code == 200 and "coach_metrics_source_up" in as_scraper.text


async def test_metrics_public_opens_them_to_anyone(settings, mongo_client):
    async with service(settings, mongo_client, metrics_public=True) as api:
        scrape = await api.http.get("/metrics")
    assert scrape.status_code == 200 and "coach_metrics_source_up" in scrape.text


def test_a_short_scrape_token_fails_at_start_naming_the_variable(settings):
    with pytest.raises(SettingsError) as error:
        load_settings(metrics_token="short")
    assert "METRICS_TOKEN" in str(error.value)
