"""``bench prepare DATASET --check`` and ``--method`` through the real command line entry point."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bench.cli import main
from bench.data.adapters.caer import CAER
from bench.data.media import write_video
from shared_data import shared_data

SR = 16000
CAER_FILES = ["train/Anger/0001.avi", "train/Happy/0001.avi", "train/Fear/0004.avi",
              "validation/Neutral/0001.avi", "test/Sad/0001.avi", "test/Disgust/0002.avi"]


def _caer(root: Path) -> Path:
    for k, name in enumerate(CAER_FILES):
        frames = np.stack([np.full((16, 16, 3), (25 * k + 15 * j) % 256, dtype=np.uint8) for j in range(4)])
        tone = (0.2 * np.sin(2 * np.pi * (180 + 60 * k) * np.arange(SR // 2) / SR)).astype(np.float32)
        write_video(root / name, frames, 8.0, audio=tone, sample_rate=SR)
    return root


def test_check_fails_on_sizes_then_passes_then_names_a_corrupt_clip(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _caer(tmp_path / "caer")
    assert main(["prepare", "caer", "--data-root", str(root), "--check"]) == 1
    out = capsys.readouterr().out
    assert "clips: 6 found, expected 13175 (CAER video release)" in out
    assert "1 problem(s) found" in out
    row = next(line for line in out.splitlines() if line.startswith("clips"))
    assert row.split() == ["clips", "6", "13175", "MISMATCH"]

    monkeypatch.setattr(CAER, "expected_counts", {"clips": 6})
    assert main(["prepare", "caer", "--data-root", str(root), "--check"]) == 0
    out = capsys.readouterr().out
    assert "no problems found" in out and next(r for r in out.splitlines() if r.startswith("clips")).split()[-1] == "ok"

    clip = root / "test/Disgust/0002.avi"
    clip.write_bytes(clip.read_bytes()[:300])
    assert main(["prepare", "caer", "--data-root", str(root), "--check"]) == 1
    out = capsys.readouterr().out
    assert f"{clip}: video of sample test_Disgust_0002" in out and "2 problem(s) found" in out


def test_check_on_the_real_dfew_lists_matches_every_fold_size(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lists = shared_data("dfew", "dfer_clip_annotation")
    root = tmp_path / "dfew"
    (root / "annotation").mkdir(parents=True)
    for item in lists.iterdir():
        (root / "annotation" / item.name).symlink_to(item)
    assert main(["prepare", "dfew", "--data-root", str(root), "--check"]) == 1  # no media in this copy
    out = capsys.readouterr().out
    rows = {line.split()[0]: line.split()[1:] for line in out.splitlines() if line.startswith("fold")}
    assert rows["fold1/train"] == ["9356", "9356", "ok"] and rows["fold4/test"] == ["2339", "2339", "ok"]
    assert len(rows) == 10 and all(r[-1] == "ok" for r in rows.values())
    assert f"{2 * 11697} problem(s) found" in out and "... and 23344 more" in out


def _mafw_lists(tmp_path: Path) -> Path:
    """A MAFW root with five folds of one-clip test lists and empty train lists."""
    root = tmp_path / "mafw"
    (root / "annotation").mkdir(parents=True)
    for k in range(1, 6):
        for side in ("train", "test"):
            (root / "annotation" / f"MAFW_set_{k}_{side}.txt").write_text(f"/d/faces/0000{k} 9 {k}\n" if side == "test"
                                                                          else "")
    return root


def test_a_bad_split_list_is_reported_with_its_file_and_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = _mafw_lists(tmp_path)
    (root / "annotation" / "MAFW_set_2_test.txt").write_text("/d/faces/00002 9 2\n/d/faces/00002 9 2")
    assert main(["prepare", "mafw", "--data-root", str(root), "--check"]) == 1
    out = capsys.readouterr().out
    assert f"{root / 'annotation' / 'MAFW_set_2_test.txt'}, line 2: clip 00002 is listed twice (first on line 1)" in out


def test_every_bad_line_of_a_split_list_is_listed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A duplicated line no longer hides the bad lines after it."""
    root = _mafw_lists(tmp_path)
    bad = root / "annotation" / "MAFW_set_2_test.txt"
    bad.write_text("/d/faces/00002 9 2\n/d/faces/00002 9 2\n/d/faces/00012 9 99\n/d/faces/00013 nine 2\n")
    assert main(["prepare", "mafw", "--data-root", str(root), "--check", "--no-decode"]) == 1
    out = capsys.readouterr().out
    assert f"{bad}, line 2: clip 00002 is listed twice (first on line 1)" in out
    assert f"{bad}, line 3: label 99 is out of range" in out
    assert f"{bad}, line 4: num_frames 'nine' is not an integer" in out
    assert out.rstrip().splitlines()[-1] == "3 problem(s) found"


def test_usage_errors_exit_2_with_a_message(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    root = _caer(tmp_path / "caer")
    assert main(["prepare", "caer", "--data-root", str(root)]) == 2
    assert "nothing to do; give --check, --method METHOD, or both" in capsys.readouterr().err
    monkeypatch.delenv("BENCH_DATA_MELD", raising=False)
    monkeypatch.delenv("BENCH_DATA_ROOT", raising=False)
    assert main(["prepare", "meld", "--check"]) == 2
    err = capsys.readouterr().err
    assert "pass --data-root DIR" in err and "output_repeated_splits_test/dia{D}_utt{U}.mp4" in err
    assert main(["prepare", "dfew", "--data-root", str(tmp_path / "absent"), "--check"]) == 2
    assert "does not exist; dfew expects:" in capsys.readouterr().err
    assert main(["prepare", "caer", "--data-root", str(root), "--method", "late_fusion", "--set", "nope=1"]) == 2
    assert "unknown config key 'nope'" in capsys.readouterr().err


def test_method_inputs_are_cached_and_a_second_run_does_no_work(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = _caer(tmp_path / "caer")
    cache = tmp_path / "cache"
    argv = ["prepare", "caer", "--data-root", str(root), "--method", "late_fusion", "--preset", "tiny",
            "--cache-dir", str(cache)]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "skipping text: 6 of 6 samples have no text source" in out
    assert "late_fusion inputs (video, audio) for 6 caer samples" in out and ": 0 hits, 12 misses," in out
    entries = sorted(cache.glob("??/*.npz"))
    assert len(entries) == 12
    stamps = [p.stat().st_mtime_ns for p in entries]
    assert main(argv) == 0
    assert ": 12 hits, 0 misses," in capsys.readouterr().out
    assert [p.stat().st_mtime_ns for p in sorted(cache.glob("??/*.npz"))] == stamps


def test_a_failed_check_prepares_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = _caer(tmp_path / "caer")
    cache = tmp_path / "cache"
    argv = ["prepare", "caer", "--data-root", str(root), "--check", "--method", "late_fusion", "--preset", "tiny",
            "--cache-dir", str(cache)]
    assert main(argv) == 1
    assert "expected 13175" in capsys.readouterr().out
    assert not cache.exists()
