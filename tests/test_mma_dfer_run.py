"""MMA-DFER through the harness: its inputs, training recipe, test-clip averaging, augmentation,
configuration errors, and the tiny model learning a small synthetic dataset in DFEW's layout."""

from __future__ import annotations

import dataclasses
import math
import types
from pathlib import Path

import pytest
import torch
from bench_methods.mma_dfer import MMADFER
from bench_methods.mma_dfer.augment import augment_clips, crop_box
from bench_methods.mma_dfer.config import TINY, MMADFERConfig
from bench_methods.mma_dfer.module import MMADFERModule, expected_shapes, to_model_size

from bench import config
from bench.api import TaskSpec
from bench.data.catalog import get_transform
from bench.data.synthetic import SyntheticClassification
from bench.data.synthetic_dfew import generate_dfew_layout
from bench.data.synthetic_generator import SyntheticSpec, generate
from bench.errors import ConfigError
from bench.running import run

TASK = TaskSpec("classification", ("a", "b", "c", "d"))


pytestmark = pytest.mark.usefixtures("one_thread")


def resolve(preset: str = "paper", **overrides: object) -> MMADFERConfig:
    return config.resolve(MMADFERConfig, MMADFER.presets, preset, overrides, "mma_dfer")


@pytest.fixture(scope="module")
def data_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small synthetic dataset written in DFEW's layout, read by the DFEW adapter."""
    base = tmp_path_factory.mktemp("synthetic")
    source = generate(base / "data", SyntheticSpec(variant="classification"))
    return generate_dfew_layout(base / "dfew", SyntheticClassification(source))


def run_tiny(data_root: Path, out: Path, tmp_path_factory: pytest.TempPathFactory, folds: tuple[str, ...] = ("1", "2"),
             **kw: object) -> list[dict]:
    request = run.RunRequest(method="mma_dfer", protocol="synthetic_dfew_5fold", folds=folds, preset="tiny",
                             data_root=data_root, out=out, progress=False,
                             cache_root=tmp_path_factory.getbasetemp() / "mma-cache", **kw)
    return [cell.record for cell in run.execute(run.make_plan(request))]


@pytest.mark.slow
def test_tiny_model_learns_the_synthetic_data(data_root: Path, tmp_path: Path,
                                              tmp_path_factory: pytest.TempPathFactory) -> None:
    records = run_tiny(data_root, tmp_path, tmp_path_factory, modalities=["video", "audio"])
    accuracy = sum(r["metrics"]["war"] for r in records) / len(records)
    assert accuracy >= 0.5, [r["metrics"] for r in records]  # chance is 0.25 (4 balanced classes)
    rec = records[0]
    assert rec["weights"] == {"mae_face": "random-init", "audiomae": "random-init"}
    assert {m: v["name"] for m, v in rec["data"]["preprocessing"].items()} == {
        "video": "video_frames", "audio": "audio_fbank_audiomae"}
    assert rec["selection"]["rule"] == "last_epoch" and rec["selection"]["epoch"] == TINY["epochs"] - 1
    losses = [h["train_loss"] for h in rec["history"]]
    assert losses[-1] < losses[0]


@pytest.mark.slow  # its data_root fixture writes a DFEW-layout tree: about 10 s
def test_the_old_preset_name_plans_and_records_as_code(data_root: Path, tmp_path: Path) -> None:
    request = run.RunRequest(method="mma_dfer", protocol="synthetic_dfew_5fold", folds=("1",), preset="official",
                             data_root=data_root, out=tmp_path, progress=False)
    plan = run.make_plan(request)
    assert plan.request.preset == "code" and plan.cfg == resolve("code")


def test_crops_come_from_the_source_frames_under_the_code_preset() -> None:
    """``crop_from=source`` stores frames at ``source_size`` and crops those (the code's
    ``GroupRandomSizedCrop`` on the source frame), then resizes to ``img_size``; the same draws
    on the cached S x S frames give another clip."""
    code, paper = resolve("code", img_size=112), resolve(img_size=112)
    assert MMADFER().inputs(code, ["video"])["video"].params["size"] == 224
    assert MMADFER().inputs(paper, ["video"])["video"].params["size"] == 112
    assert expected_shapes(code)["video"] == (16, 3, 224, 224) and expected_shapes(paper)["video"] == (16, 3, 112, 112)
    video = torch.rand((2, 3, 3, 32, 32), generator=torch.Generator().manual_seed(0))
    from_source = augment_clips(video, torch.Generator().manual_seed(1), size=16)
    from_cache = augment_clips(to_model_size(video, 16), torch.Generator().manual_seed(1))
    assert from_source.shape == from_cache.shape == (2, 3, 3, 16, 16)
    assert (from_source - from_cache).abs().max() > 0.05
    assert torch.equal(to_model_size(from_cache, 16), from_cache)


@pytest.mark.slow  # its data_root fixture writes a DFEW-layout tree: about 10 s
def test_drop_last_drops_the_last_smaller_batch(data_root: Path, tmp_path: Path,
                                                tmp_path_factory: pytest.TempPathFactory) -> None:
    """The code's training loader (``main.py:173-178``): fold 1 trains on 192 clips, 19 full batches of 10."""
    steps = {drop: run_tiny(data_root, tmp_path / str(drop), tmp_path_factory, folds=("1",),
                            overrides={"epochs": 1, "batch_size": 10, "drop_last": drop})[0]["history"][0]["steps"]
             for drop in (False, True)}
    assert steps == {False: 20, True: 19}


@pytest.mark.slow  # its data_root fixture writes a DFEW-layout tree: about 10 s
def test_one_modality_builds_the_unimodal_probe(data_root: Path, tmp_path: Path,
                                                tmp_path_factory: pytest.TempPathFactory) -> None:
    rec = run_tiny(data_root, tmp_path, tmp_path_factory, modalities=["audio"], folds=("1",),
                   overrides={"epochs": 2})[0]
    assert rec["modalities"] == ["audio"] and rec["weights"] == {"audiomae": "random-init"}


def test_inputs_name_the_official_preprocessing() -> None:
    cfg = resolve("code", test_clips=2, img_size=224)
    specs = MMADFER().inputs(cfg, ["video", "audio"])
    assert specs["video"].name == "video_frames" and dict(specs["video"].params) == {
        "num_frames": 16, "size": 224, "ordering": "lexicographic", "test_clips": 2, "count": "mmadfer_lists"}
    assert specs["audio"].name == "audio_fbank_audiomae" and dict(specs["audio"].params) == {
        "sample_rate": None, "channel": "first", "num_mel_bins": 128, "target_length": 512, "missing_audio": "zeros"}
    paper = MMADFER().inputs(resolve(), ["video", "audio"])
    assert (paper["video"].params["count"], paper["audio"].params["missing_audio"]) == ("files", "error")
    for spec in specs.values():
        get_transform(spec)  # every parameter exists in the registered transform
    assert set(MMADFER().inputs(cfg, ["audio"])) == {"audio"}


def test_presets_and_configuration_errors() -> None:
    paper, official = resolve(), resolve("code")
    assert resolve("official") == official  # the old name of the code preset, an alias
    assert (paper.lr, paper.weight_decay, paper.batch_size, paper.epochs) == (1e-4, 1e-2, 8, 25)
    assert (paper.gates, paper.fusion_tokens, paper.lr_schedule) == ("one", "patches", "cosine_to_zero")
    assert (official.gates, official.fusion_tokens, official.lr_schedule, official.frame_ordering) == (
        "per_layer_and_modality", "all", "cosine_per_epoch", "lexicographic")
    assert (official.frame_count, official.missing_audio, official.drop_last, official.img_size) == (
        "lists", "zeros", True, 224)
    assert (paper.frame_count, paper.missing_audio, paper.drop_last, paper.img_size) == ("files", "error", False, 160)
    with pytest.raises(ConfigError, match="prompt_updates=4 must divide num_prompts=6"):
        resolve(prompt_updates=4)
    assert resolve(prompt_updates=4, num_prompts=12).prompt_updates == 4  # Table 7, the code's 3 per update
    with pytest.raises(ConfigError, match="needs fusion='bottleneck', got 'add'"):
        resolve(temporal="ita", fusion="add")
    with pytest.raises(ConfigError, match="img_size=100 is not a multiple of patch_size=16"):
        resolve(img_size=100)
    with pytest.raises(ConfigError, match="fusion: 'concat' is not one of 'bottleneck', 'add'"):
        resolve(fusion="concat")
    cfg = resolve("tiny")
    with pytest.raises(ConfigError, match=r"video items are \(8, 3, 32, 32\), the configuration expects \(4, 3, 32"):
        MMADFERModule(TASK, cfg, {"video": (8, 3, 32, 32), "audio": (96, 32)})
    with pytest.raises(ConfigError, match="which a model on audio alone does not have"):
        MMADFERModule(TASK, dataclasses.replace(cfg, unimodal="adapted", temporal="mtt+ita"), {"audio": (96, 32)})


def test_two_clip_average_is_the_mean_of_the_clip_softmaxes() -> None:
    cfg = dataclasses.replace(resolve("tiny"), test_clips=2)
    module = MMADFERModule(TASK, cfg, expected_shapes(cfg)).eval()
    video = torch.rand(3, 2, cfg.num_frames, 3, 32, 32)
    audio = torch.randn(3, cfg.audio_frames, cfg.audio_mel_bins)
    with torch.no_grad():
        out = module.predict_step({"video": video, "audio": audio}, 0)
        first, second = (module(video[:, k], audio).softmax(dim=-1) for k in (0, 1))
    assert out.shape == (3, 4) and torch.allclose(out.exp(), (first + second) / 2, atol=1e-6)


def scheduled_lrs(cfg: MMADFERConfig, steps_per_epoch: int) -> list[float]:
    module = MMADFERModule(TASK, cfg, expected_shapes(cfg))
    module.trainer = types.SimpleNamespace(estimated_stepping_batches=cfg.epochs * steps_per_epoch)
    setup = module.configure_optimizers()
    optimizer, scheduler = setup["optimizer"], setup["lr_scheduler"]
    assert {id(p) for group in optimizer.param_groups for p in group["params"]} == {
        id(p) for _, p in module.trainable()}
    assert optimizer.defaults["weight_decay"] == cfg.weight_decay
    lrs = []
    for _ in range(cfg.epochs * (steps_per_epoch if scheduler["interval"] == "step" else 1)):
        lrs.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler["scheduler"].step()
    return lrs + [optimizer.param_groups[0]["lr"]]


def test_learning_rate_schedules() -> None:
    official = dataclasses.replace(resolve("tiny"), lr=1e-4, epochs=25, lr_schedule="cosine_per_epoch")
    per_epoch = scheduled_lrs(official, steps_per_epoch=3)
    assert len(per_epoch) == 26
    for epoch in (0, 1, 12, 24):  # main.py:158, stepped per epoch: 5e-5 (1 + cos(pi e / 25)); the last epoch at 3.9e-7
        assert math.isclose(per_epoch[epoch], 5e-5 * (1 + math.cos(math.pi * epoch / 25)), rel_tol=1e-9)
    assert math.isclose(per_epoch[24], 3.9e-7, rel_tol=0.02)
    paper = dataclasses.replace(official, epochs=2, lr_schedule="cosine_to_zero")
    per_step = scheduled_lrs(paper, steps_per_epoch=4)
    assert per_step[0] == 1e-4 and math.isclose(per_step[4], 5e-5) and per_step[-1] == pytest.approx(0.0, abs=1e-20)


def test_augmentation_is_per_clip_and_keeps_range() -> None:
    boxes = [crop_box(32, 32, torch.Generator().manual_seed(s)) for s in range(300)]
    for top, left, h, w in boxes:
        assert 0 <= top <= 32 - h and 0 <= left <= 32 - w
        assert h * w >= 0.08 * 32 * 32 * 0.8 and 3 / 4 * 0.8 <= w / h <= 4 / 3 * 1.25
    assert len(set(boxes)) > 200
    flat = torch.full((2, 4, 3, 32, 32), 0.5)
    out = augment_clips(flat, torch.Generator().manual_seed(0))
    assert out.shape == flat.shape
    for clip in out:  # a flat frame stays flat: only the clip's brightness factor in [0.5, 1.5] shows
        value = float(clip[0, 0, 0, 0])
        assert torch.allclose(clip, torch.full_like(clip, value), atol=1e-6) and 0.25 <= value <= 0.75
    ramp = torch.linspace(0, 1, 32).expand(1, 4, 3, 32, 32).contiguous()
    again = augment_clips(ramp, torch.Generator().manual_seed(3))
    assert torch.equal(again, augment_clips(ramp, torch.Generator().manual_seed(3)))
    assert again.min() >= 0 and again.max() <= 1
    assert all(torch.equal(again[0, t], again[0, 0]) for t in range(4))  # one draw for all frames of a clip
