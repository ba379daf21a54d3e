"""The VoxCeleb2 adapter on a fixture tree of real mp4 clips (video + AAC audio) in the dev layout."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bench.data.adapters.voxceleb2 import VoxCeleb2
from bench.data.media import read_audio, read_video, write_video
from bench.data.prepare import labels_array
from bench.errors import DataError


def _clip(root: Path, speaker: str, video: str, clip: str) -> Path:
    path = root / "dev" / "mp4" / speaker / video / f"{clip}.mp4"
    frames = np.random.default_rng(len(clip)).integers(0, 255, (3, 16, 16, 3), dtype=np.uint8)
    t = np.arange(8000) / 16000
    write_video(path, frames, 8.0, audio=(0.2 * np.sin(2 * np.pi * 300 * t)).astype(np.float32), sample_rate=16000)
    return path


def _tree(root: Path) -> None:
    _clip(root, "id00012", "21Uxsk56VDQ", "00001")
    _clip(root, "id00012", "21Uxsk56VDQ", "00002")
    _clip(root, "id00012", "_-kYt9Z1mw8", "00001")
    _clip(root, "id00015", "21Uxsk56VDQ", "00001")  # two speakers in one YouTube video


def test_unlabelled_clips_by_speaker_and_video(tmp_path: Path) -> None:
    _tree(tmp_path)
    adapter = VoxCeleb2(tmp_path)
    samples = adapter.samples()
    assert [s.id for s in samples] == ["id00012/21Uxsk56VDQ/00001", "id00012/21Uxsk56VDQ/00002",
                                       "id00012/_-kYt9Z1mw8/00001", "id00015/21Uxsk56VDQ/00001"]
    assert all(s.label is None for s in samples)
    assert [s.subject for s in samples] == ["id00012"] * 3 + ["id00015"]
    assert [s.group for s in samples] == ["21Uxsk56VDQ", "21Uxsk56VDQ", "_-kYt9Z1mw8", "21Uxsk56VDQ"]
    first = samples[0]
    assert first.sources["video"] == first.sources["audio"] == tmp_path / "dev/mp4/id00012/21Uxsk56VDQ/00001.mp4"
    assert read_video(first.sources["video"]).num_frames == 3
    audio = read_audio(first.sources["audio"])
    assert audio.sample_rate == 16000 and abs(len(audio.samples) - 8000) <= 1024
    report = adapter.check()
    assert report.ok and report.counts == {"speakers": 2, "videos": 3, "clips": 4}


def test_the_placeholder_task_refuses_to_train_on_labels(tmp_path: Path) -> None:
    _tree(tmp_path)
    adapter = VoxCeleb2(tmp_path)
    task = adapter.task_spec()
    assert task.kind == "classification" and task.label_names == ("unlabelled",)
    with pytest.raises(DataError, match="has no label"):
        labels_array(adapter.samples(), task)


@pytest.mark.parametrize(("relative", "expected"), [
    ("dev/mp4/speaker12/21Uxsk56VDQ/00001.mp4", "expected a speaker folder named idNNNNN"),
    ("dev/mp4/id00012/short/00001.mp4", "expected a folder named by an 11-character YouTube id"),
    ("dev/mp4/id00012/21Uxsk56VDQ/1.mp4", "expected a clip named NNNNN.mp4"),
    ("dev/mp4/id00012/21Uxsk56VDQ/00003.m4a", "expected a clip named NNNNN.mp4"),
])
def test_a_path_that_breaks_the_layout_is_named(tmp_path: Path, relative: str, expected: str) -> None:
    _tree(tmp_path)
    bad = tmp_path / relative
    bad.parent.mkdir(parents=True, exist_ok=True)
    bad.write_bytes(b"x")
    with pytest.raises(DataError, match=expected) as error:
        VoxCeleb2(tmp_path).samples()
    assert str(tmp_path / "dev" / "mp4") in str(error.value)
    assert any(expected in p for p in VoxCeleb2(tmp_path).check().problems)


def test_missing_layout_and_empty_clip(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="dev/mp4: no such folder"):
        VoxCeleb2(tmp_path).samples()
    empty = tmp_path / "dev" / "mp4" / "id00001" / "21Uxsk56VDQ" / "00001.mp4"
    empty.parent.mkdir(parents=True)
    empty.write_bytes(b"")
    assert VoxCeleb2(tmp_path).check().problems == (f"{empty}: empty clip",)
