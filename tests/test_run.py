"""The runner end to end on a small generated synthetic dataset (real mp4/wav/csv files)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from bench import protocols
from bench.data.synthetic_generator import SyntheticSpec, generate
from bench.errors import ConfigError, DataError, ProtocolError, RunError
from bench.records import store
from bench.running import run, training

FAST = {"epochs": 3}


@pytest.fixture(scope="module")
def data_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("synthetic") / "data"
    generate(root, SyntheticSpec(variant="classification", num_subjects=5, clips_per_subject=8))
    return root


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cache")


def request(data_root: Path, cache_dir: Path, out: Path, **kw) -> run.RunRequest:
    base = dict(method="late_fusion", protocol="synthetic_5fold", folds=["1", "2"], preset="tiny",
                overrides=FAST, data_root=data_root, out=out, progress=False, cache_root=cache_dir)
    base.update(kw)
    return run.RunRequest(**base)


def no_temp_files(folder: Path) -> bool:
    return not [p for p in folder.rglob("*") if p.name.endswith(".tmp")]


def test_record_has_every_field(data_root: Path, cache_dir: Path, tmp_path: Path) -> None:
    results = run.execute(run.make_plan(request(data_root, cache_dir, tmp_path)))
    assert [r.record["fold"] for r in results] == ["fold1", "fold2"]
    rec = results[0].record
    for key in ("schema_version", "method", "protocol", "fold", "seed", "preset", "config", "config_hash", "data",
                "weights", "selection", "metrics", "per_class", "confusion", "predictions", "timings",
                "environment", "code", "command", "started", "finished"):
        assert key in rec, key
    assert set(rec["metrics"]) == {"uar", "war", "weighted_f1", "macro_f1"}
    assert all(0.0 <= v <= 1.0 for v in rec["metrics"].values())
    assert rec["config"]["epochs"] == 3 and rec["preset"] == "tiny"
    assert rec["data"]["split"]["sizes"] == {"train": 32, "val": 0, "test": 8}
    assert set(rec["data"]["preprocessing"]) == {"video", "audio", "text", "landmarks"}
    assert rec["selection"] == {"rule": "last_epoch", "metric": "uar", "epoch": 2, "on_test": False,
                                "patience": None, "epochs_trained": {"supervised": 3}}
    assert np.asarray(rec["confusion"]).sum() == 8
    assert rec["command"].startswith("bench run --method late_fusion --protocol synthetic_5fold --fold fold1 --seed 0")
    assert "--set epochs=3" in rec["command"]
    preds = np.load(store.predictions_path(results[0].path))
    assert preds["outputs"].shape == (8, 4) and list(preds["ids"]) == list(run.make_plan(
        request(data_root, cache_dir, tmp_path)).folds[0].test)
    assert no_temp_files(tmp_path)


def test_same_command_twice_gives_identical_metrics(data_root: Path, cache_dir: Path, tmp_path: Path) -> None:
    first = run.execute(run.make_plan(request(data_root, cache_dir, tmp_path / "a", folds=["3"])))
    second = run.execute(run.make_plan(request(data_root, cache_dir, tmp_path / "b", folds=["3"])))
    assert first[0].record["metrics"] == second[0].record["metrics"]
    a = np.load(store.predictions_path(first[0].path))["outputs"]
    b = np.load(store.predictions_path(second[0].path))["outputs"]
    assert np.array_equal(a, b)


def test_finished_cell_is_skipped(data_root: Path, cache_dir: Path, tmp_path: Path) -> None:
    plan = run.make_plan(request(data_root, cache_dir, tmp_path, folds=["1"]))
    first = run.execute(plan)[0]
    stamp = first.path.stat().st_mtime_ns
    again = run.execute(run.make_plan(request(data_root, cache_dir, tmp_path, folds=["1"])))[0]
    assert again.skipped and again.record == first.record and first.path.stat().st_mtime_ns == stamp
    other = run.execute(run.make_plan(request(data_root, cache_dir, tmp_path, folds=["1"], overrides={"epochs": 2})))[0]
    assert not other.skipped and other.path.parent != first.path.parent


def test_crash_mid_training_leaves_no_record(data_root: Path, cache_dir: Path, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    from bench_methods.late_fusion import model

    calls = {"n": 0}
    original = model.LateFusionModule.training_step

    def crashing(self, batch, batch_idx):
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("simulated crash in the middle of training")
        return original(self, batch, batch_idx)

    monkeypatch.setattr(model.LateFusionModule, "training_step", crashing)
    plan = run.make_plan(request(data_root, cache_dir, tmp_path, folds=["1"]))
    with pytest.raises(RuntimeError, match="simulated crash"):
        run.execute(plan)
    assert not list(tmp_path.rglob("*.json")) and not list(tmp_path.rglob("*.npz")) and no_temp_files(tmp_path)
    monkeypatch.undo()
    redone = run.execute(run.make_plan(request(data_root, cache_dir, tmp_path, folds=["1"])))[0]
    assert not redone.skipped and redone.path.is_file()


@pytest.mark.slow
def test_ctrl_c_leaves_no_record(data_root: Path, cache_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "bench.cli", "run", "--method", "late_fusion", "--protocol", "synthetic_5fold",
           "--fold", "1", "--preset", "tiny", "--set", "epochs=100000", "--data-root", str(data_root),
           "--out", str(out), "--cache-dir", str(cache_dir)]
    # SIGINT back to its default in the child: a test session started in the background (nohup,
    # `cmd &` without job control) inherits SIGINT ignored, and Python then never raises
    # KeyboardInterrupt; one intra-op thread keeps the tiny run light on shared cores
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    seen: list[bytes] = []
    reader = threading.Thread(target=lambda: seen.extend(iter(lambda: os.read(proc.stderr.fileno(), 4096), b"")), daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + 120
        while b"training on" not in b"".join(seen) and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.2)
        assert b"training on" in b"".join(seen), b"".join(seen)[-2000:]
        time.sleep(3.0)  # well inside the 100000 epochs
        assert proc.poll() is None
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode != 0
    assert not list(out.rglob("*.json")) and not list(out.rglob("*.npz")) and no_temp_files(out)


def test_best_val_selection_records_the_chosen_epoch(data_root: Path, cache_dir: Path, tmp_path: Path) -> None:
    rec = run.execute(run.make_plan(request(data_root, cache_dir, tmp_path, protocol="synthetic_holdout",
                                            folds=None, overrides={"epochs": 4})))[0].record
    assert rec["fold"] == "official" and rec["selection"]["rule"] == "best_val"
    assert 0 <= rec["selection"]["epoch"] <= 3 and rec["selection"]["on_test"] is False
    assert rec["data"]["split"]["sizes"]["val"] > 0


def test_test_split_opens_once(data_root: Path, cache_dir: Path, tmp_path: Path) -> None:
    plan = run.make_plan(request(data_root, cache_dir, tmp_path, folds=["1"]))
    prepared = run._prepare(plan)
    module = plan.method.build(plan.task, plan.cfg, prepared.shapes)
    samples = {s.id: s for s in plan.samples}
    door = training.TestSplit(prepared, [0, 1], "fold1", [samples[i] for i in prepared.ids[:2]], plan.task)
    door.predict(module)
    with pytest.raises(RunError, match="already evaluated"):
        door.predict(module)


def test_modalities_subset_changes_the_cell(data_root: Path, cache_dir: Path, tmp_path: Path) -> None:
    rec = run.execute(run.make_plan(request(data_root, cache_dir, tmp_path, folds=["1"],
                                            modalities=["audio"])))[0].record
    assert rec["modalities"] == ["audio"] and set(rec["data"]["preprocessing"]) == {"audio"}
    assert "--modalities audio" in rec["command"]


def test_bad_requests_fail_before_training(data_root: Path, cache_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(DataError, match="does not exist"):
        run.make_plan(request(tmp_path / "nowhere", cache_dir, tmp_path))
    with pytest.raises(ConfigError, match="this protocol has folds fold1, fold2, fold3, fold4, fold5"):
        run.make_plan(request(data_root, cache_dir, tmp_path, folds=["9"]))
    with pytest.raises(ConfigError, match="protocol 'synthetic_5fold' uses only"):
        run.make_plan(request(data_root, cache_dir, tmp_path, modalities=["audio", "smell"]))
    with pytest.raises(ConfigError, match="unknown config key 'epoch'"):
        run.make_plan(request(data_root, cache_dir, tmp_path, overrides={"epoch": 3}))


def test_incomplete_data_root_names_the_layout(data_root: Path, cache_dir: Path, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DataError, match="manifest.csv"):
        run.make_plan(request(empty, cache_dir, tmp_path))


def test_protocol_needing_a_missing_regime(data_root: Path, cache_dir: Path, tmp_path: Path) -> None:
    text = (Path(protocols.load("synthetic_5fold").path).read_text()
            .replace("name: synthetic_5fold", "name: synthetic_linear").replace("{kind: supervised}", "{kind: linear_eval}"))
    path = tmp_path / "synthetic_linear.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match="has no linear_eval, pretrain regime"):
        run.make_plan(request(data_root, cache_dir, tmp_path, protocol=str(path)))


@pytest.mark.slow
def test_cli_prints_the_fold_table_and_exit_codes(data_root: Path, cache_dir: Path, tmp_path: Path) -> None:
    base = [sys.executable, "-m", "bench.cli", "run", "--protocol", "synthetic_5fold", "--preset", "tiny",
            "--data-root", str(data_root), "--out", str(tmp_path), "--cache-dir", str(cache_dir), "--no-progress"]
    done = subprocess.run(base + ["--method", "late_fusion", "--fold", "1", "--fold", "2", "--set", "epochs=2"],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "mean ± std (n=2)" in done.stdout and "uar (%)" in done.stdout
    typo = subprocess.run(base + ["--method", "late_fusoin"], capture_output=True, text=True)
    assert typo.returncode == 2 and "did you mean 'late_fusion'" in typo.stderr and "Traceback" not in typo.stderr
    bad_key = subprocess.run(base + ["--method", "late_fusion", "--set", "lr=fast"], capture_output=True, text=True)
    assert bad_key.returncode == 2 and "lr: expected a number" in bad_key.stderr
    records = [json.loads(p.read_text()) for p in tmp_path.rglob("*.json")]
    assert len(records) == 2


def test_patience_stops_where_the_validation_series_says(data_root: Path, cache_dir: Path, tmp_path: Path) -> None:
    text = (Path(protocols.load("synthetic_holdout").path).read_text()
            .replace("name: synthetic_holdout", "name: synthetic_patience")
            .replace("{rule: best_val}", "{rule: best_val, patience: 2}"))
    path = tmp_path / "synthetic_patience.yaml"
    path.write_text(text)
    rec = run.execute(run.make_plan(request(data_root, cache_dir, tmp_path, protocol=str(path), folds=None,
                                            overrides={"epochs": 40, "lr": 0.01})))[0].record
    series = [h["val_uar"] for h in rec["history"]]
    best, expected_stop = 0, len(series)
    for epoch, value in enumerate(series):  # the rule, recomputed from the recorded validation values
        if value > series[best]:
            best = epoch
        elif epoch - best >= 2:
            expected_stop = epoch + 1
            break
    assert rec["selection"]["epochs_trained"]["supervised"] == expected_stop == len(series)
    assert expected_stop < 40 and rec["selection"]["epoch"] == best


def test_dataset_options_are_checked_by_name(data_root: Path, cache_dir: Path, tmp_path: Path) -> None:
    text = (Path(protocols.load("synthetic_5fold").path).read_text()
            .replace("name: synthetic_5fold", "name: synthetic_opts") + "dataset_options: {label_oder: readme}\n")
    path = tmp_path / "synthetic_opts.yaml"
    path.write_text(text)
    with pytest.raises(ProtocolError, match="dataset 'synthetic' has no option 'label_oder'; its options: none"):
        run.make_plan(request(data_root, cache_dir, tmp_path, protocol=str(path)))
