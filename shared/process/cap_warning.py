"""One warning a minute for a limit that refuses often, with how many it refused.

A flood hits a cap thousands of times a second; a line each would flood the log too (issue
25 saw a 37 MB log). The first refusal is logged at once, then at most one line every
`every` seconds, counting the refusals since the last line.
"""

from __future__ import annotations

import logging
import time


class CapWarning:
    def __init__(self, logger: logging.Logger, what: str, every: float = 60.0) -> None:
        self.logger = logger
        self.what = what
        self.every = every
        self.refused = 0
        self._warned_at = float("-inf")

    def hit(self, detail: str = "") -> None:
        self.refused += 1
        now = time.monotonic()
        if now - self._warned_at < self.every:
            return
        self.logger.warning(
            "%s: %d refused since the last warning%s (at most one warning every %g s)",
            self.what,
            self.refused,
            f"; {detail}" if detail else "",
            self.every,
        )
        self._warned_at, self.refused = now, 0
