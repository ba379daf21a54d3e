"""Multilabel metrics: ``outputs`` are logits ``[N, L]`` (present iff > 0), ``targets`` are 0/1."""

from __future__ import annotations

import numpy as np

from bench.metrics.registry import _per_label, _ratio, register

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
