"""The operator CLI's `enqueue NAME ARGS...`: each job's arguments checked before it is queued.

A job enqueued with the wrong arguments fails on its worker with a TypeError, is retried
and dead-letters, while the CLI has already answered 0. The job's own signature says what
it takes, so the check cannot drift from the job.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

TRUE, FALSE = frozenset({"true", "1", "yes"}), frozenset({"false", "0", "no"})


@dataclass(frozen=True)
class JobArguments:
    name: str
    required: tuple[str, ...]
    optional: tuple[str, ...]
    flags: frozenset[str]  # arguments annotated bool: given as true/false

    def usage(self) -> str:
        words = [name.upper() for name in self.required] + [f"[{name.upper()}]" for name in self.optional]
        return " ".join([self.name, *words])

    def parse(self, args: list[str]) -> list[Any]:
        """The arguments as the job takes them; ValueError naming the usage if they do not fit."""
        if not len(self.required) <= len(args) <= len(self.required) + len(self.optional):
            raise ValueError(f"{self.name} takes {self.usage().removeprefix(self.name).strip() or 'no arguments'}")
        parsed: list[Any] = []
        for name, value in zip(self.required + self.optional, args, strict=False):
            if not value.strip():
                raise ValueError(f"{self.name}: {name.upper()} is empty")
            if name in self.flags:
                if value.lower() not in TRUE | FALSE:
                    raise ValueError(f"{self.name}: {name.upper()} is true or false, not {value!r}")
                parsed.append(value.lower() in TRUE)
            else:
                parsed.append(value)
        return parsed


def job_arguments(name: str, job: Callable[..., Any]) -> JobArguments:
    """From the job's signature: everything after `ctx`, except `now` (the CLI's --now)."""
    params = list(inspect.signature(job).parameters.values())[1:]
    params = [p for p in params if p.name != "now" and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return JobArguments(
        name=name,
        required=tuple(p.name for p in params if p.default is inspect.Parameter.empty),
        optional=tuple(p.name for p in params if p.default is not inspect.Parameter.empty),
        flags=frozenset(p.name for p in params if p.annotation in (bool, "bool")),
    )
