"""A bad setting is an exception inside library code, and exit 1 with one line naming the
variable at each entry point."""

from __future__ import annotations

import sys

import pytest

from shared.process.settings import SettingsError, exit_on_settings_error, load_settings


def test_a_settings_error_is_an_exception_not_an_exit():
    assert not issubclass(SettingsError, SystemExit)
    with pytest.raises(SettingsError, match="REDIS_URL"):
        load_settings(redis_url="http://redis:6379")


def test_an_entry_point_turns_it_into_exit_1_with_the_message():
    with pytest.raises(SystemExit) as stopped, exit_on_settings_error():
        load_settings(redis_url="http://redis:6379")
    assert isinstance(stopped.value.code, str) and stopped.value.code.startswith("invalid configuration: REDIS_URL:")


def test_the_operator_cli_exits_naming_the_variable(monkeypatch):
    from worker.__main__ import main

    monkeypatch.setenv("REDIS_URL", "http://redis:6379")
    monkeypatch.setattr(sys, "argv", ["python -m worker", "enqueue", "ping"])
    with pytest.raises(SystemExit) as stopped:
        main()
    assert str(stopped.value.code).startswith("invalid configuration: REDIS_URL:")


def test_the_uvicorn_factory_exits_and_the_library_call_raises(monkeypatch):
    from service.app import create_app
    from shared.process.settings import Settings

    monkeypatch.delenv("JWT_SECRET", raising=False)
    monkeypatch.setenv("ALLOW_IN_MEMORY_MONGODB", "true")
    with pytest.raises(SystemExit) as stopped:
        create_app()  # as uvicorn's --factory calls it
    assert "JWT_SECRET" in str(stopped.value.code)
    with pytest.raises(SettingsError, match="JWT_SECRET"):
        create_app(Settings(_env_file=None, allow_in_memory_mongodb=True))  # type: ignore[call-arg]
