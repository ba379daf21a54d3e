"""MMA-DFER's weights files: a tiny cell on the DFEW-layout synthetic data predicted again by sample id
and from its mp4 (faces found by MTCNN, audio from the track), and checkpoints in the official
released layout (random weights under the official tensor names) evaluated or refused."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import golden_weights
import numpy as np
import pytest
import torch
from bench_methods.mma_dfer.config import TINY, MMADFERConfig
from cli_cells import run_one_cell
from test_mma_dfer_official import official_shapes

from bench import cli
from bench.data.synthetic import SyntheticClassification
from bench.data.synthetic_dfew import generate_dfew_layout
from bench.data.synthetic_generator import SyntheticSpec, generate
from bench.records import store

pytestmark = pytest.mark.usefixtures("one_thread")

CODE_GATES = "gates=per_layer_and_modality"  # the official code's 2 x depth gates: its released layout


@pytest.fixture(scope="module")
def data_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("synthetic")
    source = generate(base / "data", SyntheticSpec(variant="classification", num_subjects=5, clips_per_subject=4))
    return generate_dfew_layout(base / "dfew", SyntheticClassification(source))


def run_argv(data_root: Path, out: Path, *extra: str) -> list[str]:
    return ["run", "--method", "mma_dfer", "--protocol", "synthetic_dfew_5fold", "--fold", "1", "--seed", "0",
            "--preset", "tiny", "--set", "epochs=1", "--data-root", str(data_root), "--out", str(out),
            "--cache-dir", str(out.parent / "cache"), "--no-progress", "--allow-incomplete", *extra]


@pytest.fixture(scope="module")
def trained(data_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return run_one_cell(run_argv(data_root, tmp_path_factory.mktemp("store") / "results"))


def predicted(argv: list[str], capsys: pytest.CaptureFixture[str]) -> list[dict]:
    capsys.readouterr()
    assert cli.main([*argv, "--format", "json", "--no-progress"]) == 0
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def test_predict_by_sample_id_gives_the_stored_rows(trained: Path, data_root: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    stored = np.load(store.predictions_path(trained))
    ids = [str(i) for i in stored["ids"]]
    lines = predicted(["predict", "--from", str(trained), "--data-root", str(data_root), "--samples", *ids], capsys)
    assert [line["file"] for line in lines] == ids
    for line, expected in zip(lines, stored["outputs"]):
        assert np.abs(np.asarray(line["outputs"]) - expected).max() <= 1e-5


def test_the_same_model_predicts_a_raw_mp4_through_mtcnn_face_crops(trained: Path, data_root: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    stored = np.load(store.predictions_path(trained))
    first = str(stored["ids"][0])
    video = data_root / "Clip" / "original" / f"{first}.mp4"
    (line,) = predicted(["predict", "--from", str(trained), str(video)], capsys)
    (plain,) = predicted(["predict", "--from", str(trained), "--faces", "none", str(video)], capsys)
    assert line["prediction"] in store.read(trained)["label_names"] and len(line["outputs"]) == 4
    assert np.isclose(sum(line["probabilities"]), 1.0)
    assert line["outputs"] != plain["outputs"]  # the MTCNN crops, not the whole frames, were read
    # how far the crops' outputs are from the prepared face-frame folder's: the closing note reports it
    print(f"mp4 via MTCNN vs prepared frames, max |d logit|: "
          f"{np.abs(np.asarray(line['outputs']) - stored['outputs'][0]).max():.4g}")


def released_checkpoint(path: Path, cfg: MMADFERConfig) -> Path:
    """A checkpoint as the official ``main.py`` saves it: ``module.``-prefixed official names, random values."""
    state = golden_weights.state_dict(official_shapes(cfg, 4), seed=3)
    torch.save({"epoch": 1, "state_dict": {f"module.{k}": v for k, v in state.items()}, "best_acc": 0.0}, path)
    return path


def test_a_released_layout_checkpoint_evaluates_and_a_wrong_one_is_refused(
        data_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = dataclasses.replace(MMADFERConfig(**TINY), gates="per_layer_and_modality", epochs=1)
    checkpoint = released_checkpoint(tmp_path / "released.pth", cfg)
    out = tmp_path / "results"
    assert cli.main(run_argv(data_root, out, "--set", CODE_GATES, "--regime", "evaluate",
                             "--weights", str(checkpoint))) == 0
    ((path, record),) = store.iter_records(out)
    assert record["evaluated"]["kind"] == "released" and record["evaluated"]["from_record"] is None
    assert record["weights"] == {"released": record["evaluated"]["sha256"]}
    ids = [str(i) for i in np.load(store.predictions_path(path))["ids"]]
    lines = predicted(["predict", "--method", "mma_dfer", "--preset", "tiny", "--set", "epochs=1", "--set",
                       CODE_GATES, "--weights", str(checkpoint), "--dataset", "synthetic_dfew",
                       "--data-root", str(data_root), "--samples", *ids], capsys)
    rows = np.asarray([line["outputs"] for line in lines])
    assert np.abs(rows - np.load(store.predictions_path(path))["outputs"]).max() <= 1e-5
    capsys.readouterr()
    assert cli.main(run_argv(data_root, tmp_path / "other", "--regime", "evaluate", "--weights", str(checkpoint))) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "tensor module.image_encoder.all_gate.0 [1] has no place in this model" in err


def test_frozen_encoders_read_from_files_are_referenced_not_kept(tmp_path: Path) -> None:
    """With MAE-Face and AudioMAE files, the kept file holds every tensor but their backbones; a model
    built again from the same configuration (the files read again) takes it back whole."""
    from bench_methods.mma_dfer import MMADFER
    from bench_methods.mma_dfer.module import MMADFERModule, expected_shapes
    from test_mma_dfer_official import TASK, mae_layout

    from bench.running import kept_weights

    torch.save({"model": mae_layout((64, 64), 3, seed=1)}, tmp_path / "mae_face.pth")
    torch.save({"model": mae_layout((192, 32), 1, seed=2)}, tmp_path / "audiomae.pth")
    cfg = dataclasses.replace(MMADFERConfig(**TINY), vision_weights=str(tmp_path / "mae_face.pth"),
                              audio_weights=str(tmp_path / "audiomae.pth"))
    torch.manual_seed(0)
    trained = MMADFERModule(TASK, cfg, expected_shapes(cfg))
    with torch.no_grad():
        for name, parameter in trained.trainable():
            parameter.add_(0.01 * torch.randn_like(parameter))  # as if trained: differs from any fresh build
    state = trained.state_dict()
    left_out = {k for k in state if k.startswith(("net.image_encoder.blocks.", "net.audio_model.blocks."))}
    assert left_out and left_out <= trained.pretrained_tensors
    assert "net.image_encoder.pos_embed" not in trained.pretrained_tensors  # its prompt rows are the model's
    meta = {**kept_weights.identity("mma_dfer", "tiny", cfg, ("video", "audio"), TASK),
            "pretrained": dict(trained.weights_provenance)}
    entry = kept_weights.save(trained, tmp_path / "kept.safetensors", meta)
    assert entry["tensors"] == len(state) - len(trained.pretrained_tensors)
    torch.manual_seed(1)
    fresh = MMADFERModule(TASK, cfg, expected_shapes(cfg))
    weights = kept_weights.resolve(tmp_path / "kept.safetensors", MMADFER(), kept_weights.identity(
        "mma_dfer", "tiny", cfg, ("video", "audio"), TASK))
    kept_weights.load_into(fresh, MMADFER(), weights)
    assert all(torch.equal(fresh.state_dict()[k], v) for k, v in state.items())
