"""bench.metrics against hand-computed values and independent references.

References: scikit-learn (classification and multilabel), torchmetrics (ConCluGen's weighted
multilabel accuracy), scipy (Pearson r) and literal re-statements of the AVCE code formulas.
"""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np
import pytest
import torch
from scipy.stats import pearsonr
from sklearn.metrics import (
    accuracy_score,
    balanced_accuracy_score,
    confusion_matrix,
    f1_score,
    multilabel_confusion_matrix,
    precision_recall_fscore_support,
    precision_score,
    recall_score,
)
from torchmetrics.functional.classification import (
    multilabel_accuracy,
    multilabel_f1_score,
    multilabel_precision,
    multilabel_recall,
)

from bench import metrics
from bench.api import TaskSpec
from bench.errors import PluginError, RunError

SEEDS = [0, 1, 2, 3, 4]
VA = TaskSpec("regression", ("valence", "arousal"))


def clf_task(c: int) -> TaskSpec:
    return TaskSpec("classification", tuple(f"c{i}" for i in range(c)))


def ml_task(n_labels: int) -> TaskSpec:
    return TaskSpec("multilabel", tuple(f"l{i}" for i in range(n_labels)))


def one_hot(pred: list[int], c: int) -> np.ndarray:
    """Logits whose argmax is ``pred``."""
    return np.eye(c)[pred]


def score(name: str, task: TaskSpec, outputs: np.ndarray, targets: np.ndarray) -> float:
    return metrics.compute([name], task, outputs, targets)[name]


def axis(name: str, p: np.ndarray, y: np.ndarray) -> float:
    """A regression metric on one axis (p = prediction, y = label)."""
    task = TaskSpec("regression", ("x",))
    return metrics.compute([name], task, np.asarray(p, float)[:, None], np.asarray(y, float)[:, None])[name]


# --------------------------------------------------------------------------- registry


def test_registry_lists_every_metric_by_kind() -> None:
    assert metrics.names("classification") == sorted(
        ["uar", "war", "accuracy", "weighted_f1", "macro_f1", "weighted_precision", "macro_precision",
         "weighted_recall", "macro_recall"]
    )
    assert metrics.names("multilabel") == sorted(
        ["mosei_wacc", "mosei_f1", "ml_weighted_accuracy", "ml_weighted_f1", "ml_weighted_precision",
         "ml_weighted_recall", "ml_macro_f1"]
    )
    assert metrics.names("regression") == sorted(
        ["rmse", "pcc", "ccc", "sagr", "pcc_avce", "ccc_avce", "rmse_batched", "sagr_avce", "ccc_per_video"]
    )
    assert metrics.names() == sorted(metrics.METRICS)
    assert len(metrics.names()) == 9 + 7 + 9


def test_metric_records_are_frozen_and_documented() -> None:
    m = metrics.get("ccc")
    assert m.name == "ccc" and m.kinds == ("regression",) and m.higher_is_better
    assert "2·s_xy" in m.doc
    with pytest.raises(dataclasses.FrozenInstanceError):
        m.name = "other"  # type: ignore[misc]
    lower = {name for name, m in metrics.METRICS.items() if not m.higher_is_better}
    assert lower == {"rmse", "rmse_batched"}


def test_register_rejects_duplicates_bad_kinds_and_missing_docs() -> None:
    with pytest.raises(ValueError, match="already registered"):
        metrics.register("uar", ("classification",))
    with pytest.raises(ValueError, match="kinds"):
        metrics.register("new_metric", ("ranking",))

    def undocumented(outputs: np.ndarray, targets: np.ndarray, label_names: tuple[str, ...]) -> float:
        return 0.0

    with pytest.raises(ValueError, match="docstring"):
        metrics.register("new_metric", ("regression",))(undocumented)
    assert "new_metric" not in metrics.METRICS


def test_get_unknown_name_suggests() -> None:
    with pytest.raises(PluginError, match=r"unknown metric 'uarr' \(did you mean 'uar'\?\)"):
        metrics.get("uarr")


# --------------------------------------------------------------------------- classification

CLF_SKLEARN = {
    "accuracy": accuracy_score,
    "war": accuracy_score,
    "uar": balanced_accuracy_score,
    "weighted_f1": lambda y, p: f1_score(y, p, average="weighted", zero_division=0),
    "macro_f1": lambda y, p: f1_score(y, p, average="macro", zero_division=0),
    "weighted_precision": lambda y, p: precision_score(y, p, average="weighted", zero_division=0),
    "macro_precision": lambda y, p: precision_score(y, p, average="macro", zero_division=0),
    "weighted_recall": lambda y, p: recall_score(y, p, average="weighted", zero_division=0),
    "macro_recall": lambda y, p: recall_score(y, p, average="macro", zero_division=0),
}


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("absent", [False, True])
def test_classification_matches_sklearn(seed: int, absent: bool) -> None:
    rng = np.random.default_rng(seed)
    c, n = 5, 60
    task = clf_task(c)
    # With ``absent`` the last class never occurs in the targets (but may be predicted).
    targets = rng.integers(0, c - 1 if absent else c, size=n)
    logits = rng.normal(size=(n, c))
    logits[np.arange(n) % 3 == 0, targets[np.arange(n) % 3 == 0]] += 3.0  # better than chance
    pred = logits.argmax(axis=1)
    got = metrics.compute(list(CLF_SKLEARN), task, logits, targets)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, ref in CLF_SKLEARN.items():
            assert got[name] == pytest.approx(ref(targets, pred), abs=1e-12), name
    assert got["weighted_recall"] == pytest.approx(got["accuracy"], abs=1e-12)
    assert metrics.confusion(task, logits, targets) == confusion_matrix(targets, pred, labels=range(c)).tolist()
    prec, rec, f1, sup = precision_recall_fscore_support(targets, pred, labels=range(c), zero_division=0)
    table = metrics.per_class(task, logits, targets)
    for i, name in enumerate(task.label_names):
        assert table[name] == pytest.approx(
            {"precision": prec[i], "recall": rec[i], "f1": f1[i], "support": float(sup[i])}, abs=1e-12
        )


def test_classification_hand_case() -> None:
    # targets 0 0 0 1 1 2, predictions 0 0 1 1 2 2.
    #   class 0: support 3, predicted 2, TP 2 -> recall 2/3, precision 1,   F1 = 2·2/(3+2) = 4/5
    #   class 1: support 2, predicted 2, TP 1 -> recall 1/2, precision 1/2, F1 = 2·1/(2+2) = 1/2
    #   class 2: support 1, predicted 2, TP 1 -> recall 1,   precision 1/2, F1 = 2·1/(1+2) = 2/3
    # accuracy = 4/6; uar = (2/3 + 1/2 + 1)/3 = 13/18; macro F1 = (4/5 + 1/2 + 2/3)/3 = 59/90;
    # weighted F1 = (3·4/5 + 2·1/2 + 1·2/3)/6 = 61/90; macro precision = (1 + 1/2 + 1/2)/3 = 2/3;
    # weighted precision = (3·1 + 2·1/2 + 1·1/2)/6 = 3/4; weighted recall = accuracy = 2/3.
    task = clf_task(3)
    logits = one_hot([0, 0, 1, 1, 2, 2], 3)
    targets = np.array([0, 0, 0, 1, 1, 2])
    got = metrics.compute(metrics.names("classification"), task, logits, targets)
    expected = {
        "accuracy": 2 / 3, "war": 2 / 3, "weighted_recall": 2 / 3, "uar": 13 / 18, "macro_recall": 13 / 18,
        "macro_f1": 59 / 90, "weighted_f1": 61 / 90, "macro_precision": 2 / 3, "weighted_precision": 3 / 4,
    }
    assert got == pytest.approx(expected, abs=1e-12)
    assert metrics.confusion(task, logits, targets) == [[2, 1, 0], [0, 1, 1], [0, 0, 1]]
    assert metrics.per_class(task, logits, targets)["c0"] == pytest.approx(
        {"recall": 2 / 3, "precision": 1.0, "f1": 0.8, "support": 3.0}
    )


def test_class_absent_from_targets() -> None:
    # 5 classes; class 3 is predicted once but never a target, class 4 never occurs at all.
    # targets 0 0 1 1 2 2, predictions 0 3 1 1 2 0: recalls 1/2, 1, 1/2 (class 3: 0).
    # uar averages the 3 target classes: 2/3; macro recall also counts class 3: 2/4.
    # macro precision over classes 0-3: (1/2 + 1 + 1 + 0)/4 = 5/8.
    task = clf_task(5)
    logits = one_hot([0, 3, 1, 1, 2, 0], 5)
    targets = np.array([0, 0, 1, 1, 2, 2])
    got = metrics.compute(["uar", "macro_recall", "macro_precision", "war"], task, logits, targets)
    assert got == pytest.approx({"uar": 2 / 3, "macro_recall": 0.5, "macro_precision": 5 / 8, "war": 4 / 6})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert got["uar"] == pytest.approx(balanced_accuracy_score(targets, logits.argmax(1)))
    cm = metrics.confusion(task, logits, targets)
    assert len(cm) == 5 and all(len(row) == 5 for row in cm)
    assert cm[3] == [0, 0, 0, 0, 0] and cm[4] == [0, 0, 0, 0, 0]
    assert [row[3] for row in cm] == [1, 0, 0, 0, 0]
    assert metrics.per_class(task, logits, targets)["c4"] == {"recall": 0.0, "precision": 0.0, "f1": 0.0, "support": 0.0}


def test_constant_predictions() -> None:
    # Always class 0 on targets with 4, 3 and 3 samples of classes 0, 1, 2:
    # accuracy 4/10; uar = (1 + 0 + 0)/3; precision of class 0 = 4/10, others 0 (never predicted);
    # macro F1 = (2·4/(4+10))/3 = 4/21; weighted F1 = 4·(4/7)/10 = 8/35.
    task = clf_task(3)
    targets = np.array([0, 0, 0, 0, 1, 1, 1, 2, 2, 2])
    logits = np.zeros((10, 3))  # all ties: argmax -> class 0
    got = metrics.compute(metrics.names("classification"), task, logits, targets)
    assert got["accuracy"] == pytest.approx(0.4)
    assert got["uar"] == pytest.approx(1 / 3)
    assert got["macro_precision"] == pytest.approx(0.4 / 3)
    assert got["weighted_precision"] == pytest.approx(0.4 * 0.4)
    assert got["macro_f1"] == pytest.approx(4 / 21)
    assert got["weighted_f1"] == pytest.approx(8 / 35)
    pred = np.zeros(10, dtype=int)
    for name, ref in CLF_SKLEARN.items():
        assert got[name] == pytest.approx(ref(targets, pred), abs=1e-12), name


# --------------------------------------------------------------------------- multilabel

# Label l0: targets 1 1 0 0 0 0, predicted 1 0 1 0 0 0 -> TP 1, FN 1, FP 1, TN 3 (P 2, N 4)
# Label l1: targets 1 1 1 0 0 0, predicted 1 1 1 1 1 0 -> TP 3, FN 0, FP 2, TN 1 (P 3, N 3)
ML_TARGETS = np.array([[1, 1], [1, 1], [0, 1], [0, 0], [0, 0], [0, 0]])
# Logit 0.0 (row 3 of l0) means absent.
ML_LOGITS = np.array([[2.0, 1.0], [-1.0, 0.5], [0.3, 4.0], [0.0, 0.1], [-2.0, 3.0], [-0.5, -1.0]])


def test_multilabel_hand_case() -> None:
    # w-ACC:  l0 (1·4/2 + 3)/(2·4) = 5/8;  l1 = ½(3/3 + 1/3) = 2/3;  mean = 31/48.
    # MPUC F1: l0 F1_pos = 2/(2+1+1) = 1/2, F1_neg = 6/(6+1+1) = 3/4 -> (2·1/2 + 4·3/4)/6 = 2/3;
    #          l1 F1_pos = 6/(6+2) = 3/4, F1_neg = 2/(2+2) = 1/2 -> (3·3/4 + 3·1/2)/6 = 5/8.
    # accuracy l0 = 4/6, l1 = 4/6 -> weighted (2·4/6 + 3·4/6)/5 = 2/3.
    # positive-class F1 1/2, 3/4 -> weighted (2·1/2 + 3·3/4)/5 = 13/20, macro 5/8.
    # precision 1/2, 3/5 -> weighted (2·1/2 + 3·3/5)/5 = 14/25; recall 1/2, 1 -> (1 + 3)/5 = 4/5.
    task = TaskSpec("multilabel", ("happy", "sad"))
    got = metrics.compute(metrics.names("multilabel"), task, ML_LOGITS, ML_TARGETS)
    assert got == pytest.approx({
        "mosei_wacc": 31 / 48, "mosei_wacc_happy": 5 / 8, "mosei_wacc_sad": 2 / 3,
        "mosei_f1": 31 / 48, "mosei_f1_happy": 2 / 3, "mosei_f1_sad": 5 / 8,
        "ml_weighted_accuracy": 2 / 3, "ml_weighted_f1": 13 / 20, "ml_macro_f1": 5 / 8,
        "ml_weighted_precision": 14 / 25, "ml_weighted_recall": 4 / 5,
    }, abs=1e-12)
    assert metrics.confusion(task, ML_LOGITS, ML_TARGETS) == [[[3, 1], [1, 1]], [[1, 2], [0, 3]]]
    assert metrics.per_class(task, ML_LOGITS, ML_TARGETS)["sad"] == pytest.approx(
        {"wacc": 2 / 3, "f1": 0.75, "precision": 0.6, "recall": 1.0, "support": 3.0}
    )


def random_multilabel(seed: int, n: int = 80, n_labels: int = 6) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    targets = (rng.random((n, n_labels)) < rng.uniform(0.1, 0.6, size=n_labels)).astype(int)
    logits = rng.normal(size=(n, n_labels)) + 1.5 * (targets - 0.5)
    logits[::7, 0] = 0.0  # exactly 0 -> absent
    return logits, targets


@pytest.mark.parametrize("seed", SEEDS)
def test_multilabel_matches_sklearn_and_torchmetrics(seed: int) -> None:
    logits, targets = random_multilabel(seed)
    task = ml_task(targets.shape[1])
    pred = (logits > 0).astype(int)
    got = metrics.compute(metrics.names("multilabel"), task, logits, targets)
    for j, name in enumerate(task.label_names):
        assert got[f"mosei_wacc_{name}"] == pytest.approx(balanced_accuracy_score(targets[:, j], pred[:, j]))
        assert got[f"mosei_f1_{name}"] == pytest.approx(f1_score(targets[:, j], pred[:, j], average="weighted"))
    assert got["mosei_wacc"] == pytest.approx(np.mean([got[f"mosei_wacc_{n}"] for n in task.label_names]))
    assert got["mosei_f1"] == pytest.approx(np.mean([got[f"mosei_f1_{n}"] for n in task.label_names]))
    assert got["ml_weighted_f1"] == pytest.approx(f1_score(targets, pred, average="weighted", zero_division=0))
    assert got["ml_weighted_precision"] == pytest.approx(
        precision_score(targets, pred, average="weighted", zero_division=0)
    )
    assert got["ml_weighted_recall"] == pytest.approx(recall_score(targets, pred, average="weighted", zero_division=0))
    assert got["ml_macro_f1"] == pytest.approx(f1_score(targets, pred, average="macro", zero_division=0))
    # torchmetrics gets the raw logits: it applies the sigmoid and the 0.5 threshold itself.
    tm_args = (torch.tensor(logits), torch.tensor(targets))
    n_labels = targets.shape[1]
    assert got["ml_weighted_accuracy"] == pytest.approx(
        multilabel_accuracy(*tm_args, num_labels=n_labels, average="weighted").item()
    )
    assert got["ml_weighted_f1"] == pytest.approx(
        multilabel_f1_score(*tm_args, num_labels=n_labels, average="weighted").item()
    )
    assert got["ml_weighted_precision"] == pytest.approx(
        multilabel_precision(*tm_args, num_labels=n_labels, average="weighted").item()
    )
    assert got["ml_weighted_recall"] == pytest.approx(
        multilabel_recall(*tm_args, num_labels=n_labels, average="weighted").item()
    )
    assert metrics.confusion(task, logits, targets) == multilabel_confusion_matrix(targets, pred).tolist()
    prec, rec, f1, sup = precision_recall_fscore_support(targets, pred, zero_division=0)
    table = metrics.per_class(task, logits, targets)
    for j, name in enumerate(task.label_names):
        assert table[name] == pytest.approx({
            "wacc": got[f"mosei_wacc_{name}"], "f1": f1[j], "precision": prec[j], "recall": rec[j],
            "support": float(sup[j]),
        })


def test_multilabel_degenerate_columns() -> None:
    # l0 has no positive targets (2 false positives of 5): TNR = 3/5.
    # l1 has no negative targets (4 of 5 found):           TPR = 4/5.
    targets = np.array([[0, 1]] * 5)
    logits = np.array([[1.0, 1.0], [1.0, 1.0], [-1.0, 1.0], [-1.0, 1.0], [-1.0, -1.0]])
    pred = (logits > 0).astype(int)
    task = ml_task(2)
    got = metrics.compute(["mosei_wacc", "mosei_f1", "ml_weighted_accuracy"], task, logits, targets)
    assert got["mosei_wacc_l0"] == pytest.approx(3 / 5)
    assert got["mosei_wacc_l1"] == pytest.approx(4 / 5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # sklearn warns about the class missing from y_true
        for j in range(2):
            assert got[f"mosei_wacc_l{j}"] == pytest.approx(balanced_accuracy_score(targets[:, j], pred[:, j]))
            assert got[f"mosei_f1_l{j}"] == pytest.approx(f1_score(targets[:, j], pred[:, j], average="weighted"))
    # Only l1 has positives, so the weighted accuracy is l1's accuracy alone.
    assert got["ml_weighted_accuracy"] == pytest.approx(4 / 5)


def test_multilabel_without_any_positive_is_zero_like_torchmetrics() -> None:
    targets = np.zeros((4, 2), dtype=int)
    logits = np.array([[1.0, -1.0], [-1.0, -1.0], [-1.0, 1.0], [-1.0, -1.0]])
    got = metrics.compute(metrics.names("multilabel"), ml_task(2), logits, targets)
    reference = multilabel_accuracy(torch.tensor(logits), torch.tensor(targets), num_labels=2, average="weighted")
    assert got["ml_weighted_accuracy"] == reference.item() == 0.0
    assert got["ml_weighted_f1"] == got["ml_weighted_precision"] == got["ml_weighted_recall"] == 0.0
    assert got["mosei_wacc"] == pytest.approx(3 / 4)  # TNR of each label is 3/4


# --------------------------------------------------------------------------- regression


@pytest.mark.parametrize("seed", SEEDS)
def test_pcc_matches_scipy_and_rmse_sagr_match_numpy(seed: int) -> None:
    rng = np.random.default_rng(seed)
    y = rng.uniform(-1, 1, size=(50, 2))
    p = 0.6 * y + rng.normal(scale=0.4, size=(50, 2))
    got = metrics.compute(["pcc", "rmse", "sagr"], VA, p, y)
    for j, name in enumerate(VA.label_names):
        assert got[f"pcc_{name}"] == pytest.approx(pearsonr(p[:, j], y[:, j]).statistic)
        assert got[f"rmse_{name}"] == pytest.approx(np.sqrt(np.mean((p[:, j] - y[:, j]) ** 2)))
        assert got[f"sagr_{name}"] == pytest.approx(np.mean(np.sign(p[:, j]) == np.sign(y[:, j])))
    for metric in ("pcc", "rmse", "sagr"):
        assert got[metric] == pytest.approx((got[f"{metric}_valence"] + got[f"{metric}_arousal"]) / 2)


def test_pcc_of_an_affine_map_stays_within_one() -> None:
    # Rounding alone would give |r| slightly above 1 for many of these exact affine relations.
    for seed in range(20):
        rng = np.random.default_rng(seed)
        x = rng.normal(size=7)
        y = x * rng.uniform(0.1, 3.0) + rng.normal()
        assert axis("pcc", y, x) == pytest.approx(1.0) and axis("pcc", y, x) <= 1.0
        assert axis("pcc", -y, x) == pytest.approx(-1.0) and axis("pcc", -y, x) >= -1.0


def test_ccc_properties_and_hand_case() -> None:
    x = np.array([0.3, -0.5, 0.9, 0.1, -0.8])
    x = x - x.mean()
    assert axis("ccc", x, x) == pytest.approx(1.0)
    assert axis("ccc", -x, x) == pytest.approx(-1.0)  # zero-mean, so the means do not differ
    shifted = axis("ccc", x + 0.5, x)
    assert shifted < axis("pcc", x + 0.5, x) == pytest.approx(1.0)
    # Hand case: y = 1 2 3, p = 2 4 6. μ_y = 2, μ_p = 4; var_y = 2/3, var_p = 8/3;
    # s_yp = ((-1)(-2) + 0 + (1)(2))/3 = 4/3 -> CCC = (8/3) / (2/3 + 8/3 + 4) = 4/11.
    assert axis("ccc", [2.0, 4.0, 6.0], [1.0, 2.0, 3.0]) == pytest.approx(4 / 11)
    # Shift: ccc(x + 0.5, x) = 2 var / (2 var + 0.25).
    assert shifted == pytest.approx(2 * np.var(x) / (2 * np.var(x) + 0.25))


@pytest.mark.parametrize("seed", SEEDS)
def test_avce_variants_are_n_over_n_minus_1(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = 10 + seed
    y = rng.uniform(-1, 1, size=(n, 2))
    p = 0.5 * y + rng.normal(scale=0.3, size=(n, 2)) + 0.1
    got = metrics.compute(["pcc", "ccc", "pcc_avce", "ccc_avce"], VA, p, y)
    for j, name in enumerate(VA.label_names):
        assert got[f"pcc_avce_{name}"] == pytest.approx(n / (n - 1) * got[f"pcc_{name}"], rel=1e-12)
        assert got[f"ccc_avce_{name}"] == pytest.approx(n / (n - 1) * got[f"ccc_{name}"], rel=1e-12)
        # The formulas as written in kdhht2334/AVCE_FER src/evaluation.py.
        lv, pv = y[:, j], p[:, j]
        cov = np.cov(lv, pv)[0, 1]
        assert got[f"pcc_avce_{name}"] == pytest.approx(cov / (np.std(lv) * np.std(pv)))
        ccc_code = 2 * cov / (np.std(lv) ** 2 + np.std(pv) ** 2 + (lv.mean() - pv.mean()) ** 2)
        assert got[f"ccc_avce_{name}"] == pytest.approx(ccc_code)


def test_rmse_batched_hand_case() -> None:
    # 130 samples: batches of 64, 64 and 2 with errors ±1, ±2 and ±10 (axis 0), 3 everywhere (axis 1).
    # Axis 0: batched = (1 + 2 + 10)/3 = 13/3; global = sqrt((64·1 + 64·4 + 2·100)/130) = sqrt(4) = 2.
    err = np.concatenate([np.full(64, 1.0), np.full(64, 2.0), np.full(2, 10.0)])
    err *= np.where(np.arange(130) % 2 == 0, 1.0, -1.0)
    y = np.linspace(-1, 1, 130)[:, None].repeat(2, axis=1)
    p = y + np.stack([err, np.full(130, 3.0)], axis=1)
    got = metrics.compute(["rmse_batched", "rmse"], VA, p, y)
    assert got["rmse_batched_valence"] == pytest.approx(13 / 3)
    assert got["rmse_valence"] == pytest.approx(2.0)
    assert got["rmse_batched_arousal"] == pytest.approx(3.0)
    assert got["rmse_arousal"] == pytest.approx(3.0)
    assert got["rmse_batched"] == pytest.approx((13 / 3 + 3) / 2)


def test_sagr_with_zero_labels() -> None:
    # sign(y): 0 0 1 -1 1 -1; sign(p): 0 1 1 1 -1 -1.
    # sagr agrees at rows 0, 2, 5 -> 3/6; sagr_avce drops row 0 (label exactly 0) -> 2/6.
    y = [0.0, 0.0, 1.0, -1.0, 2.0, -0.5]
    p = [0.0, 0.3, 0.5, 0.2, -1.0, -2.0]
    assert axis("sagr", p, y) == pytest.approx(0.5)
    assert axis("sagr_avce", p, y) == pytest.approx(1 / 3)
    assert axis("sagr_avce", y, y) == pytest.approx(4 / 6)  # a perfect prediction still misses the zeros
    assert axis("sagr", y, y) == 1.0


def test_constant_predictor_is_never_nan() -> None:
    y = np.array([0.1, -0.4, 0.7, 0.2])
    names = metrics.names("regression")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no division-by-zero RuntimeWarning either
        one = ["video"] * 4  # the grouped ccc_per_video: one video
        const = metrics.compute(names, TaskSpec("regression", ("x",)), np.full((4, 1), 0.3), y[:, None], one)
        same = metrics.compute(names, TaskSpec("regression", ("x",)), np.full((4, 1), 0.1), np.full((4, 1), 0.1), one)
        other = metrics.compute(names, TaskSpec("regression", ("x",)), np.full((4, 1), 0.2), np.full((4, 1), 0.1), one)
        single = metrics.compute(names, TaskSpec("regression", ("x",)), np.array([[0.5]]), np.array([[0.4]]), one[:1])
    assert all(np.isfinite(v) for result in (const, same, other, single) for v in result.values())
    for key in ("pcc", "ccc", "pcc_avce", "ccc_avce", "ccc_per_video"):
        assert const[key] == 0.0
        assert other[key] == 0.0
        assert single[key] == 0.0
    assert same["pcc"] == same["pcc_avce"] == 0.0
    assert same["ccc"] == same["ccc_avce"] == same["ccc_per_video"] == 1.0
    assert const["rmse"] == pytest.approx(np.sqrt(np.mean((0.3 - y) ** 2)))
    # Labels constant, predictions varying: the same rules apply from the other side.
    assert axis("pcc", y, np.full(4, 0.2)) == 0.0 and axis("ccc", y, np.full(4, 0.2)) == 0.0


def test_regression_scores_survive_extreme_scales() -> None:
    x = np.array([1.0, 3.0, 2.0, 5.0])
    p = np.array([1.5, 2.5, 2.0, 4.0])
    for scale in (1e-200, 1e200):
        assert axis("ccc", scale * x, scale * x) == pytest.approx(1.0)
        assert axis("pcc", scale * p, scale * x) == pytest.approx(axis("pcc", p, x))
        assert axis("ccc", scale * p, scale * x) == pytest.approx(axis("ccc", p, x))
        assert axis("ccc_avce", scale * p, scale * x) == pytest.approx(axis("ccc_avce", p, x))
        assert axis("rmse", scale * p, scale * x) == pytest.approx(scale * axis("rmse", p, x))


def test_regression_per_class_and_confusion() -> None:
    rng = np.random.default_rng(7)
    y = rng.uniform(-1, 1, size=(30, 2))
    p = y + rng.normal(scale=0.5, size=(30, 2))
    got = metrics.compute(["rmse", "pcc", "ccc", "sagr"], VA, p, y)
    table = metrics.per_class(VA, p, y)
    assert set(table) == {"valence", "arousal"}
    for name in VA.label_names:
        assert table[name] == {key: got[f"{key}_{name}"] for key in ("rmse", "pcc", "ccc", "sagr")}
    assert metrics.confusion(VA, p, y) is None


# --------------------------------------------------------------------------- compute()


def test_compute_flattens_dict_metrics_into_python_floats() -> None:
    y = np.array([[0.1, 0.5], [0.4, -0.2], [-0.3, 0.3], [0.8, 0.0]])
    p = np.array([[0.2, 0.4], [0.3, -0.1], [-0.1, 0.1], [0.5, 0.2]])
    got = metrics.compute(["ccc", "rmse", "ccc"], VA, p, y)
    assert list(got) == ["ccc", "ccc_valence", "ccc_arousal", "rmse", "rmse_valence", "rmse_arousal"]
    assert all(type(v) is float for v in got.values())
    assert got["ccc"] == pytest.approx((got["ccc_valence"] + got["ccc_arousal"]) / 2)
    clf = metrics.compute(["uar"], clf_task(2), [[1.0, 0.0], [0.0, 1.0]], [0, 0])
    assert clf == {"uar": 0.5} and type(clf["uar"]) is float


def test_compute_rejects_bad_shapes() -> None:
    task = clf_task(3)
    with pytest.raises(RunError, match=r"shape \[N, 3\].*got \(4, 2\)"):
        metrics.compute(["uar"], task, np.zeros((4, 2)), np.zeros(4))
    with pytest.raises(RunError, match=r"shape \[N, 3\].*got \(4,\)"):
        metrics.compute(["uar"], task, np.zeros(4), np.zeros(4))
    with pytest.raises(RunError, match=r"targets must have shape \(4,\).*got \(5,\)"):
        metrics.compute(["uar"], task, np.zeros((4, 3)), np.zeros(5))
    with pytest.raises(RunError, match=r"targets must have shape \(4, 2\).*got \(4,\)"):
        metrics.compute(["mosei_wacc"], ml_task(2), np.zeros((4, 2)), np.zeros(4))
    with pytest.raises(RunError, match="0 rows"):
        metrics.compute(["uar"], task, np.zeros((0, 3)), np.zeros(0))


def test_compute_rejects_non_finite_outputs() -> None:
    outputs = np.zeros((5, 2))
    outputs[1, 0] = np.nan
    outputs[3, 1] = np.inf
    outputs[3, 0] = np.nan
    with pytest.raises(RunError, match=r"2 of 5 output rows contain NaN or inf \(first at row 1\)"):
        metrics.compute(["ccc"], VA, outputs, np.zeros((5, 2)))


def test_compute_rejects_invalid_targets() -> None:
    with pytest.raises(RunError, match=r"class indices in 0\.\.2; 1 are not \(e\.g\. 3\.0\)"):
        metrics.compute(["uar"], clf_task(3), np.zeros((3, 3)), [0, 1, 3])
    with pytest.raises(RunError, match="class indices"):
        metrics.compute(["uar"], clf_task(3), np.zeros((3, 3)), [0, 1.5, 2])
    with pytest.raises(RunError, match="0 or 1"):
        metrics.compute(["mosei_wacc"], ml_task(2), np.zeros((2, 2)), [[0, 1], [2, 0]])
    with pytest.raises(RunError, match="finite"):
        metrics.compute(["ccc"], VA, np.zeros((2, 2)), [[0.0, np.nan], [0.0, 0.0]])


def test_compute_wrong_kind_names_the_valid_metrics() -> None:
    with pytest.raises(PluginError) as info:
        metrics.compute(["mosei_wacc", "uar", "ccc"], ml_task(2), np.zeros((2, 2)), np.zeros((2, 2)))
    message = str(info.value)
    assert "uar, ccc do not apply to multilabel" in message
    assert ", ".join(metrics.names("multilabel")) in message


def test_compute_unknown_metric_says_did_you_mean() -> None:
    with pytest.raises(PluginError, match=r"did you mean 'mosei_wacc'"):
        metrics.compute(["mosei_wac"], ml_task(2), np.zeros((2, 2)), np.zeros((2, 2)))


def test_compute_refuses_colliding_keys() -> None:
    # An axis named "avce" would make ccc's per-axis key equal to the ccc_avce headline.
    task = TaskSpec("regression", ("valence", "avce"))
    y = np.array([[0.1, 0.2], [0.3, -0.1], [-0.2, 0.4]])
    with pytest.raises(PluginError, match="overwrite 'ccc_avce'"):
        metrics.compute(["ccc", "ccc_avce"], task, y * 0.5, y)


@pytest.mark.parametrize("kind", ["classification", "multilabel"])
def test_scores_are_fractions(kind: str) -> None:
    rng = np.random.default_rng(11)
    if kind == "classification":
        task, logits, targets = clf_task(4), rng.normal(size=(40, 4)), rng.integers(0, 4, 40)
    else:
        logits, targets = random_multilabel(11)
        task = ml_task(targets.shape[1])
    got = metrics.compute(metrics.names(kind), task, logits, targets)
    assert all(0.0 <= v <= 1.0 for v in got.values())
