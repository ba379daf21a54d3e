"""Training lengths that mean the same for every method: ``--budget paper|short|N``.

A method counts its length in its own keys (``epochs``, ``pretrain_epochs``; AVCE in
``iterations``, as its paper does). A budget turns one number into those keys:

* ``paper`` — nothing changes: the preset's own lengths;
* ``N`` (a positive integer) — every stage trains N epochs, an epoch being one pass over the
  stage's training side: ``epochs`` and ``pretrain_epochs`` are set to N; a method whose
  Config counts ``iterations`` and has no ``epochs`` gets ``N × ceil(train / batch)``
  iterations, ``batch`` being the batch size of its (last) stage and ``train`` the mean
  training-side size over the protocol's folds (one number per protocol, whatever folds run);
* ``short`` — ``N = SHORT_EPOCHS``, a CPU-sized run of every method (the matrix in CI).

A key the user sets with ``--set`` wins over the budget. The keys a budget sets are written
into the run's overrides, so the record and its rerun command carry them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from bench.errors import ConfigError

SHORT_EPOCHS = 20
"""Epochs per stage of ``--budget short``."""

EPOCH_KEYS = ("epochs", "pretrain_epochs")
"""Config keys counted in epochs, set to N by a budget of N."""

ITERATION_KEY = "iterations"
"""The key of a method counting iterations instead of epochs (AVCE)."""


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


def overrides(fields: Mapping[str, Any], epochs: int | None, train_size: int, batch_size: int,
              explicit: Mapping[str, Any]) -> dict[str, Any]:
    """The Config keys (of ``fields``, the resolved config as a dict) a budget of ``epochs`` sets.

    ``explicit`` are the user's ``--set`` pairs: their keys are left alone. A Config with
    none of the length keys is a ConfigError naming the keys looked for.
    """
    if epochs is None:
        return {}
    keys = [k for k in EPOCH_KEYS if k in fields]
    out: dict[str, Any] = {k: epochs for k in keys}
    if "epochs" not in fields and ITERATION_KEY in fields:
        if train_size < 1 or batch_size < 1:
            raise ConfigError(f"--budget {epochs}: cannot count iterations for {train_size} training samples "
                              f"in batches of {batch_size}")
        out[ITERATION_KEY] = epochs * math.ceil(train_size / batch_size)
    if not out:
        raise ConfigError(f"--budget {epochs}: the method's Config has none of the length keys "
                          f"{', '.join((*EPOCH_KEYS, ITERATION_KEY))}; set its length with --set")
    return {k: v for k, v in out.items() if k not in explicit}
