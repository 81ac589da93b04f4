"""Token accounting and the daily budget: every LLM call recorded, totals that match what the
provider reported, and a user over budget refused chat while their extraction waits a day."""

from __future__ import annotations

import contextlib
import json
from datetime import UTC, datetime, timedelta

import pytest

from shared.process import clock
from shared.process.settings import ModelPrice
from shared.store.llm_usage import LLM_USAGE
from shared.store.mongo import FAILED_JOBS, SESSION_CONTEXTS
from shared.store.users import ADMIN, grant_role
from tests.support.client import say
from tests.support.product import serve_product
from tests.support.running_worker import running_worker, wait_for

PRICES = {"claude-sonnet-5-5": {"input_per_mtok": 3, "output_per_mtok": 15}}


@contextlib.asynccontextmanager
async def service(settings, mongo_client):
    async with serve_product(settings, mongo_client) as client:
        yield client


async def test_usage_totals_equal_what_the_provider_reported(settings, mongo_client, db, stub_llm):
    priced = settings.model_copy(update={"llm_prices": {model: ModelPrice(**price) for model, price in PRICES.items()}})
    async with service(priced, mongo_client) as api:
        alice, bob = await api.new_user(), await api.new_user()
        await api.chat(alice, "I want to run a marathon", "I will train on Mondays")
        await api.chat(bob, "I prefer mornings")
        await api.logout(alice)
        async with running_worker(priced, mongo_client) as worker:
            # Both sessions ended (alice's socket close and logout share one job id).
            await wait_for(lambda: _count(db[SESSION_CONTEXTS], {}, 2))
            await wait_for(lambda: _idle(worker))
        alice = await api.login(alice.email, alice.password, alice.user_id)  # logged out above

        mine = (await api.http.get("/api/v1/usage?days=1", headers=alice.headers)).json()
        by_purpose = {row["purpose"]: row for row in mine["daily"]}
        assert by_purpose["chat"]["calls"] == 2 and by_purpose["extraction"]["calls"] == 1
        assert by_purpose["chat"]["input_tokens"] == 20 and by_purpose["chat"]["output_tokens"] == 24
        expected_cost = (by_purpose["chat"]["input_tokens"] * 3 + by_purpose["chat"]["output_tokens"] * 15) / 1e6
        assert by_purpose["chat"]["cost_usd"] == pytest.approx(expected_cost)

        assert (await api.http.get("/api/v1/admin/usage?days=1", headers=alice.headers)).status_code == 403
        await grant_role(db, bob.email, ADMIN)
        report = (await api.http.get("/api/v1/admin/usage?days=1", headers=bob.headers)).json()
        # Everything the stub reported, chat streams included, and nothing else.
        assert sum(u["input_tokens"] for u in report["by_user"]) == stub_llm.reported_input_tokens
        assert sum(u["output_tokens"] for u in report["by_user"]) == stub_llm.reported_output_tokens
        assert sum(d["input_tokens"] for d in report["by_day"]) == stub_llm.reported_input_tokens
        assert {u["user_id"] for u in report["by_user"]} == {alice.user_id, bob.user_id}
        assert (await api.http.get("/api/v1/usage?days=0", headers=alice.headers)).status_code == 422


async def test_cost_is_unknown_when_a_model_has_no_price(settings, mongo_client, db, stub_llm):
    async with service(settings, mongo_client) as api:
        alice = await api.new_user()
        await api.chat(alice, "hello")
        await wait_for(lambda: _count(db[LLM_USAGE], {}))
        rows = (await api.http.get("/api/v1/usage", headers=alice.headers)).json()["daily"]
    assert rows[0]["cost_usd"] is None and rows[0]["calls"] == 1


async def test_a_user_over_budget_is_refused_chat_and_their_extraction_runs_the_next_day(
    settings, mongo_client, db, stub_llm, monkeypatch
):
    budgeted = settings.model_copy(update={"user_daily_token_budget": 30})
    today = datetime(2026, 3, 1, 23, 59, 58, tzinfo=UTC)
    monkeypatch.setattr(clock, "now", lambda: today)
    async with service(budgeted, mongo_client) as api:
        alice, bob = await api.new_user(), await api.new_user()
        async with api.connect(alice) as ws:
            first = await say(ws, "I want to run a marathon")  # 22 tokens: under budget
            second = await say(ws, "I will train on Mondays")  # 44: over it now
            refused = await say(ws, "still there?")
        assert first[-1]["type"] == "done" and second[-1]["type"] == "done"
        assert refused == [
            {"type": "error", "code": "budget_exhausted", "detail": refused[0]["detail"], "resets_at": "2026-03-02T00:00:00Z"}
        ]
        assert len(stub_llm.chat_requests) == 2  # the refused message never reached the LLM
        assert (await api.chat(bob, "hello"))[0][-1]["type"] == "done"  # others are not affected

        await api.logout(alice)
        async with running_worker(budgeted, mongo_client) as worker:
            await wait_for(lambda: _retried(worker))  # deferred to midnight (2 s away on this clock)
            assert _extractions_of_alice(stub_llm) == []
            monkeypatch.setattr(clock, "now", lambda: today + timedelta(seconds=3))  # the next day
            await wait_for(lambda: _count(db[SESSION_CONTEXTS], {"user_id": alice.user_id}), seconds=15)
            await wait_for(lambda: _idle(worker))
        assert len(_extractions_of_alice(stub_llm)) == 1
        assert await db[FAILED_JOBS].count_documents({}) == 0


def _extractions_of_alice(stub_llm):
    return [r for r in stub_llm.extraction_requests if "marathon" in json.dumps(r)]


async def _retried(worker):
    return worker.jobs_retried >= 1


async def _count(collection, query, at_least=1):
    return await collection.count_documents(query) >= at_least


async def _idle(worker):
    return worker.jobs_complete >= 1 and all(task.done() for task in worker.tasks.values())


async def test_a_usage_record_that_cannot_be_written_does_not_lose_the_answer(settings, stub_llm, caplog):
    from shared.llm.anthropic_provider import AnthropicProvider
    from shared.llm.metered import MeteredLLM
    from shared.models import ChatMessage

    class Unwritable:
        async def insert_one(self, document):
            raise ConnectionError("mongo is away")

    llm = MeteredLLM(AnthropicProvider(settings), settings, None, {LLM_USAGE: Unwritable()})  # type: ignore[arg-type]
    transcript = [ChatMessage(id="m1", role="user", content="I want to run", timestamp=datetime.now(UTC))]
    try:
        reply = await llm.extract_context(transcript)
    finally:
        await llm.aclose()
    assert reply.usage.output_tokens == 20
    assert "could not record LLM usage" in caplog.text


def test_prices_come_from_json_or_a_file_and_bad_ones_stop_the_start(tmp_path, monkeypatch):
    from shared.process.settings import SettingsError, load_settings

    prices = tmp_path / "prices.json"
    prices.write_text('{"cheap": {"input_per_mtok": 0.25, "output_per_mtok": 1.25}}')
    monkeypatch.setenv("LLM_PRICES", str(prices))
    assert load_settings(_env_file=None).llm_prices["cheap"].output_per_mtok == 1.25
    monkeypatch.setenv("LLM_PRICES", '{"m": {"input_per_mtok": 3, "output_per_mtok": 15}}')
    assert load_settings(_env_file=None).llm_prices["m"].input_per_mtok == 3
    for bad in (str(tmp_path / "missing.json"), '{"m": {"input_per_mtok": -1, "output_per_mtok": 1}}'):
        monkeypatch.setenv("LLM_PRICES", bad)
        with pytest.raises(SettingsError, match="LLM_PRICES"):
            load_settings(_env_file=None)


async def test_a_reflection_runs_on_its_own_model_and_is_recorded_as_a_reflection(settings, db, stub_llm):
    from shared.llm import create_llm
    from shared.llm.attribution import attribute_llm_calls
    from shared.models import ContextNote, RecalledPoint
    from shared.store.llm_usage import LLM_USAGE

    llm = create_llm(settings.model_copy(update={"reflection_model": "reflect-model"}), db=db)
    notes = [
        ContextNote(id="c1", created_at=datetime.now(UTC), points=[RecalledPoint(kind="goal", content="run a half marathon")])
    ]
    attribute_llm_calls("u-reflect")
    try:
        reply = await llm.reflect(notes)
    finally:
        await llm.aclose()
    assert stub_llm.requests[-1]["model"] == "reflect-model" and reply.model == "reflect-model"
    [record] = await db[LLM_USAGE].find({"user_id": "u-reflect"}).to_list(length=None)
    assert record["purpose"] == "reflection" and record["model"] == "reflect-model"
    assert record["input_tokens"] + record["output_tokens"] == reply.usage.input_tokens + reply.usage.output_tokens > 0
