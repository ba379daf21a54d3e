"""One exception family for everything a user can get wrong.

The CLI prints ``str(error)`` without a traceback and exits with ``error.exit_code``:
2 for usage, configuration, protocol, plugin, data and leakage errors (the input is wrong),
1 for work that failed while running (:class:`RunError`). Ctrl-C and SIGTERM stop a run alike:
as a KeyboardInterrupt (so that nothing catches them as errors on the way up), :class:`Terminated`
for SIGTERM, which the ``bench`` process raises through :func:`raise_terminated`; a cell's training
turns either into :class:`Interrupted`. Exit 130 for Ctrl-C, 143 for SIGTERM (128 + the signal).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import Any, NoReturn


class BenchError(Exception):
    """Base of every error bench raises on purpose."""

    exit_code = 2


class ConfigError(BenchError):
    """A method configuration key or value is invalid."""


class ProtocolError(BenchError):
    """A protocol YAML file is missing, malformed or inconsistent."""


class PluginError(BenchError):
    """A method, dataset, protocol or metric name is unknown or its plugin failed to load."""


class DataError(BenchError):
    """A data root, split file or media file is missing, malformed or unreadable.

    ``problems`` holds every problem found when there were several (the message names the
    first and counts the rest), for ``bench prepare --check`` to list them all.
    """

    def __init__(self, message: str, problems: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.problems = problems or (message,)

    @classmethod
    def of(cls, problems: list[str]) -> DataError:
        """One error for several problems: the first, counting the rest."""
        more = f" (and {len(problems) - 1} more problem(s) in this file)" if len(problems) > 1 else ""
        return cls(problems[0] + more, tuple(problems))


class LeakageError(BenchError):
    """A split puts the same sample, group or subject on two sides, or val equals test."""


class RunError(BenchError):
    """A run failed while training or predicting."""

    exit_code = 1


class Terminated(KeyboardInterrupt):
    """SIGTERM (what ``timeout``, ``kill`` and SLURM send) arrived in the ``bench`` process."""

    exit_code = 143


def raise_terminated(signum: int, frame: Any) -> NoReturn:
    """The ``bench`` process's SIGTERM handler: stop like Ctrl-C does, with :class:`Terminated`."""
    raise Terminated


class Interrupted(KeyboardInterrupt):
    """Ctrl-C or SIGTERM stopped a cell's training; ``str()`` is the one line saying which, where, and how
    to resume; ``exit_code`` is 130 (Ctrl-C) or 143 (SIGTERM)."""

    def __init__(self, message: str, exit_code: int = 130) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def did_you_mean(name: str, options: Iterable[str]) -> str:
    """Return `` (did you mean 'x'?)`` for the closest option, or an empty string."""
    close = difflib.get_close_matches(name, list(options), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def unknown(kind: str, name: str, options: Iterable[str]) -> str:
    """Format the message for an unknown name: the suggestion, then every valid option."""
    opts = sorted(options)
    listed = ", ".join(opts) if opts else "(none registered)"
    return f"unknown {kind} {name!r}{did_you_mean(name, opts)}; valid: {listed}"
