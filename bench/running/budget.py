"""Training lengths that mean the same for every method: ``--budget paper|short|N``.

Every method counts its training length in epochs, passes over a stage's training side
(``epochs``, and ``pretrain_epochs`` for a pretraining stage; AVCE's ``epochs`` takes the place
of its paper's ``iterations`` when set). A budget turns one number into those keys:

* ``paper`` — nothing changes: the preset's own lengths;
* ``N`` (a positive integer) — every stage trains N epochs: ``epochs`` and ``pretrain_epochs``
  are set to N;
* ``short`` — ``N = SHORT_EPOCHS``, a CPU-sized run of every method (the matrix in CI).

A key the user sets with ``--set`` wins over the budget. The keys a budget sets are written
into the run's overrides, so the record and its rerun command carry them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bench.errors import ConfigError

SHORT_EPOCHS = 5
"""Epochs per stage of ``--budget short``."""

EPOCH_KEYS = ("epochs", "pretrain_epochs")
"""Config keys counted in epochs, set to N by a budget of N."""


def parse(value: str | int | None) -> int | None:
    """``paper`` (or None) → None; ``short`` → :data:`SHORT_EPOCHS`; a positive integer → itself."""
    if value is None or value == "paper":
        return None
    if value == "short":
        return SHORT_EPOCHS
    try:
        epochs = int(value)
    except (TypeError, ValueError):
        raise ConfigError(f"--budget {value!r}: expected paper, short or a positive number of epochs") from None
    if epochs < 1 or str(epochs) != str(value).strip():
        raise ConfigError(f"--budget {value!r}: expected paper, short or a positive number of epochs")
    return epochs


def overrides(fields: Mapping[str, Any], epochs: int | None, explicit: Mapping[str, Any]) -> dict[str, Any]:
    """The Config keys (of ``fields``, the resolved config as a dict) a budget of ``epochs`` sets.

    ``explicit`` are the user's ``--set`` pairs: their keys are left alone. A Config without
    ``epochs`` is a ConfigError naming the keys looked for.
    """
    if epochs is None:
        return {}
    if "epochs" not in fields:
        raise ConfigError(f"--budget {epochs}: the method's Config has none of the length keys "
                          f"{', '.join(EPOCH_KEYS)}; set its length with --set")
    return {k: epochs for k in EPOCH_KEYS if k in fields and k not in explicit}
