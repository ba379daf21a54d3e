"""bench's MPUC against figures of the official code (ricfrr/mpuc-mer), tests/golden_official/mpuc/.

The fixture holds the official Encoder's outputs (TCN, ST-GCN, text transformer, projection
heads) for weights drawn per tensor name (tests/golden_weights.py) and the official pairwise
SupCon loss on drawn projections; the commit and the rules are in the file. Here the same
weights are drawn in the official layout, renamed by bench_methods.mpuc.official and loaded into
the module of bench's ``code_mosei`` preset.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

import golden_weights
from bench import config as config_mod
from bench.api import TaskSpec
from bench_methods.mpuc import MPUC
from bench_methods.mpuc.loss import pairwise_loss
from bench_methods.mpuc.official import encoder_state_dict

FIXTURE = json.loads((Path(__file__).parent / "golden_official" / "mpuc" / "encoder_and_loss.json").read_text())
MODALITIES = ("audio", "landmarks", "text")
# code_mosei weighs the BCE with the code's constants, one per MOSEI emotion: the task names all six
MOSEI = TaskSpec("multilabel", ("happy", "sad", "anger", "surprise", "disgust", "fear"))
TOL = 1e-5

pytestmark = pytest.mark.usefixtures("one_thread")


def module_of(preset: str) -> torch.nn.Module:
    # the official encoder's TCN reads 128 channels (models/Encoder.py L102), the paper's 80 filter banks not
    cfg = config_mod.resolve(MPUC.Config, MPUC.presets, preset, {"crop_frames": 30, "crops": 2, "mel_bins": 128},
                             "mpuc")
    window = cfg.window_frames
    shapes = {"audio": (window, 128), "landmarks": (window, 51, 2), "text": (window, 300)}
    module = MPUC().build(MOSEI, cfg, shapes)
    official = golden_weights.state_dict(FIXTURE["layout"], FIXTURE["weights_seed"])
    missing, unexpected = module.load_state_dict(encoder_state_dict(official), strict=False)
    derived = {"backbones.landmarks.0.adjacency", "backbones.text.positions"}  # functions of the shapes
    assert not unexpected and {k for k in missing if not k.startswith("classifier.")} == derived
    return module.eval()


def inputs() -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(FIXTURE["input_seed"])
    audio = torch.randn(2, 30, 128, generator=g)
    landmarks = torch.rand(2, 30, 51, 2, generator=g)
    return {"audio": audio, "landmarks": landmarks, "text": torch.randn(2, 30, 300, generator=g)}


def outputs(module: torch.nn.Module) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    with torch.no_grad():
        basic = {m: module.backbones[m](x) for m, x in inputs().items()}
        return {m: (basic[m], module.projections[m](basic[m])) for m in MODALITIES}


def deviation(got: torch.Tensor, expected: list[float]) -> float:
    return float((got.reshape(-1).double() - torch.tensor(expected, dtype=torch.float64)).abs().max())


def test_fixture_names_the_official_commit_and_rules() -> None:
    assert FIXTURE["official"]["repository"] == "ricfrr/mpuc-mer"
    assert len(FIXTURE["official"]["commit"]) == 40 and FIXTURE["weights_rule"] == golden_weights.RULE


def test_code_preset_backbones_and_heads_match_the_official_encoder() -> None:
    got = outputs(module_of("code_mosei"))
    for m in MODALITIES:
        assert deviation(got[m][0], FIXTURE["basic"][m]) < TOL, m  # TCN / ST-GCN / text transformer
        assert deviation(got[m][1], FIXTURE["projections"][m]) < TOL, m


def test_paper_preset_text_positions_differ_from_the_code() -> None:
    got = outputs(module_of("paper"))
    assert deviation(got["audio"][0], FIXTURE["basic"]["audio"]) < TOL  # no switch in the TCN
    assert deviation(got["text"][0], FIXTURE["basic"]["text"]) > 1e-3  # positions along the sequence


def projections() -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(FIXTURE["input_seed"] + 1)
    drawn = {m: torch.randn(6, 2, 16, generator=g) for m in MODALITIES}
    return {m: F.normalize(p, dim=-1).transpose(0, 1) for m, p in drawn.items()}  # [crop, sample, dim]


def test_code_losses_match_the_official_supcon_and_the_paper_differs() -> None:
    labels = torch.tensor(FIXTURE["loss_labels"])
    code = pairwise_loss(projections(), positives="code", reduction="mean_half", temperature=0.07)
    supervised = pairwise_loss(projections(), positives="supervised", reduction="mean_half", temperature=0.07,
                               labels=labels)
    assert abs(float(code) - FIXTURE["loss_unsupervised"]) < TOL
    assert abs(float(supervised) - FIXTURE["loss_supervised"]) < TOL
    paper = pairwise_loss(projections(), positives="paper", reduction="sum", temperature=0.07)
    assert abs(float(paper) - FIXTURE["loss_unsupervised"]) > 0.1


def test_an_official_encoder_checkpoint_loads_through_the_config(tmp_path: Path) -> None:
    from bench.errors import ConfigError

    official = golden_weights.state_dict(FIXTURE["layout"], FIXTURE["weights_seed"])
    torch.save({"epoch": 3, "model_state_dict": official, "loss": 0.5}, tmp_path / "encoder_epoch_top.pth")
    cfg = config_mod.resolve(MPUC.Config, MPUC.presets, "code_mosei",
                             {"official_encoder": str(tmp_path / "encoder_epoch_top.pth")}, "mpuc")
    shapes = {"audio": (cfg.window_frames, 128), "landmarks": (cfg.window_frames, 51, 2)}
    module = MPUC().build(MOSEI, cfg, shapes)  # text in the file, not in the run
    assert torch.equal(module.projections["audio"][0].weight, official["proj_audio.0.weight"])
    assert module.weights_provenance["landmarks"].startswith("official encoder sha256:")
    del official["stgcn.fully.weight"]
    torch.save({"model_state_dict": official}, tmp_path / "partial.pth")
    with pytest.raises(ConfigError, match="lacks tensors of this run's modalities: backbones.landmarks.0.per_node"):
        MPUC().build(MOSEI,
                     config_mod.resolve(MPUC.Config, MPUC.presets, "code_mosei",
                                        {"official_encoder": str(tmp_path / "partial.pth")}, "mpuc"), shapes)
