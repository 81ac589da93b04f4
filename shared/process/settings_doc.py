"""docs/configuration.md, written from `Settings` so the table cannot drift from the code.

    python -m shared.process.settings_doc          # rewrite docs/configuration.md
    python -m shared.process.settings_doc --check  # exit 1 if it is out of date

One section per group (settings_groups.py, settings_processes.py; its docstring the heading),
then one row per field: its variable, its default (or `shown_default` from the field's
`json_schema_extra` where the real default depends on the machine) and its description.
A field `Settings` holds outside every group is listed last, under "Other".
tests/test_settings_doc.py fails when the file and `Settings` disagree.
"""

from __future__ import annotations

import sys
from pathlib import Path

from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from shared.process.settings import SETTING_GROUPS, Settings

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
"""
TABLE_HEAD = "| variable | default | meaning |\n| --- | --- | --- |\n"


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


def section(title: str, names: list[str]) -> str:
    fields = Settings.model_fields
    rows = [
        f"| `{name.upper()}` | {cell(shown_default(fields[name]))} | {cell(fields[name].description or '')} |" for name in names
    ]
    return f"\n## {title}\n\n" + TABLE_HEAD + "\n".join(rows) + "\n"


def render() -> str:
    sections, grouped = [], set()
    for group in SETTING_GROUPS:
        names = list(group.model_fields)
        grouped.update(names)
        title = (group.__doc__ or group.__name__).strip().split(":")[0].rstrip(".")
        sections.append(section(title, names))
    others = [name for name in Settings.model_fields if name not in grouped]
    if others:
        sections.append(section("Other", others))
    return HEADER + "".join(sections)


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
