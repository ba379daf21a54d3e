"""Progress of long loops over samples or files (data preparation, the media check).

On a terminal, tqdm draws one bar that redraws itself in place. Anywhere else (a log file, a
pipe, a SLURM job's output) the carriage-return redraws of a bar pile up as thousands of
updates on one line, so :class:`Progress` writes a plain line at each quarter of the work
instead: at most four lines per loop, each ``label: done/total (percent)`` and a note.
"""

from __future__ import annotations

import math
import sys
from types import TracebackType
from typing import TextIO

from tqdm import tqdm

PLAIN_LINES = 4
"""Lines a loop writes where there is no terminal: one at each quarter of the work."""


class Progress:
    """Counts ``total`` steps of a loop named ``label``; writes nothing unless ``enabled``."""

    def __init__(self, label: str, total: int, enabled: bool = True, stream: TextIO | None = None) -> None:
        self.label, self.total, self.done = label, total, 0
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = enabled and total > 0
        terminal = self.enabled and hasattr(self.stream, "isatty") and self.stream.isatty()
        self._bar = tqdm(total=total, desc=label, file=self.stream, dynamic_ncols=True, leave=True) \
            if terminal else None
        self._marks = {math.ceil(total * k / PLAIN_LINES) for k in range(1, PLAIN_LINES + 1)}

    def step(self, note: str = "") -> None:
        """One more step done; ``note`` (e.g. problems found so far) is shown beside the count."""
        self.done += 1
        if not self.enabled:
            return
        if self._bar is not None:
            if note:
                self._bar.set_postfix_str(note, refresh=False)
            self._bar.update(1)
        elif self.done in self._marks:
            percent = 100 * self.done // self.total
            print(f"{self.label}: {self.done}/{self.total} ({percent}%){', ' + note if note else ''}",
                  file=self.stream, flush=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.close()
