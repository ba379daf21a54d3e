"""Human-readable tables of run records: one row per cell, then mean ± std over the cells."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from tabulate import tabulate

from bench.records.cells import RunRecord


def scale(task_kind: str) -> float:
    """Display factor: classification and multilabel metrics in percent, regression values as they are."""
    return 1.0 if task_kind == "regression" else 100.0


def cell_table(records: Sequence[RunRecord], metric_names: Sequence[str], task_kind: str) -> str:
    """Per-cell metrics and a final ``mean ± std`` row (std over cells with ddof=1; 0 for one cell)."""
    factor = scale(task_kind)
    unit = " (%)" if factor == 100.0 else ""
    rows: list[list[Any]] = []
    for rec in records:
        marks = " [selected on test]" if rec.selection.on_test else ""
        rows.append([rec.fold + marks, rec.seed, *(f"{rec.metrics[m] * factor:.2f}" for m in metric_names)])
    if records:
        values = np.array([[rec.metrics[m] for m in metric_names] for rec in records], dtype=float) * factor
        std = values.std(axis=0, ddof=1) if len(records) > 1 else np.zeros(len(metric_names))
        rows.append([f"mean ± std (n={len(records)})", "",
                     *(f"{m:.2f} ± {s:.2f}" for m, s in zip(values.mean(axis=0), std, strict=True))])
    return tabulate(rows, headers=["fold", "seed", *(m + unit for m in metric_names)], tablefmt="simple")
