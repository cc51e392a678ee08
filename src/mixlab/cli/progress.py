"""A progress bar on stderr, only where a person is watching."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class ProgressBar:
    """Draws ``stage [#####.....] 42%`` on one line of a terminal; silent when not a TTY.

    Callable as ``bar(stage, fraction)``, the engine's progress callback.
    """

    def __init__(self, stream: TextIO | None = None, *, enabled: bool | None = None, width: int = 30) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = self.stream.isatty() if enabled is None else enabled
        self.width = width
        self._last_draw = 0.0
        self._last_stage = ""

    def __call__(self, stage: str, fraction: float) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if stage == self._last_stage and now - self._last_draw < 0.1 and fraction < 1.0:
            return
        self._last_draw, self._last_stage = now, stage
        fraction = min(max(fraction, 0.0), 1.0)
        filled = int(round(fraction * self.width))
        line = f"\r{stage[:40]:<40} [{'#' * filled}{'.' * (self.width - filled)}] {fraction * 100:3.0f}%"
        self.stream.write(line)
        self.stream.flush()

    def done(self) -> None:
        if self.enabled and self._last_stage:
            self.stream.write("\r" + " " * (self.width + 50) + "\r")
            self.stream.flush()
