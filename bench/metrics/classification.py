"""Classification metrics: ``outputs`` are scores ``[N, C]`` (argmax; ties go to the lowest index)."""

from __future__ import annotations

import numpy as np

from bench.metrics.registry import _ratio, register

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
