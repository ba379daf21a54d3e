"""Pooled vs per-video CCC (AVCE's frame-level protocols), and what a protocol's record reports."""

from __future__ import annotations

import numpy as np
import pytest

from bench import metrics, protocols
from bench.api import TaskSpec
from bench.errors import RunError

VA = TaskSpec("regression", ("valence", "arousal"))


def lin_ccc(p: np.ndarray, y: np.ndarray) -> float:
    """Lin's CCC with population moments, written out independently of bench.metrics."""
    cov = np.mean((p - p.mean()) * (y - y.mean()))
    return float(2 * cov / (p.var() + y.var() + (p.mean() - y.mean()) ** 2))


def test_per_video_ccc_is_the_mean_of_each_videos_ccc_not_the_pooled_one() -> None:
    # video a: prediction = label (CCC 1); video b: prediction = label + 1 on constant-spread labels
    # hand case, arousal axis: a = [0, 1] vs [0, 1] -> 1; b = [0, 1] vs [1, 2] -> 2*0.25/(0.25+0.25+1) = 1/3
    labels = np.array([[0.0, 0.0], [1.0, 1.0], [0.0, 0.0], [1.0, 1.0]])
    preds = np.array([[0.0, 0.0], [1.0, 1.0], [0.0, 1.0], [1.0, 2.0]])
    groups = ["a", "a", "b", "b"]
    scores = metrics.compute(["ccc", "ccc_per_video"], VA, preds, labels, groups=groups)
    assert scores["ccc_per_video_valence"] == pytest.approx(1.0)
    assert scores["ccc_per_video_arousal"] == pytest.approx((1.0 + 1.0 / 3.0) / 2)
    assert scores["ccc_per_video"] == pytest.approx((1.0 + (1.0 + 1.0 / 3.0) / 2) / 2)
    pooled = lin_ccc(preds[:, 1], labels[:, 1])
    assert scores["ccc_arousal"] == pytest.approx(pooled) and pooled != pytest.approx(scores["ccc_per_video_arousal"])


def test_per_video_ccc_matches_an_independent_groupby_and_ignores_row_order() -> None:
    rng = np.random.default_rng(3)
    groups = np.repeat(["v1", "v2", "v3", "v10"], [7, 3, 12, 5])
    labels = rng.uniform(-1, 1, (len(groups), 2))
    preds = labels * 0.5 + rng.normal(0, 0.3, labels.shape)
    expected = [np.mean([lin_ccc(preds[groups == g, j], labels[groups == g, j]) for g in set(groups)]) for j in (0, 1)]
    scores = metrics.compute(["ccc_per_video"], VA, preds, labels, groups=list(groups))
    assert [scores["ccc_per_video_valence"], scores["ccc_per_video_arousal"]] == pytest.approx(expected)
    order = rng.permutation(len(groups))
    shuffled = metrics.compute(["ccc_per_video"], VA, preds[order], labels[order], groups=list(groups[order]))
    assert shuffled == pytest.approx(scores)


def test_a_constant_video_scores_the_documented_value_never_nan() -> None:
    labels = np.array([[0.2, 0.1], [0.2, 0.3], [0.5, -0.5]])  # video b has one frame: constant sides
    preds = np.array([[0.1, 0.0], [0.3, 0.4], [0.5, -0.4]])
    scores = metrics.compute(["ccc_per_video"], VA, preds, labels, groups=["a", "a", "b"])
    # a, valence: constant labels, varying predictions -> 0; b, valence: both the same constant -> 1
    assert scores["ccc_per_video_valence"] == pytest.approx(0.5)
    assert scores["ccc_per_video_arousal"] == pytest.approx((lin_ccc(preds[:2, 1], labels[:2, 1]) + 0.0) / 2)
    assert all(np.isfinite(list(scores.values())))


def test_per_video_ccc_needs_one_group_per_row() -> None:
    with pytest.raises(RunError, match="ccc_per_video score per group .* got none"):
        metrics.compute(["ccc_per_video"], VA, np.zeros((2, 2)), np.ones((2, 2)))
    with pytest.raises(RunError, match="got 1 for 2 rows"):
        metrics.compute(["ccc_per_video"], VA, np.zeros((2, 2)), np.ones((2, 2)), groups=["a"])
    assert metrics.get("ccc_per_video").grouped and not metrics.get("ccc").grouped


@pytest.mark.parametrize("name", ["afewva_cv", "affwild_sampled_train", "affwild2_val"])
def test_avce_protocols_report_pooled_per_video_and_code_variants(name: str) -> None:
    protocol = protocols.load(name)
    assert {"rmse", "sagr", "pcc", "ccc", "ccc_per_video", "rmse_batched", "sagr_avce", "pcc_avce",
            "ccc_avce"} <= set(protocol.metrics)
    assert protocol.primary == "ccc" and "pooled" in protocol.description
    assert any(s.startswith("avce:") for s in protocol.serves)


def test_affwild2_val_is_the_official_validation_set_of_table_3() -> None:
    protocol = protocols.load("affwild2_val")
    assert protocol.dataset == "affwild2" and protocol.split == {"scheme": "official"}
    assert protocol.serves == ("avce:3",) and protocol.seeds == (0, 1, 2, 3, 4) and not protocol.leaky
