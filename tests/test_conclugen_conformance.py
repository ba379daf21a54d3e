"""Every ConCluGen variant end to end on the synthetic benchmark: pretrain → linear eval, tiny preset."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from bench.run import RunRequest, execute, make_plan
from bench_methods.conclugen.config import VARIANTS

PROTOCOL = """\
name: conclugen_synthetic_linear
dataset: synthetic
task: classification
modalities: [video, audio, text]
split: {scheme: official}
regime: {kind: linear_eval, pretrain: true}
selection: {rule: last_epoch}
metrics: [accuracy, weighted_f1]
primary: accuracy
seeds: [0]
"""


@pytest.fixture
def one_thread():
    # the tiny heads are far faster on one thread than on two contended ones
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_every_variant_runs_pretrain_then_linear_eval(tmp_path: Path, one_thread: None) -> None:
    protocol = tmp_path / "conclugen_synthetic_linear.yaml"
    protocol.write_text(PROTOCOL)
    cache = tmp_path / "cache"
    accuracies = {}
    for variant in sorted(VARIANTS):
        plan = make_plan(RunRequest(method="conclugen", protocol=str(protocol), preset="tiny",
                                    overrides={"variant": variant, "pretrain_epochs": 3, "epochs": 30},
                                    out=tmp_path / "out", progress=False, cache_root=cache))
        record = execute(plan)[0].record
        stages = {h["stage"] for h in record["history"]}
        assert stages == ({"supervised"} if variant == "supervised" else {"pretrain", "linear_eval"})
        assert all(v == "random-init" for v in record["weights"].values())
        assert "video_2d:tiny" in record["weights"]
        assert record["data"]["preprocessing"]["video"]["name"] == "conclugen_video_features"
        accuracies[variant] = record["metrics"]["accuracy"]
        assert 0.0 <= accuracies[variant] <= 1.0
    print(accuracies)
