"""What a record's numbers are: the task they score and the registered metric behind each key.

Read by every command that recomputes or compares a record's metrics (``bench rescore``, the
verification of :mod:`bench.reporting.verify`, ``bench plot``'s heat-map), from the record alone.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from bench import metrics
from bench.api import TaskSpec
from bench.errors import DataError


def task_of(record: Mapping[str, Any], where: Path) -> TaskSpec:
    """The record's task: its ``task`` key, else read off its confusion (None: regression,
    one C × C table: classification, one 2 × 2 table per label: multilabel)."""
    names = tuple(record.get("label_names") or ())
    if not names:
        raise DataError(f"{where}: the record has no label_names; its task cannot be rebuilt")
    kind = record.get("task")
    if kind is None:
        confusion = record.get("confusion")
        depth = np.asarray(confusion).ndim if confusion is not None else 0
        kind = {0: "regression", 2: "classification", 3: "multilabel"}.get(depth)
        if kind is None:
            raise DataError(f"{where}: confusion of depth {depth}; cannot tell the record's task")
    return TaskSpec(kind=kind, label_names=names)


def base_metric(key: str) -> str | None:
    """The registered metric a (possibly flattened, ``name_label``) key belongs to; None if none."""
    if key in metrics.METRICS:
        return key
    candidates = [name for name in metrics.METRICS if key.startswith(name + "_")]
    return max(candidates, key=len) if candidates else None
