"""One factory, one owner: resources close what they opened and nothing handed in; settings
handed to the worker are used, never loaded again."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from mongomock_motor import AsyncMongoMockClient

import shared.process.resources
import worker.resources
from service.app import create_app
from shared.process.resources import open_resources
from tests.support.servers import serve_app


class Closable:
    def __init__(self, inner: Any = None) -> None:
        self.inner, self.closed = inner, 0

    def __getitem__(self, name: str) -> Any:
        return self.inner[name]

    def close(self) -> None:
        self.closed += 1

    async def aclose(self) -> None:
        self.closed += 1


async def test_what_was_handed_in_stays_open(settings):
    client, llm = Closable(AsyncMongoMockClient(tz_aware=True)), Closable()
    async with open_resources(settings, mongo_client=client, llm=llm) as resources:
        assert resources.llm is llm and resources.settings is settings
    assert client.closed == 0 and llm.closed == 0


async def test_what_the_factory_opened_it_closes(settings, monkeypatch):
    made: list[Closable] = []
    monkeypatch.setattr(
        shared.process.resources,
        "create_mongo_client",
        lambda s: made.append(Closable(AsyncMongoMockClient(tz_aware=True))) or made[-1],
    )
    monkeypatch.setattr(shared.process.resources, "create_llm", lambda s, **_: made.append(Closable()) or made[-1])
    async with open_resources(settings):
        assert [m.closed for m in made] == [0, 0]
    assert [m.closed for m in made] == [1, 1]


async def test_the_worker_uses_the_settings_it_is_handed(settings, arq_pool, monkeypatch):
    def load_settings() -> None:
        raise AssertionError("settings were handed in; loading them again reads the environment")

    monkeypatch.setattr(worker.resources, "load_settings", load_settings)
    llm = Closable()
    client = AsyncMongoMockClient(tz_aware=True)
    # `redis`: arq's pool, which arq puts in the ctx before it calls on_startup.
    ctx: dict[str, Any] = {"settings": settings, "mongo_client": client, "llm": llm, "redis": arq_pool}
    await worker.resources.startup(ctx)
    resources = worker.resources.worker_resources(ctx)
    assert resources.settings is settings and resources.llm is llm and resources.mongo_client is client
    assert resources.redis is arq_pool
    await worker.resources.shutdown(ctx)
    assert llm.closed == 0  # handed in, so not ours to close
    await worker.resources.shutdown(ctx)  # a second shutdown is harmless


@pytest.mark.parametrize("handed_in", [False, True])
async def test_the_worker_closes_only_its_own_llm(settings, arq_pool, monkeypatch, handed_in):
    made = Closable()
    monkeypatch.setattr(shared.process.resources, "create_llm", lambda s, **_: made)
    ctx: dict[str, Any] = {"settings": settings, "mongo_client": AsyncMongoMockClient(tz_aware=True), "redis": arq_pool}
    if handed_in:
        ctx["llm"] = Closable()
    await worker.resources.startup(ctx)
    await worker.resources.shutdown(ctx)
    assert made.closed == (0 if handed_in else 1)


async def test_the_service_opens_no_llm_client(settings, mongo_client, monkeypatch):
    """Every LLM call is a worker job; a client in the service would only cost a TLS context."""

    def create_llm(*_: Any, **__: Any) -> None:
        raise AssertionError("the service opened an LLM client")

    monkeypatch.setattr(shared.process.resources, "create_llm", create_llm)
    async with serve_app(create_app(settings, mongo_client=mongo_client)) as url, httpx.AsyncClient(base_url=url) as http:
        registered = await http.post("/api/v1/auth/register", json={"email": "a@example.com", "password": "correct horse"})
        assert registered.status_code == 201, registered.text


async def test_a_job_context_is_the_startups_resources_and_arqs_job_fields(settings, arq_pool):
    from tests.support.job_ctx import job_ctx
    from worker.context import job_context

    job = job_context(job_ctx(settings, None, arq_pool, job_id="j1", job_try=3))
    assert (job.job_id, job.job_try, job.resources.redis) == ("j1", 3, arq_pool)
    outside_arq = job_context(job_ctx(settings, None, arq_pool))
    assert (outside_arq.job_id, outside_arq.job_try) == (None, 1)
    with pytest.raises(RuntimeError, match="startup has not run"):
        job_context({"redis": arq_pool, "job_id": "j1", "job_try": 1})


async def test_the_worker_starts_only_with_arqs_pool_in_its_ctx(settings):
    ctx: dict[str, Any] = {"settings": settings, "mongo_client": AsyncMongoMockClient(tz_aware=True)}
    with pytest.raises(TypeError, match="not arq's pool"):
        await worker.resources.startup(ctx)
    assert worker.resources.EXIT_STACK not in ctx  # it failed before opening anything
