"""bench's AVCE against figures of the official code (kdhht2334/AVCE_FER), tests/golden_official/avce/.

The fixture holds one iteration of the code's ``main.py`` on AlexNet with weights drawn per tensor
name (tests/golden_weights.py): z, the sparsemax view, x, H's and H1's outputs, L_AVCE, L_main and
L_dis, and ``evaluation.py``'s four metrics on fixed predictions; the commit and the rules are in
the file. Here the same weights are drawn in the official layout, renamed by
bench_methods.avce.official and run through bench's ``code`` preset.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import torch

import golden_weights
from bench import config, metrics
from bench.api import TaskSpec
from bench_methods.avce import AVCE
from bench_methods.avce.config import AVCEConfig
from bench_methods.avce.losses import avce_objective, dis_loss, main_loss, pair_scores
from bench_methods.avce.networks import AVCENet
from bench_methods.avce.official import net_state_dict
from bench_methods.avce.views import softmax_view, sparsemax

FIXTURE = json.loads((Path(__file__).parent / "golden_official" / "avce" / "alexnet_iteration.json").read_text())
VA = TaskSpec("regression", ("valence", "arousal"))
TOL = 1e-5

pytestmark = pytest.mark.usefixtures("one_thread")


def resolve(preset: str, **overrides: object) -> AVCEConfig:
    return config.resolve(AVCE.Config, AVCE.presets, preset, overrides, "avce")


@dataclasses.dataclass
class Pass:
    z: torch.Tensor
    z_a: torch.Tensor
    x: torch.Tensor
    y_a: torch.Tensor
    y_n: torch.Tensor
    v: torch.Tensor
    v_a: torch.Tensor
    v_n: torch.Tensor
    labels: torch.Tensor


@pytest.fixture(scope="module")
def forward() -> Pass:
    official = golden_weights.state_dict(FIXTURE["layout"], FIXTURE["weights_seed"])
    part = {p: {k[len(p) + 1:]: v for k, v in official.items() if k.startswith(p + ".")}
            for p in ("encoder", "regressor", "sp_regressor", "v_regressor")}
    net = AVCENet(resolve("code"), 2)
    net.load_state_dict(net_state_dict("alexnet", part["encoder"], part["regressor"], part["sp_regressor"],
                                       part["v_regressor"]), strict=True)
    net.eval()  # the code's E and R from iteration 1 on; H and H1 have no dropout or BatchNorm
    g = torch.Generator().manual_seed(FIXTURE["input_seed"])
    images = 30 * torch.randn(8, 3, 224, 224, generator=g)
    labels = torch.rand(8, 2, generator=g) * 2 - 1
    with torch.no_grad():
        z = net.latent(images)
        z_a, z_n = sparsemax(z), softmax_view(z)
        return Pass(z, z_a, net.regressor(z), net.head(z_a), net.head(z_n), net.metric_head(z),
                    net.metric_head(z_a), net.metric_head(z_n), labels)


def deviation(got: torch.Tensor, key: str) -> float:
    return float((got.reshape(-1).double() - torch.tensor(FIXTURE[key], dtype=torch.float64)).abs().max())


def losses(run: Pass, cfg: AVCEConfig) -> dict[str, float]:
    total, _, _ = main_loss(cfg, run.x, run.y_a, run.y_n, run.labels, valence=0)
    avce = avce_objective(pair_scores(run.x, run.y_a, cfg, 0), pair_scores(run.x, run.y_n, cfg, 0), cfg.alpha,
                          cfg.beta, cfg.gamma, cfg.avce_reduction)
    dis = dis_loss(run.v, run.v_a, run.v_n, cfg.delta1, cfg.delta2, cfg.hold_weight, cfg.dis_reduction)
    return {"L_main": float(total), "L_AVCE": float(avce), "L_dis": float(dis)}


def test_fixture_names_the_official_commit_and_rules() -> None:
    assert FIXTURE["official"]["repository"] == "kdhht2334/AVCE_FER"
    assert len(FIXTURE["official"]["commit"]) == 40 and FIXTURE["weights_rule"] == golden_weights.RULE


def test_alexnet_and_heads_match_the_official_networks(forward: Pass) -> None:
    for key in ("z", "x", "y_a", "y_n", "v", "v_a", "v_n"):
        assert deviation(getattr(forward, key), key) < TOL, key
    # the code solves sparsemax with CVXPY's default solver (OSQP, to its tolerance, entries of
    # -2e-6 where the exact projection has 0); bench has the closed form
    assert deviation(forward.z_a, "z_a") < 5 * TOL
    assert int((forward.z_a > 0).sum()) < forward.z_a.numel() // 2  # a sparse projection: the case that matters


def test_code_preset_losses_match_and_the_paper_differs(forward: Pass) -> None:
    code = losses(forward, resolve("code"))
    for key, value in code.items():
        assert abs(value - FIXTURE[key]) < TOL, key
    paper = losses(forward, resolve("paper", head_batchnorm=False))
    for key in ("L_main", "L_AVCE", "L_dis"):
        assert abs(paper[key] - FIXTURE[key]) > 1e-2, key


def test_the_codes_four_metrics_match_and_the_standard_ones_differ() -> None:
    labels = np.asarray(FIXTURE["metrics_labels"], dtype=np.float32)
    preds = np.asarray(FIXTURE["metrics_predictions"], dtype=np.float32)
    names = {"rmse": "rmse_batched", "pcc": "pcc_avce", "ccc": "ccc_avce", "sagr": "sagr_avce"}
    scores = metrics.compute([*names.values(), *names], VA, preds, labels)
    for official, ours in names.items():
        got = [scores[f"{ours}_valence"], scores[f"{ours}_arousal"]]
        assert got == pytest.approx(FIXTURE["metrics"][official], abs=TOL), official
    for standard in ("rmse", "pcc", "ccc"):
        assert scores[f"{standard}_valence"] != pytest.approx(FIXTURE["metrics"][standard][0], abs=TOL), standard


def test_released_weight_files_load_through_the_config_and_bad_ones_are_config_errors(tmp_path: Path) -> None:
    from bench.errors import ConfigError

    official = golden_weights.state_dict(FIXTURE["layout"], FIXTURE["weights_seed"])
    for part in ("encoder", "regressor"):
        torch.save({k[len(part) + 1:]: v for k, v in official.items() if k.startswith(part + ".")},
                   tmp_path / f"{part}.t7")
    module = AVCE().build(VA, resolve("code", official_weights=str(tmp_path)), {"video": (3, 224, 224)})
    assert torch.equal(module.net.compressor[3].weight, official["regressor.lin0.weight"])
    assert torch.equal(module.net.encoder[0].weight, official["encoder.features.0.weight"])
    assert module.weights_provenance["E, C, R"].count("sha256:") == 2
    with pytest.raises(ConfigError, match="tensors the files and the alexnet network do not share"):
        AVCE().build(VA, resolve("paper", official_weights=str(tmp_path)), {"video": (3, 224, 224)})  # BatchNorm
    (tmp_path / "regressor.t7").write_bytes(b"not a checkpoint")
    with pytest.raises(ConfigError, match="regressor.t7: not a state dict"):
        AVCE().build(VA, resolve("code", official_weights=str(tmp_path)), {"video": (3, 224, 224)})
