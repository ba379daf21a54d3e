"""``bench grid`` on a real one-node SLURM cluster (slurm/start-test-cluster.sh; CI starts it).

Cells with equal resources go out as one job array and a failing cell leaves the others
alone; ``bench status`` follows the jobs through sacct; a job sent SIGUSR2 (what SLURM sends
before a time limit or a preemption) requeues itself through submitit's checkpoint() and
resumes with exactly the metrics of an uninterrupted run; an unreachable controller is a clear
error that loses nothing. Skipped, with the reason, when no SLURM is reachable here.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from bench import cli
from bench.data.synthetic_generator import SyntheticSpec, generate
from bench.launch.grid import expand, load
from bench.records import store
from bench.running import run

REQUEUE = {"epochs": 20, "batch_size": 8}


def _no_cluster() -> str | None:
    """Why these tests cannot run here, or None."""
    if shutil.which("sinfo") is None or shutil.which("sbatch") is None:
        return "no SLURM client on PATH (start the test cluster: sudo bash slurm/start-test-cluster.sh)"
    try:
        found = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"sinfo failed: {exc}"
    if found.returncode != 0:
        return f"SLURM controller unreachable ({found.stderr.strip()}); start it with slurm/start-test-cluster.sh"
    if not {"idle", "mixed"} & set(found.stdout.split()):
        return f"no idle SLURM node (node states: {' '.join(found.stdout.split()) or 'none'})"
    return None


REASON = _no_cluster()
pytestmark = pytest.mark.skipif(REASON is not None, reason=REASON or "")


@pytest.fixture(scope="module")
def data_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("synthetic") / "data"
    generate(root, SyntheticSpec(variant="classification", num_subjects=5, clips_per_subject=8))
    return root


@pytest.fixture(autouse=True)
def _jobs_see_the_data(data_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Jobs inherit this environment (sbatch exports it); whatever a test leaves queued is cancelled."""
    monkeypatch.setenv("BENCH_DATA_SYNTHETIC", str(data_root))
    yield
    for index in tmp_path.rglob("jobs.json"):
        ids = {e["job_id"].split("_")[0] for e in json.loads(index.read_text())["cells"].values()}
        if ids:
            subprocess.run(["scancel", *sorted(ids)], check=False)


def write_grid(folder: Path, **keys: Any) -> Path:
    spec = {"methods": ["late_fusion"], "protocols": ["synthetic_5fold"], "folds": [1], "seeds": [0],
            "preset": "tiny", "overrides": [{"epochs": 1}], "modalities": ["audio", "landmarks"],
            "profile": "debug", **keys}
    path = folder / "g.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def bench(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def index_of(out: Path) -> dict[str, dict[str, Any]]:
    return json.loads((out / "grids" / "g" / "jobs.json").read_text())["cells"]


def until(condition: Any, what: str, timeout: float = 400, every: float = 1.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"no {what} after {timeout} s")
        time.sleep(every)


@pytest.mark.slow
def test_one_array_per_resource_set_and_failures_stay_isolated(tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    # max_tokens=0 passes planning and fails in the job, where the text transform is built
    grid = write_grid(tmp_path, folds=[1, 2], overrides=[{"epochs": 1}, {"epochs": 1, "max_tokens": 0}],
                      modalities=["audio", "text"])
    out = tmp_path / "out"
    code, text, err = bench(capsys, "grid", str(grid), "--launcher", "slurm", "--out", str(out))
    assert code == 0, err
    assert "4 to run; launcher slurm, profile debug" in text
    assert "array 1: SLURM job" in text and "4 cell(s); partition debug, 0 GPU, 1 CPU, 2 GB, 10 min" in text
    jobs = sorted(e["job_id"] for e in index_of(out).values())
    array = jobs[0].split("_")[0]
    assert jobs == [f"{array}_{k}" for k in range(4)]  # one sbatch, four array tasks

    code, text, _ = bench(capsys, "status", str(grid), "--out", str(out))
    assert code == 0 and "0 failed" in text and "running" in text  # queued or started, none finished yet

    def settled() -> str | None:
        text = bench(capsys, "status", str(grid), "--out", str(out))[1]
        return text if " 0 running" in text.splitlines()[0] else None

    text = until(settled, "end of the array")
    assert "4 cells: 2 done, 0 running, 2 failed, 0 missing" in text, text
    failed = [line for line in text.splitlines() if line.startswith("failed")]
    for line in failed:
        assert "parameter 'max_tokens' must be > 0, got 0" in line
        log = Path(line.split()[-1])
        assert log.name.endswith("_log.err") and "parameter 'max_tokens' must be > 0" in log.read_text()
    assert [store.read(p)["config"]["max_tokens"] for p in sorted((out / "runs").rglob("*.json"))] == [32, 32]
    def accounted() -> list[str] | None:  # accounting lags a few seconds behind the result files
        rows = subprocess.run(["sacct", "-n", "-X", "-P", "-j", array, "-o", "JobID,State"], capture_output=True,
                              text=True, check=True).stdout.split()
        states = sorted(row.split("|")[1] for row in rows)
        return states if len(states) == 4 and {"COMPLETED", "FAILED"} >= set(states) else None

    assert until(accounted, "final sacct states", timeout=60) == ["COMPLETED", "COMPLETED", "FAILED", "FAILED"]

    code, text, _ = bench(capsys, "grid", str(grid), "--launcher", "slurm", "--dry-run", "--out", str(out))
    assert code == 0 and "2 done (skipped), 0 running (left alone), 2 to run" in text


@pytest.fixture
def uninterrupted(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], np.ndarray]:
    folder = tmp_path_factory.mktemp("uninterrupted")
    (cell,) = expand(load(write_grid(folder, overrides=[REQUEUE])), folder / "out")
    cell()
    return store.read(cell.record_path), np.load(store.predictions_path(cell.record_path))["outputs"]


@pytest.mark.slow
def test_signalled_job_requeues_and_resumes_exactly(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                    uninterrupted: tuple[dict[str, Any], np.ndarray]) -> None:
    grid, out = write_grid(tmp_path, overrides=[REQUEUE]), tmp_path / "out"
    code, _, err = bench(capsys, "grid", str(grid), "--launcher", "slurm", "--out", str(out))
    assert code == 0, err
    ((key, entry),) = index_of(out).items()
    job = entry["job_id"]
    until(run.checkpoint_path(out / "runs" / f"{key}.json").is_file, "first epoch's checkpoint", every=0.05)
    subprocess.run(["scancel", "--signal=USR2", job], check=True)  # as before a time limit or a preemption

    def requeued() -> str | None:
        info = subprocess.run(["scontrol", "-o", "show", "job", job], capture_output=True, text=True).stdout
        settling = any(f"JobState={s} " in info for s in ("REQUEUED", "REQUEUE_FED", "COMPLETING"))
        return info if "Restarts=1 " in info and not settling else None

    info = until(requeued, "requeue of the job", every=0.2)
    if "JobState=PENDING " in info and "Reason=BeginTime " in info:
        # SLURM holds a requeued job for two minutes before it may start again; release it now
        subprocess.run(["scontrol", "update", f"jobid={job}", "StartTime=now"], check=True)

    def finished() -> str | None:
        code, text, _ = bench(capsys, "status", str(grid), "--out", str(out))
        return text if "1 done" in text or "1 failed" in text else None

    text = until(finished, "end of the requeued job")
    assert "1 cells: 1 done" in text, text
    reference, outputs = uninterrupted
    record = store.read(out / "runs" / f"{key}.json")
    assert record["timings"]["resumed"] == 1, "the job was not interrupted mid-training"
    assert record["metrics"] == reference["metrics"] and record["history"] == reference["history"]
    assert np.array_equal(np.load(store.predictions_path(out / "runs" / f"{key}.json"))["outputs"], outputs)
    assert not list(out.rglob("*.ckpt"))
    log = Path(entry["stdout"]).read_text()
    assert "Calling checkpoint method" in log and f"Requeued job {job}" in log
    assert log.count("Starting with JobEnvironment") == 2


def test_unreachable_controller_loses_nothing_and_the_grid_resumes(tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    grid, out = write_grid(tmp_path), tmp_path / "out"
    conf = Path(os.environ.get("SLURM_CONF", "/etc/slurm/slurm.conf")).read_text()
    dead = tmp_path / "slurm.conf"
    dead.write_text("\n".join(line for line in conf.splitlines() if not line.startswith("SlurmctldPort"))
                    + "\nSlurmctldPort=1\n")  # nothing listens there: the controller is down
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SLURM_CONF", str(dead))
        code, _, err = bench(capsys, "grid", str(grid), "--launcher", "slurm", "--out", str(out))
    assert code == 1 and "SLURM did not accept job array 1 of 1" in err and "Unable to contact slurm controller" in err
    assert "1 cell(s) were not submitted and nothing was lost" in err
    assert not (out / "grids" / "g" / "jobs.json").exists() and not (out / "runs").exists()
    code, text, err = bench(capsys, "grid", str(grid), "--launcher", "slurm", "--wait", "--out", str(out))
    assert code == 0 and "1 to run" in text and "1 done, 0 not done" in text, err
    assert len(list((out / "runs").rglob("*.json"))) == 1
