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
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable, Sequence

import numpy as np
import numpy.typing as npt

from bench.api import TASK_KINDS, TaskSpec
from bench.errors import PluginError, RunError, unknown

MetricValue = float | dict[str, float]
MetricFn = Callable[[np.ndarray, np.ndarray, tuple[str, ...]], MetricValue]

AVCE_BATCH_SIZE = 64
"""Batch size of the AVCE official evaluation loop, over which ``rmse_batched`` averages."""


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
    metrics take the samples' groups as a fourth argument (see the module docstring).
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


# --------------------------------------------------------------------------- helpers


def _ratio(num: npt.ArrayLike, den: npt.ArrayLike) -> np.ndarray:
    """Elementwise ``num / den`` with 0 where ``den`` is 0 (sklearn's ``zero_division=0``)."""
    num = np.asarray(num, dtype=np.float64)
    den = np.asarray(den, dtype=np.float64)
    return np.divide(num, den, out=np.zeros(np.broadcast(num, den).shape), where=den > 0)


def _class_stats(outputs: np.ndarray, targets: np.ndarray) -> dict[str, np.ndarray]:
    """Per-class precision, recall, F1 (zero_division=0), support and predicted counts."""
    cm = _confusion_matrix(outputs, targets)
    tp = np.diag(cm)
    support = cm.sum(axis=1)
    predicted = cm.sum(axis=0)
    return {
        "precision": _ratio(tp, predicted),
        "recall": _ratio(tp, support),
        "f1": _ratio(2 * tp, support + predicted),
        "support": support.astype(np.float64),
        "predicted": predicted.astype(np.float64),
    }


def _confusion_matrix(outputs: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """``C x C`` counts over all classes: rows = true class, columns = argmax prediction."""
    c = outputs.shape[1]
    pred = np.argmax(outputs, axis=1)
    return np.bincount(targets * c + pred, minlength=c * c).reshape(c, c)


def _macro(outputs: np.ndarray, targets: np.ndarray, key: str) -> float:
    """Mean of a per-class score over the classes seen in the targets or the predictions."""
    stats = _class_stats(outputs, targets)
    seen = (stats["support"] > 0) | (stats["predicted"] > 0)
    return float(np.mean(stats[key][seen]))


def _weighted(outputs: np.ndarray, targets: np.ndarray, key: str) -> float:
    """Mean of a per-class score weighted by each class's support in the targets."""
    stats = _class_stats(outputs, targets)
    return float(np.sum(stats[key] * stats["support"]) / np.sum(stats["support"]))


def _label_counts(outputs: np.ndarray, targets: np.ndarray) -> tuple[np.ndarray, ...]:
    """Per-label ``(TP, FP, FN, TN)`` with a label predicted present iff its logit is > 0."""
    pred = outputs > 0
    true = targets.astype(bool)
    tp = np.sum(pred & true, axis=0)
    fp = np.sum(pred & ~true, axis=0)
    fn = np.sum(~pred & true, axis=0)
    tn = np.sum(~pred & ~true, axis=0)
    return tp, fp, fn, tn


def _label_wacc(tp: np.ndarray, fp: np.ndarray, fn: np.ndarray, tn: np.ndarray) -> np.ndarray:
    """Per-label ½(TPR + TNR); TNR alone without positives, TPR alone without negatives."""
    pos = tp + fn
    neg = tn + fp
    tpr = _ratio(tp, pos)
    tnr = _ratio(tn, neg)
    return np.where(pos == 0, tnr, np.where(neg == 0, tpr, (tpr + tnr) / 2))


def _label_weighted_f1(tp: np.ndarray, fp: np.ndarray, fn: np.ndarray, tn: np.ndarray) -> np.ndarray:
    """Per-label F1 of class 1 and of class 0, averaged with weights = their target counts."""
    pos = tp + fn
    neg = tn + fp
    f1_pos = _ratio(2 * tp, 2 * tp + fp + fn)
    f1_neg = _ratio(2 * tn, 2 * tn + fn + fp)
    return (pos * f1_pos + neg * f1_neg) / (pos + neg)


def _support_weighted(score: np.ndarray, support: np.ndarray) -> float:
    """``Σ_l P_l·score_l / Σ_l P_l``, 0.0 when no label has a positive target."""
    return float(_ratio(np.sum(support * score), np.sum(support)))


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


def _constant(x: np.ndarray) -> bool:
    return bool(np.all(x == x[0]))


def _rms(d: np.ndarray) -> float:
    """Root mean square, computed on ``d / max|d|`` so huge or tiny values cannot over/underflow."""
    scale = np.max(np.abs(d))
    if scale == 0:
        return 0.0
    return float(scale * np.sqrt(np.mean((d / scale) ** 2)))


def _rescale(*xs: np.ndarray) -> tuple[np.ndarray, ...]:
    """Divide all arrays by their common largest magnitude (scale-invariant scores only)."""
    scale = max(float(np.max(np.abs(x))) for x in xs)
    return tuple(x / scale for x in xs) if scale > 0 else xs


def _pcc_axis(p: np.ndarray, y: np.ndarray) -> float:
    if _constant(p) or _constant(y):
        return 0.0
    (p,) = _rescale(p)
    (y,) = _rescale(y)
    dp = p - p.mean()
    dy = y - y.mean()
    r = np.sum(dp * dy) / np.sqrt(np.sum(dp * dp) * np.sum(dy * dy))
    return float(np.clip(r, -1.0, 1.0))


def _ccc_degenerate(p: np.ndarray, y: np.ndarray) -> float | None:
    """CCC when a side is constant: 1.0 if both are the same constant, else 0.0; None otherwise."""
    if _constant(p) or _constant(y):
        return float(_constant(p) and _constant(y) and p[0] == y[0])
    return None


def _ccc_axis(p: np.ndarray, y: np.ndarray) -> float:
    degenerate = _ccc_degenerate(p, y)
    if degenerate is not None:
        return degenerate
    p, y = _rescale(p, y)
    s_py = np.mean((p - p.mean()) * (y - y.mean()))
    return float(2 * s_py / (np.var(p) + np.var(y) + (p.mean() - y.mean()) ** 2))


def _sagr_axis(p: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean(np.sign(p) == np.sign(y)))


def _pcc_avce_axis(p: np.ndarray, y: np.ndarray) -> float:
    if _constant(p) or _constant(y):
        return 0.0
    (p,) = _rescale(p)
    (y,) = _rescale(y)
    cov_unbiased = np.sum((p - p.mean()) * (y - y.mean())) / (len(y) - 1)
    return float(cov_unbiased / (np.std(y) * np.std(p)))


def _ccc_avce_axis(p: np.ndarray, y: np.ndarray) -> float:
    degenerate = _ccc_degenerate(p, y)
    if degenerate is not None:
        return degenerate
    p, y = _rescale(p, y)
    cov_unbiased = np.sum((p - p.mean()) * (y - y.mean())) / (len(y) - 1)
    return float(2 * cov_unbiased / (np.var(y) + np.var(p) + (y.mean() - p.mean()) ** 2))


def _rmse_batched_axis(p: np.ndarray, y: np.ndarray) -> float:
    d = p - y
    starts = range(0, len(d), AVCE_BATCH_SIZE)
    return float(np.mean([_rms(d[s : s + AVCE_BATCH_SIZE]) for s in starts]))


def _sagr_avce_axis(p: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean((np.sign(p) == np.sign(y)) & (y != 0)))


# --------------------------------------------------------------------------- classification


@register("uar", ("classification",))
def uar(outputs: np.ndarray, targets: np.ndarray, label_names: tuple[str, ...]) -> float:
    """Unweighted average recall: mean over classes c present in the targets of TP_c / P_c.

    The primary metric of DFEW (Jiang et al., ACM MM 2020) and MAFW (Liu et al., ACM MM
    2022) tables; equals sklearn ``balanced_accuracy_score``. MMA-DFER's code computes it as
    the mean diagonal of the row-normalised C x C confusion matrix, which is identical when
    every class occurs in the targets (otherwise its empty rows give NaN/0 and differ).
    Unlike ``macro_recall``, a class that is only predicted does not count.
    """
    stats = _class_stats(outputs, targets)
    return float(np.mean(stats["recall"][stats["support"] > 0]))


@register("war", ("classification",))
def war(outputs: np.ndarray, targets: np.ndarray, label_names: tuple[str, ...]) -> float:
    """Weighted average recall: Σ_c P_c·recall_c / N = #correct / N (= accuracy).

    The name DFEW (Jiang et al., ACM MM 2020) and MAFW (Liu et al., ACM MM 2022) use.
    """
    return float(np.mean(np.argmax(outputs, axis=1) == targets))


@register("accuracy", ("classification",))
def accuracy(outputs: np.ndarray, targets: np.ndarray, label_names: tuple[str, ...]) -> float:
    """Accuracy: #{i: argmax(outputs_i) = targets_i} / N (sklearn ``accuracy_score``; = ``war``)."""
    return float(np.mean(np.argmax(outputs, axis=1) == targets))


@register("weighted_f1", ("classification",))
def weighted_f1(outputs: np.ndarray, targets: np.ndarray, label_names: tuple[str, ...]) -> float:
    """Support-weighted F1: Σ_c P_c·F1_c / N with F1_c = 2TP_c / (2TP_c + FP_c + FN_c).

    sklearn ``f1_score(average='weighted', zero_division=0)``; reported by ConCluGen
    (Tables 4-5) and most DFER papers as "WF1". Classes seen only in the predictions
    have weight 0.
    """
    return _weighted(outputs, targets, "f1")


@register("macro_f1", ("classification",))
def macro_f1(outputs: np.ndarray, targets: np.ndarray, label_names: tuple[str, ...]) -> float:
    """Macro F1: mean of F1_c = 2TP_c / (2TP_c + FP_c + FN_c) over the classes seen.

    Classes seen = present in the targets or the predictions (sklearn's default labels);
    sklearn ``f1_score(average='macro', zero_division=0)``.
    """
    return _macro(outputs, targets, "f1")


@register("weighted_precision", ("classification",))
def weighted_precision(outputs: np.ndarray, targets: np.ndarray, label_names: tuple[str, ...]) -> float:
    """Support-weighted precision: Σ_c P_c·TP_c/(TP_c+FP_c) / N, 0 for a never-predicted class.

    sklearn ``precision_score(average='weighted', zero_division=0)``; ConCluGen Tables 4-5.
    """
    return _weighted(outputs, targets, "precision")


@register("macro_precision", ("classification",))
def macro_precision(outputs: np.ndarray, targets: np.ndarray, label_names: tuple[str, ...]) -> float:
    """Macro precision: mean of TP_c/(TP_c+FP_c) over classes in targets or predictions.

    A class present in the targets but never predicted scores 0 (zero_division=0);
    sklearn ``precision_score(average='macro', zero_division=0)``.
    """
    return _macro(outputs, targets, "precision")


@register("weighted_recall", ("classification",))
def weighted_recall(outputs: np.ndarray, targets: np.ndarray, label_names: tuple[str, ...]) -> float:
    """Support-weighted recall: Σ_c P_c·TP_c/P_c / N = ΣTP_c / N, which equals accuracy.

    sklearn ``recall_score(average='weighted')``; ConCluGen Tables 4-5 report Acc equal to
    weighted recall for this reason.
    """
    return _weighted(outputs, targets, "recall")


@register("macro_recall", ("classification",))
def macro_recall(outputs: np.ndarray, targets: np.ndarray, label_names: tuple[str, ...]) -> float:
    """Macro recall: mean of TP_c/P_c over the classes in the targets or the predictions.

    sklearn ``recall_score(average='macro', zero_division=0)``. Equals ``uar`` unless some
    class is predicted but absent from the targets: it then counts with recall 0 here.
    """
    return _macro(outputs, targets, "recall")


# --------------------------------------------------------------------------- multilabel


@register("mosei_wacc", ("multilabel",))
def mosei_wacc(outputs: np.ndarray, targets: np.ndarray, label_names: tuple[str, ...]) -> dict[str, float]:
    """Weighted accuracy per label: ½(TPR + TNR) = (TP·N/P + TN) / (2N), mean over labels.

    P / N are the label's positive / negative target counts. Tong et al. (ACL 2017), the
    "w-ACC" of MPUC (Tables II/IV) on CMU-MOSEI. A label without positive targets scores its
    TNR, one without negatives its TPR: the same as sklearn ``balanced_accuracy_score`` on
    that label's column.
    """
    return _per_label(_label_wacc(*_label_counts(outputs, targets)), label_names)


@register("mosei_f1", ("multilabel",))
def mosei_f1(outputs: np.ndarray, targets: np.ndarray, label_names: tuple[str, ...]) -> dict[str, float]:
    """Per label the two-class weighted F1 (P·F1_pos + N·F1_neg) / (P + N), mean over labels.

    F1_pos = 2TP/(2TP+FP+FN), F1_neg = 2TN/(2TN+FN+FP). MPUC's code: per label sklearn
    ``f1_score(y, ŷ, average='weighted')`` over the classes {0, 1}, NOT the positive-class F1.
    """
    return _per_label(_label_weighted_f1(*_label_counts(outputs, targets)), label_names)


@register("ml_weighted_accuracy", ("multilabel",))
def ml_weighted_accuracy(outputs: np.ndarray, targets: np.ndarray, label_names: tuple[str, ...]) -> float:
    """Σ_l P_l·acc_l / Σ_l P_l with acc_l = (TP_l + TN_l) / N_samples, P_l = positive targets.

    ConCluGen's code: torchmetrics ``MultilabelAccuracy(average='weighted')``. When no label
    has a positive target (Σ P_l = 0) it is 0.0, as in torchmetrics.
    """
    tp, fp, fn, tn = _label_counts(outputs, targets)
    return _support_weighted((tp + tn) / len(targets), tp + fn)


@register("ml_weighted_f1", ("multilabel",))
def ml_weighted_f1(outputs: np.ndarray, targets: np.ndarray, label_names: tuple[str, ...]) -> float:
    """Σ_l P_l·F1_l / Σ_l P_l with positive-class F1_l = 2TP_l / (2TP_l + FP_l + FN_l).

    sklearn ``f1_score(average='weighted', zero_division=0)`` on indicator matrices
    (ConCluGen Table 3); 0.0 when Σ P_l = 0.
    """
    tp, fp, fn, _ = _label_counts(outputs, targets)
    return _support_weighted(_ratio(2 * tp, 2 * tp + fp + fn), tp + fn)


@register("ml_weighted_precision", ("multilabel",))
def ml_weighted_precision(outputs: np.ndarray, targets: np.ndarray, label_names: tuple[str, ...]) -> float:
    """Σ_l P_l·TP_l/(TP_l + FP_l) / Σ_l P_l, 0 for a never-predicted label.

    sklearn ``precision_score(average='weighted', zero_division=0)`` on indicator matrices
    (ConCluGen Table 3); 0.0 when Σ P_l = 0.
    """
    tp, fp, fn, _ = _label_counts(outputs, targets)
    return _support_weighted(_ratio(tp, tp + fp), tp + fn)


@register("ml_weighted_recall", ("multilabel",))
def ml_weighted_recall(outputs: np.ndarray, targets: np.ndarray, label_names: tuple[str, ...]) -> float:
    """Σ_l P_l·TP_l/P_l / Σ_l P_l = Σ TP_l / Σ P_l.

    sklearn ``recall_score(average='weighted', zero_division=0)`` on indicator matrices
    (ConCluGen Table 3); 0.0 when Σ P_l = 0.
    """
    tp, _, fn, _ = _label_counts(outputs, targets)
    return _support_weighted(_ratio(tp, tp + fn), tp + fn)


@register("ml_macro_f1", ("multilabel",))
def ml_macro_f1(outputs: np.ndarray, targets: np.ndarray, label_names: tuple[str, ...]) -> float:
    """Mean over all L labels of the positive-class F1_l = 2TP_l / (2TP_l + FP_l + FN_l).

    sklearn ``f1_score(average='macro', zero_division=0)`` on indicator matrices: a label
    never present nor predicted scores 0.
    """
    tp, fp, fn, _ = _label_counts(outputs, targets)
    return float(np.mean(_ratio(2 * tp, 2 * tp + fp + fn)))


# --------------------------------------------------------------------------- regression


@register("rmse", ("regression",), higher_is_better=False)
def rmse(outputs: np.ndarray, targets: np.ndarray, label_names: tuple[str, ...]) -> dict[str, float]:
    """Root mean squared error per axis, sqrt(Σ_i (ŷ_i − y_i)² / N); headline = mean over axes.

    The standard definition of the AVCE (ECCV 2022) tables (see ``rmse_batched`` for its code).
    """
    return _per_axis(lambda p, y: _rms(p - y), outputs, targets, label_names)


@register("pcc", ("regression",))
def pcc(outputs: np.ndarray, targets: np.ndarray, label_names: tuple[str, ...]) -> dict[str, float]:
    """Pearson r per axis, Σ(ŷ−μ_ŷ)(y−μ_y) / sqrt(Σ(ŷ−μ_ŷ)²·Σ(y−μ_y)²); mean over axes.

    Standard definition of the AVCE (ECCV 2022) tables. Constant predictions or constant
    labels leave r undefined; it is reported as 0.0 (no correlation), never NaN.
    """
    return _per_axis(_pcc_axis, outputs, targets, label_names)


@register("ccc", ("regression",))
def ccc(outputs: np.ndarray, targets: np.ndarray, label_names: tuple[str, ...]) -> dict[str, float]:
    """Lin's concordance per axis, 2·s_xy / (s_x² + s_y² + (μ_x − μ_y)²); mean over axes.

    Population (biased, 1/N) moments; standard definition of the AVCE (ECCV 2022) tables.
    One constant side gives 0.0 (the formula's value); both constant gives 1.0 if they are
    the same value and 0.0 otherwise, never NaN.
    """
    return _per_axis(_ccc_axis, outputs, targets, label_names)


@register("sagr", ("regression",))
def sagr(outputs: np.ndarray, targets: np.ndarray, label_names: tuple[str, ...]) -> dict[str, float]:
    """Sign agreement rate per axis, #{i: sign(ŷ_i) = sign(y_i)} / N; mean over axes.

    numpy ``sign``, so a 0 predicted for a 0 label agrees. Standard definition of the AVCE
    (ECCV 2022) tables (see ``sagr_avce`` for its code).
    """
    return _per_axis(_sagr_axis, outputs, targets, label_names)


@register("pcc_avce", ("regression",))
def pcc_avce(outputs: np.ndarray, targets: np.ndarray, label_names: tuple[str, ...]) -> dict[str, float]:
    """AVCE official code (kdhht2334/AVCE_FER src/evaluation.py): np.cov(l, p)[0,1] / (std(l)·std(p)).

    The covariance has ddof 1 and the stds ddof 0, so the value is N/(N−1) × Pearson r (it can
    exceed 1 in magnitude). Constant labels or predictions give 0.0, as for ``pcc``.
    """
    return _per_axis(_pcc_avce_axis, outputs, targets, label_names)


@register("ccc_avce", ("regression",))
def ccc_avce(outputs: np.ndarray, targets: np.ndarray, label_names: tuple[str, ...]) -> dict[str, float]:
    """AVCE official code: 2·np.cov(l, p)[0,1] / (var₀(l) + var₀(p) + (μ_l − μ_p)²).

    kdhht2334/AVCE_FER src/evaluation.py; the ddof-1 covariance makes it N/(N−1) × ``ccc``.
    Constant sides are handled as for ``ccc`` (0.0, or 1.0 for the same constant).
    """
    return _per_axis(_ccc_avce_axis, outputs, targets, label_names)


@register("rmse_batched", ("regression",), higher_is_better=False)
def rmse_batched(outputs: np.ndarray, targets: np.ndarray, label_names: tuple[str, ...]) -> dict[str, float]:
    """AVCE official code: mean over consecutive batches b of 64 samples of sqrt(MSE_b).

    kdhht2334/AVCE_FER src/evaluation.py averages the per-batch RMSE of its validation loader
    (the last batch may be smaller and counts as much as the others); not a global RMSE.
    """
    return _per_axis(_rmse_batched_axis, outputs, targets, label_names)


@register("sagr_avce", ("regression",))
def sagr_avce(outputs: np.ndarray, targets: np.ndarray, label_names: tuple[str, ...]) -> dict[str, float]:
    """AVCE official code: #{i: sign(l_i) = sign(p_i) and l_i ≠ 0} / N.

    kdhht2334/AVCE_FER src/evaluation.py: a label of exactly 0 always counts as a miss.
    """
    return _per_axis(_sagr_avce_axis, outputs, targets, label_names)


@register("ccc_per_video", ("regression",), grouped=True)
def ccc_per_video(outputs: np.ndarray, targets: np.ndarray, label_names: tuple[str, ...],
                  groups: np.ndarray) -> dict[str, float]:
    """Per-video CCC: per axis, the unweighted mean over videos g of ``ccc`` on g's frames only.

    Groups are the test samples' ``group`` (the video of a frame-level sample). Each video's
    CCC follows ``ccc``, constant sides included (a video whose labels or predictions are
    constant scores 0.0, or 1.0 when both are the same constant); a one-frame video has
    constant sides by definition. ``ccc`` itself is the pooled CCC over all test frames, the
    reading of the AVCE (ECCV 2022) tables and of its code's evaluation.
    """
    order = np.argsort(groups, kind="stable")
    names, starts = np.unique(groups[order], return_index=True)
    members = np.split(order, starts[1:])
    values = np.array([[_ccc_axis(outputs[m, j], targets[m, j]) for j in range(outputs.shape[1])] for m in members])
    return _per_label(values.mean(axis=0), label_names)


# --------------------------------------------------------------------------- entry points


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
