"""compose.yaml and the Dockerfile name commands that exist in this tree."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def load_compose() -> dict:
    return yaml.safe_load((ROOT / "compose.yaml").read_text())


def test_service_command_is_the_app_factory():
    command = load_compose()["services"]["service"]["command"]
    assert command[0] == "uvicorn" and "--factory" in command
    module, attr = command[1].split(":")
    factory = getattr(importlib.import_module(module), attr)
    assert callable(factory) and factory.__name__ == "create_app"
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert f'"{command[1]}"' in dockerfile


def test_worker_command_is_the_resilient_worker_and_its_check_loads_worker_settings(monkeypatch, redis_url):
    # Importing the worker settings runs its start-up checks: reachable Redis, memory:// on purpose.
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("ALLOW_IN_MEMORY_MONGODB", "true")
    worker = load_compose()["services"]["worker"]
    assert worker["command"] == ["python", "-m", "worker", "run"]
    from worker.__main__ import main as worker_cli  # the command's module and its `run` subcommand
    from worker.run import run_worker

    assert callable(worker_cli) and callable(run_worker)
    check = worker["healthcheck"]["test"][1:]
    assert check[:2] == ["arq", "--check"]
    module, _, attr = check[2].rpartition(".")
    settings_cls = getattr(importlib.import_module(module), attr)
    # The health check's worker is the product's background worker (tests/test_worker.py
    # names its functions and crons one by one).
    from shared.queue.jobs import CRON_SCHEDULES
    from worker.arq_options import FUNCTIONS

    assert settings_cls.functions == FUNCTIONS
    assert sorted(c.name for c in settings_cls.cron_jobs) == sorted(CRON_SCHEDULES)


def test_service_and_worker_restart_and_are_built_not_only_pulled():
    services = load_compose()["services"]
    for name in ("service", "worker"):
        assert services[name]["restart"] in {"always", "unless-stopped", "on-failure"}, name
        assert services[name]["build"] == ".", name


def test_every_setting_the_llm_client_reads_reaches_both_containers():
    services = load_compose()["services"]
    for name in ("service", "worker"):
        env = services[name]["environment"]
        assert {"ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL", "LLM_MODEL"} <= set(env), name


def test_readme_and_docs_start_workers_the_way_compose_does():
    command = " ".join(load_compose()["services"]["worker"]["command"])
    readme = (ROOT / "README.md").read_text()
    architecture = (ROOT / "docs" / "architecture.md").read_text()
    assert command in readme and command in architecture
    # Nowhere told to start the base arq Worker, which exits on the first Redis error.
    for text in (readme, architecture):
        assert not re.search(r"^\s*(\S*/)?arq worker\.settings\.WorkerSettings|\| `arq worker\.settings", text, re.M)


def test_service_health_check_hits_a_real_route():
    from starlette.routing import Route

    from service.app import create_app
    from shared.process.settings import Settings

    test = " ".join(load_compose()["services"]["service"]["healthcheck"]["test"])
    app = create_app(Settings(_env_file=None, jwt_secret="x" * 32, allow_in_memory_mongodb=True))
    paths = {r.path for r in app.routes if isinstance(r, Route)}
    assert "/healthz" in test and "/healthz" in paths


def test_compose_runs_real_mongo_and_redis_with_health_checks():
    services = load_compose()["services"]
    assert services["mongo"]["image"] == "mongo:7" and services["redis"]["image"] == "redis:7"
    assert all("healthcheck" in s for s in services.values())
    assert services["service"]["image"] == services["worker"]["image"]
    assert services["service"]["environment"]["MONGODB_URI"].startswith("mongodb://")


def test_service_command_cuts_off_slow_headers():
    from uvicorn.importer import import_from_string

    from service.header_timeout import HeaderTimeout

    command = load_compose()["services"]["service"]["command"]
    protocol = import_from_string(command[command.index("--http") + 1])
    assert issubclass(protocol, HeaderTimeout)
    assert f'"{command[command.index("--http") + 1]}"' in (ROOT / "Dockerfile").read_text()
