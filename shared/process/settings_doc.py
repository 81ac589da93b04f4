"""docs/configuration.md, written from `Settings` so the table cannot drift from the code.

    python -m shared.process.settings_doc          # rewrite docs/configuration.md
    python -m shared.process.settings_doc --check  # exit 1 if it is out of date

Each row is one field: its variable, its default (or `shown_default` from the field's
`json_schema_extra` where the real default depends on the machine) and its description.
tests/test_settings_doc.py fails when the file and `Settings` disagree.
"""

from __future__ import annotations

import sys
from pathlib import Path

from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from shared.process.settings import Settings

DOC_PATH = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"

HEADER = """\
# Configuration

<!-- Generated from shared/process/settings.py by `python -m shared.process.settings_doc`;
do not edit by hand (tests/test_settings_doc.py fails when it is out of date). -->

Every process (the all-in-one, the service, the worker, the operator CLI) reads the same
settings from environment variables or a `.env` file in the working directory; names are
case-insensitive. A bad value stops the process at start with one line naming the variable
(`invalid configuration: REDIS_URL: ...`, exit 1).

`scripts/run` needs none of them: it starts a private `redis-server`, uses the in-memory
MongoDB stand-in and the offline LLM provider. A production service needs at least
`MONGODB_URI`, `REDIS_URL` and `JWT_SECRET`; a worker `MONGODB_URI` and `REDIS_URL`.

| variable | default | meaning |
| --- | --- | --- |
"""


def shown_default(field: FieldInfo) -> str:
    extra = field.json_schema_extra
    if isinstance(extra, dict) and isinstance(extra.get("shown_default"), str):
        return str(extra["shown_default"])
    default = field.default
    if default is PydanticUndefined or default is None:
        return "unset"
    if isinstance(default, bool):
        return f"`{str(default).lower()}`"
    if isinstance(default, float) and default.is_integer():
        return f"`{int(default)}`"
    return f"`{default}`"


def cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render() -> str:
    rows = [
        f"| `{name.upper()}` | {cell(shown_default(field))} | {cell(field.description or '')} |"
        for name, field in Settings.model_fields.items()
    ]
    return HEADER + "\n".join(rows) + "\n"


def main(argv: list[str]) -> int:
    text = render()
    if "--check" in argv:
        if DOC_PATH.read_text() != text:
            print(f"{DOC_PATH} is out of date: run python -m shared.process.settings_doc", file=sys.stderr)
            return 1
        return 0
    DOC_PATH.write_text(text)
    print(DOC_PATH)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
