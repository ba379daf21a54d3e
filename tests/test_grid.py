"""Grids through submitit's debug and local executors on a small generated synthetic dataset.

Covers grid-file and profile errors, expansion into cells and array layout, the chain
grid -> executor -> run records, skip-finished, ``--dry-run``, failure isolation with the failed
cell's log, an unreachable SLURM, and requeue: a local job interrupted mid-training through
submitit's checkpoint() contract, or killed outright and rerun, ends with exactly the metrics
and predictions of an uninterrupted run (and so does a best_val cell with patience, whose
selection state and early stop live in the checkpoint). tests/test_slurm.py does the same on a
real cluster.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
import yaml
from bench_methods.late_fusion import LateFusion

from bench import cli
from bench.api import ResourceHints
from bench.data.synthetic_generator import SyntheticSpec, generate
from bench.launch import cell_list, executors
from bench.launch.grid import expand, load
from bench.records import store
from bench.running import run, training

REPO = Path(__file__).resolve().parents[1]
# long enough that a signal sent right after the first epoch's checkpoint lands mid-training
REQUEUE = {"epochs": 20, "batch_size": 8}


@pytest.fixture(scope="module")
def data_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("synthetic") / "data"
    generate(root, SyntheticSpec(variant="classification", num_subjects=5, clips_per_subject=8))
    return root


@pytest.fixture(autouse=True)
def _synthetic_data(data_root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every grid (and every job it starts, which inherits the environment) reads the small dataset."""
    monkeypatch.setenv("BENCH_DATA_SYNTHETIC", str(data_root))


def write_grid(folder: Path, name: str = "g", **keys: Any) -> Path:
    spec = {"methods": ["late_fusion"], "protocols": ["synthetic_5fold"], "folds": [1], "seeds": [0],
            "preset": "tiny", "overrides": [{"epochs": 1}], "modalities": ["audio", "landmarks"], **keys}
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def bench(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def only_record(out: Path) -> dict[str, Any]:
    (path,) = (out / "runs").rglob("*.json")
    return store.read(path)


@pytest.mark.parametrize(("keys", "expected"), [
    ({"protocol": ["synthetic_5fold"]}, "unknown key 'protocol' (did you mean 'protocols'?)"),
    ({"methods": ["late_fusoin"]}, "methods[0]: unknown method 'late_fusoin' (did you mean 'late_fusion'?)"),
    ({"protocols": ["synthetic_5fld"]}, "protocols[0]: unknown protocol 'synthetic_5fld' (did you mean 'synthetic_5fold'?)"),
    ({"protocols": ["nowhere.yaml"]}, "nowhere.yaml does not exist"),
    ({"overrides": [{"epochs": 1}, {"epoch": 2}]}, "overrides[1]: method 'late_fusion', --set: unknown config key 'epoch' "
                                                   "(did you mean 'epochs'?)"),
    ({"overrides": [{}, {"epochs": 12}]}, "overrides[1]: gives the same configuration"),
    ({"folds": [9]}, "--fold 9: this protocol has folds fold1, fold2, fold3, fold4, fold5"),
    ({"seeds": "0"}, "seeds: expected a non-empty list of integers, got '0'"),
    ({"modalities": ["vidoe"]}, "modalities[0]: unknown modality 'vidoe' (did you mean 'video'?)"),
    ({"precision": 16}, "precision: expected one of 32, bf16-mixed, 16-mixed, got 16"),
])
def test_grid_file_errors_name_the_file_and_the_key(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                    keys: dict[str, Any], expected: str) -> None:
    path = write_grid(tmp_path, **keys)
    for command in ("grid", "status"):
        code, _, err = bench(capsys, command, str(path), "--out", str(tmp_path / "out"))
        assert code == 2 and re.search(rf"error: {re.escape(str(path))}:\d+: ", err) and expected in err, err
        assert "Traceback" not in err
    assert not (tmp_path / "out").exists()


def test_profile_errors_and_missing_grid(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_grid(tmp_path)
    code, _, err = bench(capsys, "grid", str(path), "--profile", "debgu", "--dry-run")
    assert code == 2 and "unknown SLURM profile 'debgu' (did you mean 'debug'?); valid: debug, default" in err
    bad = tmp_path / "mine.yaml"
    bad.write_text("partition: gpu\ncpu: 4\n")
    code, _, err = bench(capsys, "grid", str(path), "--profile", str(bad), "--dry-run")
    assert code == 2 and f"{bad}:2: unknown key 'cpu' (did you mean 'cpus'?)" in err
    bad.write_text("mem_gb: lots\n")
    code, _, err = bench(capsys, "grid", str(path), "--profile", str(bad), "--dry-run")
    assert code == 2 and f"{bad}:1: mem_gb: expected an integer >= 1, got 'lots'" in err
    code, _, err = bench(capsys, "status", str(tmp_path / "absent.yaml"))
    assert code == 2 and "grid file" in err and "absent.yaml does not exist" in err


def test_shipped_grids_and_profiles_are_valid(tmp_path: Path) -> None:
    import cloudpickle

    for profile in executors.available_profiles():
        assert executors.load_profile(profile).name == profile
    golden = load(REPO / "grids" / "synthetic_golden.yaml")
    cells = expand(golden, tmp_path)
    assert [c.key.rsplit("/", 1)[1] for c in cells] == ["fold1-seed0", "fold1-seed1", "fold2-seed0", "fold2-seed1"]
    assert {c.key.rsplit("/", 1)[0] for c in cells} == {f"synthetic_5fold/late_fusion/{cells[0].id.config_hash}"}
    assert all(c.id.preset == "tiny" and c.hints == LateFusion.resources for c in cells)
    # submitit pickles the callable: a cell must survive the trip unchanged
    assert [cloudpickle.loads(cloudpickle.dumps(c)) for c in cells] == cells
    for path in sorted((REPO / "grids").glob("*.yaml")):
        assert expand(load(path), tmp_path), path


def test_a_grid_s_numerics_reach_its_cells_and_their_hash(tmp_path: Path) -> None:
    (plain,) = expand(load(write_grid(tmp_path)), tmp_path / "out")
    (bf16,) = expand(load(write_grid(tmp_path, name="h", precision="bf16-mixed", fast=True)), tmp_path / "out")
    assert (plain.precision, plain.fast, bf16.precision, bf16.fast) == ("32", False, "bf16-mixed", True)
    assert bf16.id.config_hash != plain.id.config_hash
    (explicit,) = expand(load(write_grid(tmp_path, name="i", precision=32, fast=False)), tmp_path / "out")
    assert explicit.id == plain.id  # the default, written out, is the same cell


def test_the_stored_cell_list_rebuilds_the_expanded_cells_until_a_protocol_changes(tmp_path: Path) -> None:
    protocol = tmp_path / "mine" / "synthetic_5fold.yaml"  # named by path: its file can be edited under the list
    protocol.parent.mkdir()
    protocol.write_text((REPO / "protocols" / "synthetic_5fold.yaml").read_text())
    grid = load(write_grid(tmp_path, protocols=["mine/synthetic_5fold.yaml"], folds=[1, 2], seeds=[0, 1],
                           modalities=None, overrides=[{"epochs": 1}, {"epochs": 2, "lr": 0.01}],
                           precision="bf16-mixed", fast=True))
    out, folder = tmp_path / "out", tmp_path / "out" / "grids" / grid.name
    cells = expand(grid, out)
    matrix_cell = dataclasses.replace(cells[0], regime="supervised", budget="short")  # fields bench matrix sets
    cell_list.write(folder, grid, [*cells, matrix_cell])
    assert len(cells) == 8 and cell_list.stored(folder, grid, out) == ([*cells, matrix_cell], None)
    moved = tmp_path / "elsewhere"  # the store a list is read from is the one its cells use
    assert [c.out for c in cell_list.stored(folder, grid, moved)[0] or []] == [moved] * 9
    protocol.write_text(protocol.read_text().replace("seeds: [0]", "seeds: [0, 1]"))  # a hashed key
    assert cell_list.stored(folder, grid, out) == (
        None, f"protocol {protocol.resolve()} changed since {folder / 'cells.json'} was written")


def test_resources_merge_and_one_array_per_resource_set(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cells = expand(load(write_grid(tmp_path, seeds=[0, 1, 2])), tmp_path / "out")
    default, debug = executors.load_profile("default"), executors.load_profile("debug")
    hints = LateFusion.resources
    assert executors.resources_for(cells[0], default) == executors.Resources(  # the method's hints
        None, hints.gpus, hints.cpus, hints.mem_gb, hints.time_min)
    assert executors.resources_for(cells[0], debug) == executors.Resources("debug", 0, 1, 2, 10)  # the profile's
    gpu = dataclasses.replace(cells[2], hints=ResourceHints(gpus=1, cpus=8, mem_gb=32, time_min=120))
    layout = executors.arrays([cells[0], gpu, cells[1]], default)
    assert [(res.gpus, [c.id.seed for c in group]) for res, group in layout] == [(0, [0, 1]), (1, [2])]
    text = executors.dry_run([cells[0], gpu, cells[1]], default, "slurm", tmp_path / "out")
    assert "3 job(s) in 2 job array(s)" in text
    assert f"array 1: 2 job(s); partition (default), {hints.gpus} GPU, {hints.cpus} CPU, {hints.mem_gb} GB, " \
           f"{hints.time_min} min; at most 2 at once" in text
    assert "array 2: 1 job(s); partition (default), 1 GPU, 8 CPU, 32 GB, 120 min; at most 1 at once" in text
    gpu_hours, job_hours = 2 + 2 * hints.gpus * hints.time_min / 60, 2 + 2 * hints.time_min / 60
    assert f"estimated: {gpu_hours:.2f} GPU-hours, {job_hours:.2f} job-hours; 0 job(s) timed from earlier run " \
           "records (fit_s), 3 at the time limit" in text


@pytest.mark.slow
def test_debug_then_local_chain_skips_finished_cells(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    grid, out = write_grid(tmp_path, folds=[1, 2]), tmp_path / "out"
    code, text, err = bench(capsys, "grid", str(grid), "--launcher", "debug", "--out", str(out))
    assert code == 0, err
    assert "2 cells: 0 done (skipped), 0 running (left alone), 2 to run; launcher debug" in text
    records = sorted((out / "runs").rglob("*.json"))
    assert [p.name for p in records] == ["fold1-seed0.json", "fold2-seed0.json"]
    index = json.loads((out / "grids" / "g" / "jobs.json").read_text())["cells"]
    assert {e["launcher"] for e in index.values()} == {"debug"} and len(index) == 2
    code, text, _ = bench(capsys, "status", str(grid), "--out", str(out))
    assert code == 0 and "2 cells: 2 done, 0 running, 0 failed, 0 missing" in text

    stamps = [p.stat().st_mtime_ns for p in records]
    code, text, _ = bench(capsys, "grid", str(grid), "--launcher", "debug", "--out", str(out))
    assert code == 0 and "2 done (skipped), 0 running (left alone), 0 to run" in text
    assert [p.stat().st_mtime_ns for p in records] == stamps

    records[1].unlink()
    code, text, _ = bench(capsys, "grid", str(grid), "--launcher", "slurm", "--dry-run", "--out", str(out))
    assert code == 0 and "1 to run" in text and "1 job(s) in 1 job array(s)" in text
    assert "fold2-seed0  ~" in text and "h (measured: mean fit_s of 1 earlier record(s))" in text
    assert not records[1].exists()
    code, text, err = bench(capsys, "grid", str(grid), "--launcher", "local", "--out", str(out))
    assert code == 0, err
    assert "1 done (skipped), 0 running (left alone), 1 to run; launcher local" in text and "1 done, 0 not done" in text
    entry = json.loads((out / "grids" / "g" / "jobs.json").read_text())["cells"][next(k for k in index if "fold2" in k)]
    assert entry["launcher"] == "local" and Path(entry["stdout"]).is_file() and records[1].is_file()
    assert store.read(records[1])["timings"]["resumed"] == 0


@pytest.mark.slow
def test_a_failed_cell_does_not_stop_the_grid(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # max_tokens=0 passes planning and fails in the job, where the text transform is built
    grid, out = write_grid(tmp_path, overrides=[{"epochs": 1, "max_tokens": 0}, {"epochs": 1}],
                           modalities=["audio", "text"]), tmp_path / "out"
    code, text, _ = bench(capsys, "grid", str(grid), "--launcher", "local", "--out", str(out))
    assert code == 1 and "1 done, 1 not done" in text
    (record,) = (out / "runs").rglob("*.json")
    assert store.read(record)["config"]["max_tokens"] == 32
    code, text, _ = bench(capsys, "status", str(grid), "--out", str(out))
    assert code == 1 and "2 cells: 1 done, 0 running, 1 failed, 0 missing" in text
    failed = next(line for line in text.splitlines() if line.startswith("failed"))
    assert "parameter 'max_tokens' must be > 0, got 0" in failed
    log = Path(failed.split()[-1])
    assert log.name.endswith("_log.err") and "parameter 'max_tokens' must be > 0" in log.read_text()


def test_a_bad_value_is_refused_before_anything_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    grid, out = write_grid(tmp_path, overrides=[{"epochs": 1, "lr": -1.0}, {"epochs": 1}]), tmp_path / "out"
    code, _, err = bench(capsys, "grid", str(grid), "--launcher", "local", "--out", str(out))
    assert code == 2 and "overrides[0]" in err and "lr=-1.0: allowed > 0" in err
    assert not list(out.rglob("*.json"))


def test_unreachable_slurm_is_a_clear_error_and_loses_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    grid, out = write_grid(tmp_path, seeds=[0, 1]), tmp_path / "out"
    code, _, _ = bench(capsys, "grid", str(grid), "--launcher", "slurm", "--dry-run", "--out", str(out))
    assert code == 0 and not out.exists()  # a dry run writes no bookkeeping, not even the cell list
    monkeypatch.setenv("PATH", str(tmp_path / "no-slurm-here"))
    code, _, err = bench(capsys, "grid", str(grid), "--launcher", "slurm", "--out", str(out))
    assert code == 1 and "`sbatch` is not on PATH" in err and "Nothing was submitted; 2 cell(s) remain" in err
    assert not (out / "grids" / "g" / "jobs.json").exists()
    assert len(json.loads((out / "grids" / "g" / "cells.json").read_text())["cells"]) == 2  # status reads them
    monkeypatch.undo()
    code, text, _ = bench(capsys, "grid", str(grid), "--launcher", "slurm", "--dry-run", "--out", str(out))
    assert code == 0 and "2 to run" in text


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory: pytest.TempPathFactory, data_root: Path) -> tuple[dict[str, Any], np.ndarray]:
    """The requeue cell run straight through: its record and test outputs."""
    folder = tmp_path_factory.mktemp("uninterrupted")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("BENCH_DATA_SYNTHETIC", str(data_root))
        (cell,) = expand(load(write_grid(folder, overrides=[REQUEUE])), folder / "out")
        cell()
    return store.read(cell.record_path), np.load(store.predictions_path(cell.record_path))["outputs"]


def start_local_grid(grid: Path, out: Path, console: Path) -> tuple[subprocess.Popen[bytes], Path, int]:
    """``bench grid --launcher local`` in the background; returns it, the cell's checkpoint and its task's PID."""
    with console.open("wb") as sink:
        proc = subprocess.Popen([sys.executable, "-m", "bench.cli", "grid", str(grid), "--launcher", "local",
                                 "--out", str(out)], stdout=sink, stderr=subprocess.STDOUT)
    index = out / "grids" / grid.stem / "jobs.json"
    wait_for(index.is_file, proc, console, "the job index")
    ((key, entry),) = json.loads(index.read_text())["cells"].items()
    checkpoint = run.checkpoint_path(out / "runs" / f"{key}.json")
    wait_for(checkpoint.is_file, proc, console, "the first epoch's checkpoint")
    (task,) = children(int(entry["job_id"]))  # the job id of a local job is its controller's PID
    return proc, checkpoint, task


def children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        if parent == pid:
            found.append(int(stat.parent.name))
    return found


def wait_for(condition: Any, proc: subprocess.Popen[bytes], console: Path, what: str, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if proc.poll() is not None:
            pytest.fail(f"bench grid ended before {what} appeared:\n{console.read_text()}")
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"no {what} after {timeout} s:\n{console.read_text()}")
        time.sleep(0.05)


def assert_same_as_uninterrupted(out: Path, uninterrupted: tuple[dict[str, Any], np.ndarray]) -> None:
    reference, outputs = uninterrupted
    record = only_record(out)
    assert record["timings"]["resumed"] == 1, "the job was not interrupted mid-training"
    assert record["metrics"] == reference["metrics"] and record["history"] == reference["history"]
    assert record["selection"] == reference["selection"]
    (path,) = (out / "runs").rglob("*.json")
    assert np.array_equal(np.load(store.predictions_path(path))["outputs"], outputs)
    assert not list(out.rglob("*.ckpt"))


@pytest.mark.slow
def test_preempted_local_job_requeues_and_resumes_exactly(tmp_path: Path, uninterrupted: Any) -> None:
    grid, out = write_grid(tmp_path, overrides=[REQUEUE]), tmp_path / "out"
    proc, checkpoint, task = start_local_grid(grid, out, tmp_path / "console.txt")
    # whole whenever it exists (written atomically); it names its cell and stage
    state = torch.load(checkpoint, weights_only=False)["callbacks"]["_EpochState"]
    assert state["stage_name"] == "supervised" and state["cell"]["fold"] == "fold1"
    os.kill(task, signal.SIGUSR2)  # what SLURM sends before a time limit or a preemption
    assert proc.wait(timeout=600) == 0, (tmp_path / "console.txt").read_text()
    assert_same_as_uninterrupted(out, uninterrupted)
    (log,) = (out / "grids" / "g" / "submitit").rglob("*_log.out")
    text = log.read_text()
    assert "Calling checkpoint method" in text and "Requeued job" in text


@pytest.mark.slow
def test_killed_local_job_resumes_when_the_grid_runs_again(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                           uninterrupted: Any) -> None:
    grid, out = write_grid(tmp_path, overrides=[REQUEUE]), tmp_path / "out"
    proc, _, task = start_local_grid(grid, out, tmp_path / "console.txt")
    os.kill(task, signal.SIGKILL)  # a node failure: no signal, no chance to clean up
    output = (tmp_path / "console.txt").read_text() if proc.wait(timeout=300) is not None else ""
    assert proc.returncode == 1 and "failed (its local job ended without a result (killed?))" in output, output
    assert not list((out / "runs").rglob("*.json"))
    code, text, _ = bench(capsys, "status", str(grid), "--out", str(out))
    assert code == 1 and "0 done, 0 running, 1 failed" in text
    code, text, err = bench(capsys, "grid", str(grid), "--launcher", "debug", "--out", str(out))
    assert code == 0 and "1 to run" in text, err
    assert_same_as_uninterrupted(out, uninterrupted)


def test_status_reads_a_damaged_index_as_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    grid, out = write_grid(tmp_path), tmp_path / "out"
    index = out / "grids" / "g" / "jobs.json"
    index.parent.mkdir(parents=True)
    index.write_text("{not json")
    code, _, err = bench(capsys, "status", str(grid), "--out", str(out))
    assert code == 2 and f"{index}: not a readable grid job index" in err and "delete it" in err


def test_resume_keeps_the_selection_state_and_the_early_stop(tmp_path: Path, data_root: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """best_val with patience, interrupted mid-training and after its last epoch: both resume to the same record."""
    from bench_methods.late_fusion import model

    protocol = tmp_path / "holdout_patience.yaml"
    protocol.write_text((REPO / "protocols" / "synthetic_holdout.yaml").read_text()
                        .replace("name: synthetic_holdout", "name: holdout_patience")
                        .replace("selection: {rule: best_val}", "selection: {rule: best_val, patience: 2}"))

    def execute(out: Path) -> dict[str, Any]:
        request = run.RunRequest(method="late_fusion", protocol=str(protocol), preset="tiny",
                                 overrides={"epochs": 25, "batch_size": 8, "lr": 0.01},
                                 modalities=["audio", "landmarks"], out=out, progress=False)
        return run.execute(run.make_plan(request))[0].record

    reference = execute(tmp_path / "straight")
    assert reference["selection"]["epochs_trained"]["supervised"] < 25  # the patience stopped it early

    steps, step = {"n": 0}, model.LateFusionModule.training_step

    def crash_at_eleventh_step(self: Any, batch: Any, index: int) -> Any:
        steps["n"] += 1
        if steps["n"] == 11:
            raise RuntimeError("killed mid-training")
        return step(self, batch, index)

    def crash_before_testing(self: Any, module: Any) -> Any:
        raise RuntimeError("killed after the last epoch")

    for crash, where in ((crash_at_eleventh_step, (model.LateFusionModule, "training_step")),
                         (crash_before_testing, (training.TestSplit, "predict"))):
        out = tmp_path / crash.__name__
        with monkeypatch.context() as patch:
            patch.setattr(*where, crash)
            with pytest.raises(RuntimeError, match="killed"):
                execute(out)
        assert list(out.rglob("*.ckpt")) and not list(out.rglob("*.json"))
        record = execute(out)
        assert record["timings"]["resumed"] == 1
        for key in ("metrics", "history", "selection"):
            assert record[key] == reference[key], (crash.__name__, key)
