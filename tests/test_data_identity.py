"""A run refuses an incomplete copy of a dataset it knows whole, and never reuses a record made
from other data.

Before: a RAVDESS copy missing Actor_07 trained silently on 1,020 of 1,080 samples, and the
same command on the complete copy then printed "skipped (already finished)" with the record
of the incomplete one.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from bench.cli import main
from bench.data.synthetic import SyntheticSpec, generate
from bench.records import store
from bench.running import run

RAVDESS = Path(__file__).resolve().parents[2] / "shared" / "data" / "ravdess"

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def ravdess_without_actor_07(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not (RAVDESS / "audio_speech_16k_opus" / "Actor_07").is_dir():
        pytest.skip(f"shared RAVDESS data not found at {RAVDESS}")
    root = tmp_path_factory.mktemp("ravdess") / "ravdess"
    shutil.copytree(RAVDESS, root, ignore=shutil.ignore_patterns("Actor_07", "manifest.csv"))
    return root


def ravdess_args(root: Path, out: Path, *extra: str) -> list[str]:
    return ["run", "--method", "late_fusion", "--protocol", "ravdess_actor_holdout", "--modalities", "audio",
            "--preset", "tiny", "--data-root", str(root), "--out", str(out), "--no-progress", *extra]


def test_an_incomplete_copy_is_refused_with_what_is_missing_and_which_side(
        ravdess_without_actor_07: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(ravdess_args(ravdess_without_actor_07, tmp_path / "out")) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert err[0].startswith(f"error: {ravdess_without_actor_07}: incomplete ravdess copy: 60 of 1440 samples "
                             "missing (60 of subject 07; first: 01-01-01-01-01-07")
    assert "holdout/train has 1020 of 1080" in err[0] and "--allow-incomplete" in err[0]
    assert not (tmp_path / "out").exists()


def test_allow_incomplete_plans_the_run_and_records_what_is_missing(ravdess_without_actor_07: Path,
                                                                    tmp_path: Path) -> None:
    request = run.RunRequest(method="late_fusion", protocol="ravdess_actor_holdout", modalities=["audio"],
                             preset="tiny", data_root=ravdess_without_actor_07, out=tmp_path, progress=False,
                             allow_incomplete=True)
    plan = run.make_plan(request)
    assert plan.incomplete is not None and len(plan.incomplete["missing"]) == 60
    assert plan.incomplete["by_subject"] == {"07": 60} and plan.incomplete["sides"] == {"holdout/train": [1020, 1080]}
    from bench.running import assemble

    assert "--allow-incomplete" in assemble.reproduce_command(plan, plan.folds[0], 0)


def test_the_complete_copy_passes_the_check(tmp_path: Path) -> None:
    if not RAVDESS.is_dir():
        pytest.skip(f"shared RAVDESS data not found at {RAVDESS}")
    plan = run.make_plan(run.RunRequest(method="late_fusion", protocol="ravdess_actor_holdout", modalities=["audio"],
                                        preset="tiny", data_root=RAVDESS, out=tmp_path, progress=False))
    assert plan.incomplete is None and [len(plan.folds[0].train), len(plan.folds[0].test)] == [1080, 180]


@pytest.fixture()
def synthetic(tmp_path: Path) -> Path:
    root = tmp_path / "data"
    generate(root, SyntheticSpec(variant="classification", num_subjects=5, clips_per_subject=4))
    return root


def synthetic_args(root: Path, out: Path, *extra: str) -> list[str]:
    return ["run", "--method", "late_fusion", "--protocol", "synthetic_5fold", "--fold", "1", "--seed", "0",
            "--preset", "tiny", "--set", "epochs=1", "--data-root", str(root), "--out", str(out),
            "--cache-dir", str(out.parent / "cache"), "--no-progress", *extra]


@pytest.mark.slow
def test_a_record_made_from_other_data_is_never_reused(synthetic: Path, tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    assert main(synthetic_args(synthetic, out)) == 0
    [record] = [p for p, _ in store.iter_records(out)]
    first = json.loads(record.read_text(encoding="utf-8"))
    assert main(synthetic_args(synthetic, out)) == 0
    assert "skipped (already finished)" in capsys.readouterr().out  # same data: reused

    clip = sorted(synthetic.rglob("*.wav"))[0]
    clip.write_bytes(clip.read_bytes() + b"\0" * 64)  # the copy changed: a file was re-encoded
    assert main(synthetic_args(synthetic, out)) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"error: {record}: this finished cell was made from other data")
    assert f"data fingerprint {first['data']['root_fingerprint']}, now " in err[0] and "--rerun-changed" in err[0]
    assert json.loads(record.read_text(encoding="utf-8")) == first

    assert main(synthetic_args(synthetic, out, "--rerun-changed")) == 0
    assert "skipped" not in capsys.readouterr().out
    assert json.loads(Path(f"{record}.changed").read_text(encoding="utf-8")) == first
    assert store.read(record)["data"]["root_fingerprint"] != first["data"]["root_fingerprint"]
    assert main(synthetic_args(synthetic, out)) == 0
    assert "skipped (already finished)" in capsys.readouterr().out
