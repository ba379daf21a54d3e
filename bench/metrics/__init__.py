"""One registry for every score bench reports.

A metric is a function ``fn(outputs, targets, label_names) -> float | dict[str, float]``
registered under a name with :func:`register`:

* classification: ``outputs`` are logits/scores ``[N, C]`` (prediction = argmax, ties go to
  the lowest class index), ``targets`` are class indices ``[N]`` in ``0..C-1``;
* multilabel: ``outputs`` are logits ``[N, L]`` (a label is present iff its logit is > 0,
  i.e. sigmoid > 0.5; a logit of exactly 0 means absent), ``targets`` are ``{0, 1}`` ``[N, L]``;
* regression: ``outputs`` and ``targets`` are values ``[N, D]``, one column per axis.

A dict result holds the headline value under the key ``""`` (stored under the metric name)
and one value per label or axis (stored as ``f"{name}_{label}"``). Scores are fractions in
[0, 1] (correlations in [-1, 1]), never percentages; error metrics (``rmse``) are in the
units of the targets. :func:`compute` validates shapes and values once and flattens the
results; :func:`per_class` and :func:`confusion` give the per-class breakdown of a run.

A metric registered with ``grouped=True`` also takes the test samples' groups (the video of
a frame-level sample) as a fourth argument, ``fn(outputs, targets, label_names, groups)``;
:func:`compute` passes them and refuses such a metric without them. Every other metric pools
all samples (``ccc`` is the pooled CCC; ``ccc_per_video`` the mean of per-video CCCs).

Modules: ``registry`` (the registry and shared helpers), ``classification``, ``multilabel`` and
``regression`` (the metrics of each task kind), ``scoring`` (the entry points).
"""

from __future__ import annotations

# The kind modules register their metrics on import.
from bench.metrics import classification, multilabel, regression
from bench.metrics.registry import METRICS, Metric, MetricFn, MetricValue, get, names, register
from bench.metrics.scoring import compute, confusion, per_class

__all__ = [
    "classification", "multilabel", "regression",
    "METRICS", "Metric", "MetricFn", "MetricValue", "compute", "confusion", "get", "names", "per_class", "register",
]
