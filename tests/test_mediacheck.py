"""The deep media check of ``bench prepare --check``: damaged files are named, every one of them.

Real RAVDESS opus files (from ../shared/data) cut short, a frame folder with a truncated JPEG
that is not its first frame, and video files cut short; before the deep check, a RAVDESS opus
cut to 300 bytes passed ("no problems found") and only a folder's first frame was opened.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from bench.cli import main
from bench.data import mediacheck
from bench.data.media import write_video

RAVDESS = Path(__file__).resolve().parents[2] / "shared" / "data" / "ravdess" / "audio_speech_16k_opus"


def ravdess_copy(tmp: Path, files: int = 4) -> list[Path]:
    if not (RAVDESS / "Actor_01").is_dir():
        pytest.skip(f"shared RAVDESS data not found at {RAVDESS}")
    folder = tmp / "ravdess" / "audio_speech_16k_opus" / "Actor_01"
    folder.mkdir(parents=True)
    copied = []
    for source in sorted((RAVDESS / "Actor_01").glob("*.opus"))[:files]:
        copied.append(Path(shutil.copy(source, folder / source.name)))
    return copied


def cut(path: Path, size: int) -> Path:
    path.write_bytes(path.read_bytes()[:size])
    return path


def test_cut_opus_files_are_named_and_whole_ones_pass(tmp_path: Path) -> None:
    whole, short, half, tail = ravdess_copy(tmp_path)
    cut(short, 300)
    cut(half, half.stat().st_size // 2)
    cut(tail, tail.stat().st_size - 200)
    assert mediacheck.file_problems("audio", whole) == []
    for damaged in (short, half, tail):
        ((where, why),) = mediacheck.file_problems("audio", damaged)
        assert where == damaged and why.startswith("is truncated"), why


def test_prepare_check_decodes_every_file_and_lists_every_problem(tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    files = ravdess_copy(tmp_path)
    cut(files[1], 300)
    cut(files[3], files[3].stat().st_size // 2)
    root = tmp_path / "ravdess"
    assert main(["prepare", "ravdess", "--data-root", str(root), "--check", "--workers", "2", "--no-progress"]) == 1
    out = capsys.readouterr().out
    for damaged in (files[1], files[3]):
        assert f"{damaged}: audio of sample " in out and "is truncated" in out
    assert "decoded 4 media files whole in" in out and "with 2 worker process(es): 2 do not decode" in out
    assert out.rstrip().splitlines()[-1].endswith("problem(s) found")
    # the cheap mode opens nothing: the cut files pass it (only the missing recordings are problems)
    assert main(["prepare", "ravdess", "--data-root", str(root), "--check", "--no-decode"]) == 1
    out = capsys.readouterr().out
    assert str(files[1]) not in out and "media not decoded (--no-decode)" in out


def test_every_bad_frame_of_a_folder_is_named(tmp_path: Path) -> None:
    folder = tmp_path / "clip"
    folder.mkdir()
    for k in range(4):
        Image.fromarray(np.random.RandomState(k).randint(0, 255, (48, 48, 3)).astype(np.uint8)).save(
            folder / f"{k:05d}.jpg", quality=95)
    cut(folder / "00002.jpg", 200)
    (folder / "00003.jpg").write_bytes(b"not a jpeg")
    problems = mediacheck.file_problems("video", folder)
    assert [p for p, _ in problems] == [folder / "00002.jpg", folder / "00003.jpg"]
    assert all(why.startswith("frame cannot be decoded") for _, why in problems)


@pytest.mark.parametrize("suffix", ["mp4", "avi"])
def test_truncated_video_is_named(tmp_path: Path, suffix: str) -> None:
    frames = np.stack([np.random.RandomState(j).randint(0, 255, (32, 32, 3)).astype(np.uint8) for j in range(40)])
    video = tmp_path / f"clip.{suffix}"
    write_video(video, frames, 8.0)
    assert mediacheck.file_problems("video", video) == []
    cut(video, video.stat().st_size // 2)
    ((where, why),) = mediacheck.file_problems("video", video)
    assert where == video and ("truncated" in why or "cannot be decoded" in why), why


def test_the_pool_reports_the_same_problems_as_one_process(tmp_path: Path) -> None:
    from bench.api import Sample

    files = ravdess_copy(tmp_path)
    cut(files[0], 300)
    samples = [Sample(f"s{i}", 0, {"audio": path}) for i, path in enumerate([*files, tmp_path / "gone.opus"])]
    single = mediacheck.decode_all(samples, workers=1)
    assert single == mediacheck.decode_all(samples, workers=2)
    assert single[0] == 5 and len(single[1]) == 2 and "s4 is missing" in single[1][1]
