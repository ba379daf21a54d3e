"""AVCE end to end through ``bench run`` on the synthetic valence-arousal benchmark (tiny presets).

One fold of ``synthetic_va`` per backbone (192 training clips, one frame each per pass, 48 test
clips): the tiny AVCE must beat the constant predictor (the training labels' mean, whose CCC
is 0 by definition) clearly on both axes, and train exactly its iterations.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from bench import metrics
from bench.running import run

MIN_CCC = 0.2
"""Mean CCC the tiny presets must reach on fold 1 (a constant predictor has 0)."""


@pytest.mark.slow
@pytest.mark.parametrize("preset", ["tiny", "tiny_resnet18"])
def test_tiny_avce_beats_a_constant_predictor(preset: str, tmp_path: Path) -> None:
    request = run.RunRequest(method="avce", protocol="synthetic_va", folds=["1"], preset=preset,
                             modalities=["video"], out=tmp_path, progress=False)
    plan = run.make_plan(request)
    (result,) = run.execute(plan)
    record = result.record
    split = plan.folds[0]
    labels = {s.id: np.asarray(s.label) for s in plan.samples}
    train = np.stack([labels[i] for i in split.train])
    test = np.stack([labels[i] for i in split.test])
    constant = metrics.compute(["ccc", "rmse"], plan.task, np.tile(train.mean(0), (len(test), 1)), test)
    scores = record["metrics"]
    assert constant["ccc"] == 0.0
    assert scores["ccc"] > MIN_CCC and scores["ccc_valence"] > 0.1 and scores["ccc_arousal"] > 0.1, scores
    assert scores["rmse"] < constant["rmse"], (scores, constant)
    # exactly cfg.iterations iterations: the stage's epoch count is only an upper bound
    cfg = plan.cfg
    epochs = math.ceil(cfg.iterations / math.ceil(len(split.train) / cfg.batch))
    assert record["selection"]["epochs_trained"] == {"supervised": epochs}
    assert record["weights"] == {"all": "random-init"}
    assert record["data"]["preprocessing"]["video"]["name"] == "video_frames"
