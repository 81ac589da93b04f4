"""The README stays a newcomer's page: short, the two commands, and links that lead somewhere."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def test_the_readme_is_short():
    assert len(README.encode()) <= 15_500  # about 15 KB: details live in docs/


def test_the_readme_names_the_two_commands_and_the_inner_loop():
    for fact in ("scripts/run", "scripts/test", 'scripts/test -m "not slow" -n 3', "scripts/run --admin"):
        assert fact in README, fact


def test_every_file_the_readme_links_exists():
    linked = re.findall(r"\]\(((?:docs|tests|scripts)/[^)#]+)\)", README)
    assert linked and [path for path in linked if not (ROOT / path).exists()] == []


def test_no_dated_figures_in_the_readme():
    # Measurements carry a date and belong in docs/benchmarks.md.
    assert not re.search(r"\b20\d\d-\d\d-\d\d\b", README)
