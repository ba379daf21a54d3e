"""The training samplers of a stage: shuffle (a permutation) and class_balanced (MPUC's weighted draws, single and multilabel)."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
import torch

from bench.data.prepare import ArrayDataset, Prepared, _EpochSampler, class_balanced_weights
from bench.errors import ConfigError


def _dataset(labels: np.ndarray | None, count: int) -> ArrayDataset:
    prepared = Prepared(ids=tuple(str(i) for i in range(count)), arrays={"audio": np.zeros((count, 2), np.float32)},
                        shapes={"audio": (2,)}, variants={}, cache_hits=0, cache_misses=0, seconds=0.0)
    return ArrayDataset(prepared, labels, range(count), train=True)


def test_weights_are_one_over_the_class_count_of_the_training_side() -> None:
    labels = np.array([0, 0, 0, 1, 2, 2, 1, 1, 1])
    data = ArrayDataset(_dataset(labels, 9).prepared, labels[:6], [0, 1, 2, 3, 4, 5], train=True)  # counts 3, 1, 2
    torch.testing.assert_close(class_balanced_weights(data),
                               torch.tensor([1 / 3, 1 / 3, 1 / 3, 1.0, 0.5, 0.5], dtype=torch.float64))


def test_class_balanced_draws_every_class_about_equally_and_reproducibly() -> None:
    labels = np.array([0] * 90 + [1] * 10)
    data = _dataset(labels, 100)
    sampler = _EpochSampler(data, seed=0, stage=0, kind="class_balanced")
    drawn: Counter[int] = Counter()
    for epoch in range(20):
        sampler.set_epoch(epoch)
        order = list(sampler)
        assert len(order) == 100
        drawn.update(int(labels[i]) for i in order)
    # 2,000 draws at p = 0.5: the minority class lands 1,000 +- 22 (1 sd) times; a permutation gives 200
    assert 900 <= drawn[1] <= 1100
    again = _EpochSampler(data, seed=0, stage=0, kind="class_balanced")
    again.set_epoch(19)
    assert list(again) == order
    shuffle = _EpochSampler(data, seed=0, stage=0)
    assert sorted(shuffle) == list(range(100))


def test_multilabel_weights_sum_one_over_each_present_labels_count_by_hand() -> None:
    # training rows 0-3: label a 3 times, b once, no label once (MPUC's MOSEI "neutral"); row 4 is not training
    labels = np.array([[1, 0], [1, 1], [0, 0], [1, 0], [0, 1]], dtype=np.float32)
    data = ArrayDataset(_dataset(labels, 5).prepared, labels[:4], [0, 1, 2, 3], train=True)
    torch.testing.assert_close(class_balanced_weights(data),
                               torch.tensor([1 / 3, 1 / 3 + 1.0, 1.0, 1 / 3], dtype=torch.float64))


def test_class_balanced_multilabel_draws_the_rare_label_more_often_than_shuffling() -> None:
    labels = np.array([[1, 0]] * 45 + [[0, 1]] * 5 + [[0, 0]] * 50, dtype=np.float32)
    data = _dataset(labels, 100)
    balanced, shuffle = _EpochSampler(data, seed=0, stage=0, kind="class_balanced"), _EpochSampler(data, 0, 0)
    rare = [i for i in range(100) if labels[i, 1]]
    drawn = {"balanced": 0, "shuffle": 0}
    for epoch in range(20):
        for name, sampler in (("balanced", balanced), ("shuffle", shuffle)):
            sampler.set_epoch(epoch)
            drawn[name] += sum(i in rare for i in sampler)
    # shuffling draws each row once an epoch: 5 x 20 = 100; weighted, the rare label is 1/3 of the mass: ~667
    assert drawn["shuffle"] == 100 and 600 <= drawn["balanced"] <= 733


def test_class_balanced_needs_labels() -> None:
    with pytest.raises(ConfigError, match="class_balanced"):
        _EpochSampler(_dataset(None, 4), seed=0, stage=0, kind="class_balanced")
