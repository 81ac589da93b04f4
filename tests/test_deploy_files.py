"""compose.yaml and the Dockerfile name commands that exist in this tree."""

from __future__ import annotations

import importlib
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


def test_worker_command_and_check_load_worker_settings(monkeypatch):
    worker = load_compose()["services"]["worker"]
    assert worker["command"][0] == "arq"
    assert worker["healthcheck"]["test"][1:] == ["arq", "--check", worker["command"][1]]
    module, _, attr = worker["command"][1].rpartition(".")
    settings_cls = getattr(importlib.import_module(module), attr)
    assert [f.__name__ for f in settings_cls.functions] == ["extract_session_context", "summarize_sessions", "ping"]
    assert sorted(c.name for c in settings_cls.cron_jobs) == ["decay_memories", "prune_memories"]


def test_service_health_check_hits_a_real_route():
    from starlette.routing import Route

    from service.app import create_app
    from shared.settings import Settings

    test = " ".join(load_compose()["services"]["service"]["healthcheck"]["test"])
    app = create_app(Settings(_env_file=None, jwt_secret="x" * 32))
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
