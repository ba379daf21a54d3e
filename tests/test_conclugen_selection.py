"""ConCluGen's ``selection='early_stop_loss'``: the code's early stopping on the class-weighted
validation loss, testing the last epoch's weights (methods/conclugen/selection.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from bench_methods.conclugen import ConCluGen, class_weights
from bench_methods.conclugen.config import ConCluGenConfig
from bench_methods.conclugen.selection import validation_loss

from bench.api import TaskSpec
from bench.data.synthetic_generator import SyntheticSpec, generate
from bench.errors import ConfigError
from bench.running.run import RunRequest, execute, make_plan

MELD = TaskSpec("classification", tuple(class_weights.MELD))
CAER = TaskSpec("classification", class_weights.CAER)


def _weighted_ce(logits: np.ndarray, targets: np.ndarray, weights: np.ndarray) -> float:
    shifted = logits - logits.max(axis=1, keepdims=True)
    nll = np.log(np.exp(shifted).sum(axis=1)) - shifted[np.arange(len(targets)), targets]
    w = weights[targets]
    return float((w * nll).sum() / w.sum())


def test_validation_loss_uses_the_official_weights_of_the_validation_side():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(6, 7)).astype(np.float32)
    targets = np.array([0, 4, 4, 1, 6, 2])
    meld = np.array([class_weights.MELD[n] for n in MELD.label_names])
    assert validation_loss(MELD, logits, targets, "official") == pytest.approx(_weighted_ce(logits, targets, meld), rel=1e-6)
    assert validation_loss(MELD, logits, targets, "none") == pytest.approx(_weighted_ce(logits, targets, np.ones(7)), rel=1e-6)
    caer = np.bincount(targets, minlength=7) / len(targets)  # CAER: counts of this side, proportional
    assert validation_loss(CAER, logits, targets, "official") == pytest.approx(_weighted_ce(logits, targets, caer), rel=1e-6)


def test_early_stopping_needs_a_validation_side():
    with pytest.raises(ConfigError, match="validation side"):
        ConCluGen().selector(ConCluGenConfig(selection="early_stop_loss"), MELD, None)
    assert ConCluGen().selector(ConCluGenConfig(), MELD, None) is None


def test_early_stopping_stops_and_tests_the_last_epoch(tmp_path: Path):
    root = tmp_path / "data"
    generate(root, SyntheticSpec(variant="classification", num_subjects=6, clips_per_subject=8))
    overrides = {"variant": "supervised", "selection": "early_stop_loss", "early_stop_patience": 2, "epochs": 300,
                 "lr": 0.05}
    request = RunRequest(method="conclugen", protocol="synthetic_holdout", preset="tiny", overrides=overrides,
                         modalities=["audio", "text"], data_root=root, out=tmp_path / "out", progress=False,
                         cache_root=tmp_path / "cache")
    record = execute(make_plan(request))[0].record
    selection = record["selection"]
    trained = selection["epochs_trained"]["supervised"]
    assert selection["rule"] == "early_stop_val_loss" and selection["patience"] == 2
    assert 3 <= trained < 300 and selection["epoch"] == trained - 1  # stopped early, on its last epoch's weights
