"""The metric registry: :class:`Metric`, :func:`register`, lookup by name, shared helpers."""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable, Sequence

import numpy as np
import numpy.typing as npt

from bench.api import TASK_KINDS
from bench.errors import PluginError, unknown

MetricValue = float | dict[str, float]
MetricFn = Callable[[np.ndarray, np.ndarray, tuple[str, ...]], MetricValue]


@dataclasses.dataclass(frozen=True)
class Metric:
    """A registered metric: its name, the task kinds it applies to, its function and docs."""

    name: str
    kinds: tuple[str, ...]
    fn: MetricFn
    higher_is_better: bool
    doc: str
    grouped: bool = False


METRICS: dict[str, Metric] = {}


def register(
    name: str, kinds: Sequence[str], higher_is_better: bool = True, grouped: bool = False
) -> Callable[[MetricFn], MetricFn]:
    """Register the decorated function as metric ``name`` for the task ``kinds``.

    The function's docstring (its formula and source) becomes :attr:`Metric.doc`; ``grouped``
    metrics take the samples' groups as a fourth argument (see :mod:`bench.metrics`).
    """
    bad = [kind for kind in kinds if kind not in TASK_KINDS]
    if bad or not kinds:
        raise ValueError(f"metric {name!r}: kinds must be a non-empty subset of {TASK_KINDS}, got {tuple(kinds)}")
    if name in METRICS:
        raise ValueError(f"metric {name!r} is already registered")

    def decorate(fn: MetricFn) -> MetricFn:
        doc = inspect.getdoc(fn)
        if not doc:
            raise ValueError(f"metric {name!r} needs a docstring giving its formula and source")
        METRICS[name] = Metric(name, tuple(kinds), fn, higher_is_better, doc, grouped)
        return fn

    return decorate


def get(name: str) -> Metric:
    """The metric registered as ``name``; :class:`PluginError` with suggestions otherwise."""
    try:
        return METRICS[name]
    except KeyError:
        raise PluginError(unknown("metric", name, METRICS)) from None


def names(kind: str | None = None) -> list[str]:
    """Sorted names of every metric, or of those that apply to task ``kind``."""
    return _names_for(kind)


def _names_for(kind: str | None) -> list[str]:
    return sorted(name for name, metric in METRICS.items() if kind is None or kind in metric.kinds)


def _ratio(num: npt.ArrayLike, den: npt.ArrayLike) -> np.ndarray:
    """Elementwise ``num / den`` with 0 where ``den`` is 0 (sklearn's ``zero_division=0``)."""
    num = np.asarray(num, dtype=np.float64)
    den = np.asarray(den, dtype=np.float64)
    return np.divide(num, den, out=np.zeros(np.broadcast(num, den).shape), where=den > 0)


def _per_label(values: np.ndarray, label_names: tuple[str, ...]) -> dict[str, float]:
    """Headline = mean over labels under ``""``, then one entry per label name."""
    out = {"": float(np.mean(values))}
    out.update({name: float(v) for name, v in zip(label_names, values, strict=True)})
    return out


def _per_axis(
    axis_fn: Callable[[np.ndarray, np.ndarray], float],
    outputs: np.ndarray,
    targets: np.ndarray,
    label_names: tuple[str, ...],
) -> dict[str, float]:
    """Apply ``axis_fn(prediction, label)`` to every column; headline = mean over axes."""
    values = np.array([axis_fn(outputs[:, j], targets[:, j]) for j in range(outputs.shape[1])])
    return _per_label(values, label_names)
