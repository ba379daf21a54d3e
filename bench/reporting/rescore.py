"""Metrics from a cell's stored predictions, without retraining: ``bench rescore`` and lookups.

Every record keeps its test predictions beside it (``predictions.npz``: ``ids``, ``outputs``,
``targets``), so any registered metric of the record's task can be computed after the fact
(ConCluGen's ``ml_weighted_accuracy`` beside MPUC's ``mosei_wacc`` on the same MOSEI cells,
``ccc_avce`` beside ``ccc``). :func:`metric_value` gives a record's value of a metric, from
the record when it holds it and from its predictions otherwise; ``bench rescore --metric ID``
writes such values into the records, listed under ``derived_metrics`` (computed from
predictions, not during the run). Metrics that score per video (``grouped``) need the
samples' groups, which predictions do not keep: those are refused with the reason.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from bench import metrics
from bench.errors import ConfigError, DataError
from bench.records import store
from bench.reporting import scored, verify

DERIVED_KEY = "derived_metrics"
"""Record key listing the metric names written by ``bench rescore`` (not computed by the run)."""


def applies(metric: str, record: Mapping[str, Any], where: Path) -> bool:
    """Whether ``metric`` scores the record's task."""
    return scored.task_of(record, where).kind in metrics.get(metric).kinds


def from_predictions(record_file: Path, record: Mapping[str, Any], names: Sequence[str]) -> dict[str, float]:
    """The metrics ``names`` (flattened, as :func:`bench.metrics.compute`) of one record's predictions."""
    grouped = [n for n in names if metrics.get(n).grouped]
    if grouped:
        raise ConfigError(f"metric(s) {', '.join(grouped)} score per video and need the samples' groups, which "
                          f"stored predictions do not keep; rerun the cell with the metric in its protocol")
    path = store.predictions_path(record_file)
    try:
        with np.load(path) as arrays:
            outputs, targets = arrays["outputs"], arrays["targets"]
    except (OSError, KeyError, ValueError) as exc:
        raise DataError(f"{path}: not readable predictions of {record_file.name} ({exc})") from exc
    return metrics.compute(names, scored.task_of(record, record_file), outputs, targets)


def metric_value(record_file: Path, record: Mapping[str, Any], metric: str) -> float | None:
    """The record's value of ``metric`` (a metric name or a flattened ``name_label`` key).

    From the record when it holds it, else from its predictions; None when the metric does
    not apply to the record's task or scores per video.
    """
    if metric in record["metrics"]:
        return float(record["metrics"][metric])
    base = scored.base_metric(metric)
    if base is None or not applies(base, record, record_file) or metrics.get(base).grouped:
        return None
    return from_predictions(record_file, record, [base]).get(metric)


def rescore(root: Path, names: Sequence[str], found: Sequence[verify.Found] | None = None
            ) -> list[tuple[Path, list[str]]]:
    """Write the metrics ``names`` into every record under ``root`` that lacks them and whose task they score.

    Only records that prove themselves are touched (``found``: those of :func:`bench.reporting.verify.scan`,
    scanned here when not given). Returns each rewritten record with the keys added. Records are
    rewritten atomically, their ``integrity`` block sealed for the new content.
    """
    for name in names:
        metrics.get(name)  # unknown names fail before any record is touched
    changed = []
    for record_file, record in (verify.scan(root).found if found is None else found):
        wanted = [n for n in names if n not in record["metrics"] and applies(n, record, record_file)]
        if not wanted:
            continue
        values = from_predictions(record_file, record, wanted)
        added = [k for k in values if k not in record["metrics"]]
        if not added:
            continue
        updated = dict(record)
        updated["metrics"] = {**record["metrics"], **{k: values[k] for k in added}}
        updated[DERIVED_KEY] = sorted({*record.get(DERIVED_KEY, []), *added})
        store.rewrite(record_file, updated)
        changed.append((record_file, added))
    return changed


def rescore_command(args: argparse.Namespace) -> int:
    """``bench rescore [--out STORE] --metric ID [--metric ID ...]``."""
    for name in args.metric:
        metrics.get(name)
    scan = verify.scan(Path(args.out))
    for path, why in scan.corrupt:
        print(store.describe_corrupt(path, why), file=sys.stderr)
    changed = rescore(Path(args.out), args.metric, scan.found)
    for record_file, added in changed:
        print(f"{record_file}: + {', '.join(added)}")
    print(f"{len(changed)} record(s) rescored from their predictions under {args.out}; {verify.counted(scan.corrupt)}")
    return 0
