"""Each standalone benchmark owns one marked section of docs/benchmarks.md.

`write_section` replaces that section (or appends it) when the benchmark runs on its own;
`carry_over` keeps it when `python -m bench` rewrites the rest of the page.
"""

from __future__ import annotations

import re
from pathlib import Path


def _section(begin: str, end: str) -> re.Pattern[str]:
    return re.compile(re.escape(begin) + ".*?" + re.escape(end), re.DOTALL)


def write_section(path: Path, text: str, begin: str, end: str) -> None:
    current = path.read_text() if path.exists() else "# Benchmarks\n"
    pattern = _section(begin, end)
    updated = pattern.sub(lambda _: text, current) if pattern.search(current) else current.rstrip("\n") + "\n\n" + text + "\n"
    path.write_text(updated)


def carry_over(path: Path, text: str, begin: str, end: str) -> str:
    current = path.read_text() if path.exists() else ""
    found = _section(begin, end).search(current)
    return text.rstrip("\n") + "\n\n" + found.group(0) + "\n" if found else text
