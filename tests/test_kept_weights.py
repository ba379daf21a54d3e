"""Kept weights, ``--regime evaluate --weights`` and ``bench predict`` on an audio-only tiny cell.

One late-fusion cell (audio only, 2 epochs) on a small synthetic dataset is trained once per
module; its safetensors file is checked byte for byte, evaluated again without training (the same
predictions), and its test wavs predicted one by one (the rows its predictions.npz stored).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from cli_cells import run_one_cell
from safetensors import safe_open

from bench import cli
from bench.data.synthetic import SyntheticClassification
from bench.records import store
from bench.reporting import tables

pytestmark = pytest.mark.usefixtures("one_thread")


def run_argv(data_root: Path, out: Path, *extra: str) -> list[str]:
    return ["run", "--method", "late_fusion", "--protocol", "synthetic_5fold", "--fold", "1", "--seed", "0",
            "--preset", "tiny", "--set", "epochs=2", "--modalities", "audio", "--data-root", str(data_root),
            "--out", str(out), "--cache-dir", str(out.parent / "cache"), "--no-progress", *extra]


@pytest.fixture(scope="module")
def trained(data_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The record of the trained cell."""
    return run_one_cell(run_argv(data_root, tmp_path_factory.mktemp("store") / "results"))


def test_a_finished_cell_keeps_its_selected_weights(trained: Path) -> None:
    record = store.read(trained)
    kept = record["trained_weights"]
    file = trained.with_name(kept["file"])
    assert kept["file"] == "fold1-seed0.safetensors" and file.is_file()
    assert kept["sha256"] == hashlib.sha256(file.read_bytes()).hexdigest()
    assert kept["bytes"] == file.stat().st_size
    with safe_open(str(file), "pt") as handle:
        names = list(handle.keys())
        meta = json.loads(handle.metadata()["bench"])
        assert all(torch.isfinite(handle.get_tensor(n)).all() for n in names)
    assert kept["tensors"] == len(names) > 0
    assert meta["method"] == "late_fusion" and meta["preset"] == "tiny" and meta["config"] == record["config"]
    assert meta["modalities"] == ["audio"] and meta["label_names"] == record["label_names"]
    assert meta["pretrained"] == record["weights"] == {"all": "random-init"}


def test_evaluate_on_the_same_fold_gives_identical_metrics_and_predictions(trained: Path, data_root: Path) -> None:
    out = trained.parents[4]
    weights = trained.with_suffix(".safetensors")
    assert cli.main(run_argv(data_root, out, "--regime", "evaluate", "--weights", str(weights))) == 0
    found = {path: rec for path, rec in store.iter_records(out) if rec.get("evaluated")}
    ((path, evaluated),) = found.items()
    original = store.read(trained)
    assert path.parent != trained.parent  # its own cell: the weights file's sha256 is part of its hash
    assert evaluated["metrics"] == original["metrics"] and evaluated["confusion"] == original["confusion"]
    before, after = np.load(store.predictions_path(trained)), np.load(store.predictions_path(path))
    assert np.array_equal(before["outputs"], after["outputs"]) and np.array_equal(before["ids"], after["ids"])
    assert evaluated["evaluated"] == {"weights": str(weights), "kind": "bench", "from_record": str(trained),
                                      "sha256": original["trained_weights"]["sha256"]}
    assert evaluated["regime"]["kind"] == "evaluate" and evaluated["history"] == []
    assert evaluated["timings"]["fit_s"] == 0.0 and "trained_weights" not in evaluated
    assert f"--regime evaluate --weights {weights}" in evaluated["command"]
    query = tables.Query("late_fusion", "synthetic_5fold", "tiny", {"epochs": 2}, ("audio",))
    config = tables.resolved_config(query)
    records = [original, evaluated]
    assert tables.matching(records, query, config) == [original]  # never averaged together
    assert tables.matching(records, query, config, evaluated=True) == [evaluated]


def test_predict_from_the_record_gives_its_stored_rows_for_the_test_wavs(
        trained: Path, data_root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    stored = np.load(store.predictions_path(trained))
    by_id = {s.id: s for s in SyntheticClassification(data_root).samples()}
    wavs = [str(by_id[i].sources["audio"]) for i in stored["ids"]]
    capsys.readouterr()
    assert cli.main(["predict", "--from", str(trained), *wavs, "--format", "json", "--no-progress"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["file"] for line in lines] == wavs
    names = store.read(trained)["label_names"]
    for line, expected in zip(lines, stored["outputs"]):
        assert np.abs(np.asarray(line["outputs"]) - expected).max() <= 1e-5
        assert line["prediction"] == names[int(np.argmax(expected))]
        softmax = np.exp(expected - expected.max()) / np.exp(expected - expected.max()).sum()
        assert np.allclose(line["probabilities"], softmax, atol=1e-6)


def test_inputs_that_fail_get_one_line_each_and_the_rest_is_predicted(
        trained: Path, data_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = str(SyntheticClassification(data_root).samples()[0].sources["audio"])
    frames = tmp_path / "faces"
    frames.mkdir()
    broken = tmp_path / "broken.wav"
    broken.write_bytes(b"RIFF not really a wave file")
    capsys.readouterr()
    code = cli.main(["predict", "--from", str(trained), str(frames), good, str(broken), "--format", "csv"])
    captured = capsys.readouterr()
    assert code == 1
    errors = [line for line in captured.err.splitlines() if line.startswith("error: ")]
    assert errors[0] == (f"error: {frames}: a face-frame folder has no audio, which the model reads (audio)")
    assert errors[1].startswith(f"error: {broken}: cannot decode audio") and len(errors) == 2
    rows = captured.out.splitlines()
    assert rows[0].startswith("file,prediction,output_") and rows[1].startswith(f"{good},") and len(rows) == 2


def test_a_weights_file_of_another_configuration_is_refused_in_one_line(
        trained: Path, data_root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    weights = trained.with_suffix(".safetensors")
    capsys.readouterr()
    argv = run_argv(data_root, trained.parents[4], "--regime", "evaluate", "--weights", str(weights))
    argv[argv.index("epochs=2")] = "epochs=3"
    assert cli.main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "differs in config.epochs (file 2, here 3)" in err and str(weights) in err
    assert cli.main(["predict", "--method", "late_fusion", "--weights", str(weights), str(weights)]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "preset (file 'tiny', here 'paper')" in err
    assert cli.main(run_argv(data_root, trained.parents[4], "--weights", str(weights))) == 2
    assert "--weights FILE goes with --regime evaluate" in capsys.readouterr().err


def test_no_keep_weights_is_recorded_and_writes_no_file(data_root: Path, tmp_path: Path) -> None:
    out = tmp_path / "results"
    argv = run_argv(data_root, out, "--no-keep-weights")
    argv[argv.index("epochs=2")] = "epochs=1"
    assert cli.main(argv) == 0
    ((path, record),) = store.iter_records(out)
    assert record["trained_weights"] == {"kept": False, "why": "--no-keep-weights"}
    assert not list(path.parent.glob("*.safetensors"))
