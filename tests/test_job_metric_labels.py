"""/metrics counts every job under its own name: none as "other", ping too."""

from __future__ import annotations

import pytest

from shared.process.metrics import function_label
from shared.queue.jobs import ALL_JOBS
from tests.support.metrics import sample as sample_of
from worker.arq_options import CHAT_FUNCTIONS, FUNCTIONS, cron_jobs


def sample(name: str, function: str) -> float:
    return sample_of(name, function=function)


def test_every_job_the_worker_runs_has_its_own_label():
    names = {f.__name__ for f in FUNCTIONS + CHAT_FUNCTIONS} | {c.name for c in cron_jobs()}
    assert names <= ALL_JOBS
    assert {name: function_label(name) for name in names} == {name: name for name in names}
    for name in ("generate_reply", "rebuild_recall_cache", "generate_reflection"):
        assert function_label(name) == name
    assert function_label("no_such_job") == "other"


@pytest.mark.parametrize("metric", ["coach_jobs_started_total", "coach_jobs_completed_total"])
async def test_ping_is_counted(metric, ctx):
    [ping] = [f for f in FUNCTIONS if f.__name__ == "ping"]
    before = sample(metric, "ping")
    assert await ping(ctx) == "pong"
    assert sample(metric, "ping") == before + 1


async def test_a_history_write_that_fails_is_said_once_as_a_warning(monkeypatch, caplog):
    from worker import job_metrics

    monkeypatch.setattr(job_metrics, "_last_warning", -job_metrics.HISTORY_WARNING_EVERY_SECONDS)

    async def fails() -> None:
        raise ConnectionError("Redis went away")

    with caplog.at_level("DEBUG", logger="worker.job_metrics"):
        await job_metrics.best_effort(fails())
        await job_metrics.best_effort(fails())
    warnings = [r for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1 and "Redis went away" in warnings[0].getMessage()
