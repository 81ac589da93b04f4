"""docs/configuration.md is generated from `Settings`: it cannot drift from the code."""

from __future__ import annotations

from shared.process.settings import Settings
from shared.process.settings_doc import DOC_PATH, render


def test_configuration_doc_is_up_to_date():
    assert DOC_PATH.read_text() == render(), "run: .venv/bin/python -m shared.process.settings_doc"


def test_every_setting_says_what_it_does():
    assert [name for name, field in Settings.model_fields.items() if not field.description] == []


def test_no_machine_dependent_default_in_the_doc():
    # The runtime folder's real default is this checkout's absolute path.
    assert str(DOC_PATH.parents[1]) not in render()


def test_every_setting_belongs_to_a_group():
    from shared.process.settings import SETTING_GROUPS

    grouped = [name for group in SETTING_GROUPS for name in group.model_fields]
    assert sorted(grouped) == sorted(Settings.model_fields), (
        "put the new setting in its group (shared/process/settings_groups.py or settings_processes.py)"
    )
