"""Scoring a run's outputs: shape and value checks, :func:`compute`, :func:`per_class`, :func:`confusion`."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from bench.api import TaskSpec
from bench.errors import PluginError, RunError
from bench.metrics.classification import _class_stats, _confusion_matrix
from bench.metrics.multilabel import _label_counts, _label_wacc
from bench.metrics.registry import _names_for, _ratio, get
from bench.metrics.regression import _ccc_axis, _pcc_axis, _rms, _sagr_axis

def _prepare(task: TaskSpec, outputs: npt.ArrayLike, targets: npt.ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Check shapes and values against ``task``; return float outputs and typed targets."""
    out = np.asarray(outputs, dtype=np.float64)
    tgt = np.asarray(targets, dtype=np.float64)
    width = task.num_outputs
    if out.ndim != 2 or out.shape[1] != width:
        raise RunError(
            f"{task.kind} outputs must have shape [N, {width}] (one column per label name "
            f"{task.label_names}), got {out.shape}"
        )
    n = out.shape[0]
    if n == 0:
        raise RunError("no samples to score: outputs have 0 rows")
    if tgt.shape != (n, *task.label_shape):
        raise RunError(f"{task.kind} targets must have shape {(n, *task.label_shape)} for {n} outputs, got {tgt.shape}")
    bad_rows = np.flatnonzero(~np.all(np.isfinite(out), axis=1))
    if bad_rows.size:
        raise RunError(
            f"{bad_rows.size} of {n} output rows contain NaN or inf (first at row {bad_rows[0]})"
        )
    if task.kind == "classification":
        valid = (tgt == np.round(tgt)) & (tgt >= 0) & (tgt < width)
        what = f"class indices in 0..{width - 1}"
    elif task.kind == "multilabel":
        valid = (tgt == 0) | (tgt == 1)
        what = "0 or 1"
    else:
        valid = np.isfinite(tgt)
        what = "finite values"
    if not np.all(valid):
        bad = tgt[~valid]
        raise RunError(f"{task.kind} targets must be {what}; {bad.size} are not (e.g. {float(bad[0])})")
    return out, tgt if task.kind == "regression" else tgt.astype(np.int64)


def compute(
    names: Sequence[str], task: TaskSpec, outputs: npt.ArrayLike, targets: npt.ArrayLike,
    groups: Sequence[str] | None = None,
) -> dict[str, float]:
    """Score ``outputs`` against ``targets`` with each named metric; flat name -> float.

    Dict-valued metrics contribute their headline under the metric name and each label or
    axis as ``f"{name}_{label}"``. ``groups`` (one per row) feed the ``grouped`` metrics.
    Raises :class:`PluginError` for an unknown metric or one that does not apply to
    ``task.kind``, :class:`RunError` for wrong shapes, non-finite outputs, invalid targets, or
    a grouped metric without one group per row.
    """
    metrics = [get(name) for name in dict.fromkeys(names)]
    wrong = [m.name for m in metrics if task.kind not in m.kinds]
    if wrong:
        raise PluginError(
            f"metric(s) {', '.join(wrong)} do not apply to {task.kind} tasks; "
            f"{task.kind} metrics: {', '.join(_names_for(task.kind))}"
        )
    out, tgt = _prepare(task, outputs, targets)
    grouped = [m.name for m in metrics if m.grouped]
    if grouped and (groups is None or len(groups) != len(out)):
        got = "none" if groups is None else f"{len(groups)} for {len(out)} rows"
        raise RunError(f"metric(s) {', '.join(grouped)} score per group (video) and need one group per row; got {got}")
    group_array = np.asarray(groups, dtype=str) if grouped else None
    result: dict[str, float] = {}
    for metric in metrics:
        value = (metric.fn(out, tgt, task.label_names, group_array) if metric.grouped  # type: ignore[call-arg]
                 else metric.fn(out, tgt, task.label_names))
        parts = value if isinstance(value, dict) else {"": value}
        for suffix, v in parts.items():
            key = f"{metric.name}_{suffix}" if suffix else metric.name
            if key in result:
                raise PluginError(f"metric {metric.name!r} would overwrite {key!r}: rename the label or drop a metric")
            result[key] = float(v)
    return result


def per_class(task: TaskSpec, outputs: npt.ArrayLike, targets: npt.ArrayLike) -> dict[str, dict[str, float]]:
    """Per class / label / axis breakdown, keyed by label name.

    classification: recall, precision, f1 (zero_division=0) and support for all C classes;
    multilabel: wacc (as ``mosei_wacc``), positive-class f1, precision, recall and support
    (positive targets); regression: rmse, pcc, ccc and sagr per axis.
    """
    out, tgt = _prepare(task, outputs, targets)
    if task.kind == "classification":
        stats = _class_stats(out, tgt)
        keys = ("recall", "precision", "f1", "support")
        table = {key: stats[key] for key in keys}
    elif task.kind == "multilabel":
        tp, fp, fn, tn = _label_counts(out, tgt)
        table = {
            "wacc": _label_wacc(tp, fp, fn, tn),
            "f1": _ratio(2 * tp, 2 * tp + fp + fn),
            "precision": _ratio(tp, tp + fp),
            "recall": _ratio(tp, tp + fn),
            "support": (tp + fn).astype(np.float64),
        }
    else:
        axis_fns = {"rmse": lambda p, y: _rms(p - y), "pcc": _pcc_axis, "ccc": _ccc_axis, "sagr": _sagr_axis}
        table = {
            key: np.array([fn(out[:, j], tgt[:, j]) for j in range(out.shape[1])]) for key, fn in axis_fns.items()
        }
    return {
        label: {key: float(values[j]) for key, values in table.items()} for j, label in enumerate(task.label_names)
    }


def confusion(
    task: TaskSpec, outputs: npt.ArrayLike, targets: npt.ArrayLike
) -> list[list[int]] | list[list[list[int]]] | None:
    """Confusion counts: classification C x C over all classes (rows true, columns predicted);
    multilabel one ``[[TN, FP], [FN, TP]]`` per label in label order; regression ``None``.
    """
    out, tgt = _prepare(task, outputs, targets)
    if task.kind == "classification":
        return _confusion_matrix(out, tgt).tolist()
    if task.kind == "multilabel":
        tp, fp, fn, tn = _label_counts(out, tgt)
        return [[[int(tn[j]), int(fp[j])], [int(fn[j]), int(tp[j])]] for j in range(len(tp))]
    return None
