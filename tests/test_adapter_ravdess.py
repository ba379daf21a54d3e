"""The RAVDESS adapter on the 1,440 real recordings of ../shared/data and on fixture trees."""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from shared_data import shared_path

from bench import protocols
from bench.api import TransformSpec
from bench.data.adapters.ravdess import EMOTIONS, RAVDESS, expected_keys
from bench.data.catalog import get_transform
from bench.data.media import read_audio, read_video, write_video, write_wav
from bench.errors import DataError
from bench.protocols import splits

SHARED = shared_path("ravdess")
MANIFEST = SHARED / "manifest.csv"
needs_shared = pytest.mark.skipif(not MANIFEST.is_file(), reason="../shared/data/ravdess is absent")


@pytest.fixture(scope="module")
def real() -> RAVDESS:
    return RAVDESS(SHARED)


@pytest.fixture(scope="module")
def manifest() -> dict[str, dict[str, str]]:
    """The shared copy's own manifest, by recording key (``path`` minus the modality field)."""
    with MANIFEST.open(newline="", encoding="utf-8") as handle:
        return {Path(row["path"]).stem[3:]: row for row in csv.DictReader(handle)}


@needs_shared
def test_all_real_recordings_with_labels_actors_and_statements(real: RAVDESS, manifest: dict) -> None:
    samples = real.samples()
    assert len(samples) == 1440
    assert [s.id for s in samples] == expected_keys()
    for sample in samples:
        row = manifest[sample.id]
        assert sample.label == int(row["emotion_code"]) - 1
        assert EMOTIONS[sample.label] == row["emotion"]
        assert sample.subject == f"{int(row['actor']):02d}"
        assert sample.group == sample.id
        assert sample.meta["sex"] == row["sex"]
        assert set(sample.sources) == {"audio", "text"}  # audio-only copy: no video, no landmarks
        assert sample.sources["audio"] == SHARED / "audio_speech_16k_opus" / row["path"]
        statement = {"01": "Kids are talking by the door", "02": "Dogs are sitting by the door"}[row["statement"]]
        assert sample.sources["text"] == statement
    per_actor = Counter(s.subject for s in samples)
    assert per_actor == {f"{a:02d}": 60 for a in range(1, 25)}
    per_actor_emotion = Counter((s.subject, s.label) for s in samples)
    assert {n for (_, label), n in per_actor_emotion.items() if label == 0} == {4}
    assert {n for (_, label), n in per_actor_emotion.items() if label != 0} == {8}


@needs_shared
def test_check_of_the_real_copy(real: RAVDESS) -> None:
    report = real.check()
    assert report.ok, report.problems
    assert report.counts["recordings"] == 1440 and report.counts["audio"] == 1440
    assert report.counts["video"] == 0 and report.counts["actors"] == 24
    assert report.counts["emotion_neutral"] == 96
    assert all(report.counts[f"emotion_{name}"] == 192 for name in EMOTIONS[1:])


@needs_shared
def test_actor10_folds_partition_the_24_actors(real: RAVDESS) -> None:
    samples = real.samples()
    by_id = {s.id: s for s in samples}
    protocol = protocols.load("ravdess_actor10")
    folds = splits.make_splits(protocol.split, samples, real)
    assert len(folds) == 10
    tested = [{by_id[i].subject for i in fold.test} for fold in folds]
    assert sorted(a for actors in tested for a in actors) == [f"{a:02d}" for a in range(1, 25)]
    assert sorted(len(actors) for actors in tested) == [2] * 6 + [3] * 4  # array_split of 24 into 10
    for fold, actors in zip(folds, tested):
        train = {by_id[i].subject for i in fold.train}
        val = {by_id[i].subject for i in fold.val}
        assert not train & actors and not val & actors and not train & val
        assert train | val | actors == {f"{a:02d}" for a in range(1, 25)}
        assert len(fold.test) == 60 * len(actors)


@needs_shared
def test_holdout_matches_the_official_mpuc_split(real: RAVDESS) -> None:
    samples = real.samples()
    [split] = splits.make_splits(protocols.load("ravdess_actor_holdout").split, samples, real)
    assert (len(split.train), len(split.val), len(split.test)) == (1080, 180, 180)
    by_id = {s.id: s for s in samples}
    assert {by_id[i].subject for i in split.test} == {"01", "04", "21"}
    assert {by_id[i].subject for i in split.val} == {"08", "09", "20"}


@needs_shared
def test_real_audio_decodes_to_the_manifest_lengths(real: RAVDESS, manifest: dict) -> None:
    chosen = [s for s in real.samples() if s.id in ("01-01-01-01-01-01", "01-05-02-02-01-12", "01-08-02-02-02-24")]
    assert len(chosen) == 3
    logmel = get_transform(TransformSpec("audio_logmel", {"num_mel_bins": 64, "max_frames": 300}))
    for sample in chosen:
        clip = read_audio(sample.sources["audio"])
        row = manifest[sample.id]
        assert clip.sample_rate == 16000
        assert len(clip.samples) == int(row["num_samples_16k"])
        assert 0.01 < float(np.abs(clip.samples).max()) <= 1.0
        feats = logmel.apply(sample.sources["audio"])
        # 25 ms frames every 10 ms: floor((S - 400) / 160) + 1 real frames, at least 2.9 s of speech
        assert feats.shape == (300, 64) and np.isfinite(feats).all()
        assert feats[:, 10:40].std() > 1.0  # speech, not a constant signal


# ------------------------------------------------------------------------------ fixtures


def _tone(seconds: float = 0.5, rate: int = 16000) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (0.3 * np.sin(2 * np.pi * 220.0 * t)).astype(np.float32)


def _frames(count: int = 4) -> np.ndarray:
    return np.random.default_rng(0).integers(0, 255, (count, 16, 16, 3), dtype=np.uint8)


def _landmark_csv(path: Path, rows: int = 3) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    header = ["frame", " face_id", " timestamp"] + [f" x_{i}" for i in range(68)] + [f" y_{i}" for i in range(68)]
    lines = [",".join(header)]
    for r in range(rows):
        lines.append(",".join([str(r + 1), "0", f"{r / 30:.3f}"] + [f"{100 + i + r:.1f}" for i in range(68)]
                              + [f"{200 + i:.1f}" for i in range(68)]))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _tree(root: Path) -> None:
    """One recording (angry, strong, statement 1, repetition 1, actor 01) in all three releases."""
    write_wav(root / "Audio_Speech_Actors_01-24" / "Actor_01" / "03-01-05-02-01-01-01.wav", _tone(), 16000)
    video = root / "Video_Speech_Actor_01" / "Actor_01"
    write_video(video / "01-01-05-02-01-01-01.mp4", _frames(), 8.0, audio=_tone(), sample_rate=16000)
    write_video(video / "02-01-05-02-01-01-01.mp4", _frames(), 8.0)
    _landmark_csv(root / "FacialTracking_Actors_01-24" / "Actor_01" / "01-01-05-02-01-01-01.csv")
    # a second recording with audio only (neutral, statement 2, repetition 2, actor 02)
    write_wav(root / "Audio_Speech_Actors_01-24" / "Actor_02" / "03-01-01-01-02-02-02.wav", _tone(), 16000)


def test_copies_of_one_recording_become_one_sample_with_every_source(tmp_path: Path) -> None:
    _tree(tmp_path)
    second, first = RAVDESS(tmp_path).samples()  # sorted by key: emotion 01 before 05
    assert first.id == first.group == "01-05-02-01-01-01"
    assert (first.label, first.subject, EMOTIONS[first.label]) == (4, "01", "angry")
    assert first.meta == {"emotion": "angry", "intensity": "strong", "statement": 1, "repetition": 1, "sex": "male"}
    assert set(first.sources) == {"audio", "video", "landmarks", "text"}
    assert first.sources["video"].name == "01-01-05-02-01-01-01.mp4"  # the audio-visual copy is preferred
    assert first.sources["landmarks"].name == "01-01-05-02-01-01-01.csv"
    assert first.sources["text"] == "Kids are talking by the door"
    assert read_video(first.sources["video"]).num_frames == 4
    assert read_audio(first.sources["audio"]).sample_rate == 16000
    landmarks = get_transform(TransformSpec("landmarks_csv", {"num_frames": 2})).apply(first.sources["landmarks"])
    assert landmarks.shape == (2, 136)
    assert (second.id, second.label, second.subject) == ("01-01-01-02-02-02", 0, "02")
    assert set(second.sources) == {"audio", "text"} and second.sources["text"] == "Dogs are sitting by the door"


def test_video_only_copy_is_used_when_the_audio_visual_one_is_absent(tmp_path: Path) -> None:
    write_video(tmp_path / "Actor_03" / "02-01-03-01-01-02-03.mp4", _frames(), 8.0)
    [sample] = RAVDESS(tmp_path).samples()
    assert sample.id == "01-03-01-01-02-03" and set(sample.sources) == {"video", "text"}
    assert sample.sources["video"].name.startswith("02-")


def test_song_files_are_skipped_and_counted(tmp_path: Path) -> None:
    write_wav(tmp_path / "Actor_01" / "03-02-03-01-01-01-01.wav", _tone(), 16000)
    write_wav(tmp_path / "Actor_01" / "03-01-03-01-01-01-01.wav", _tone(), 16000)
    adapter = RAVDESS(tmp_path)
    assert [s.id for s in adapter.samples()] == ["01-03-01-01-01-01"]
    assert adapter.check().counts["song_files_skipped"] == 1


@pytest.mark.parametrize(("name", "reason"), [
    ("03-01-09-01-01-01-01.wav", "emotion 09 is not 01..08"),
    ("03-01-01-02-01-01-01.wav", "neutral (emotion 01) has no strong intensity 02"),
    ("03-01-05-01-01-01-02.wav", "actor 02 is not the actor of its folder Actor_01"),
    ("03-01-05-01-03-01-01.wav", "statement 03 is not 01 or 02"),
    ("03-01-05-01-01-01-01.mp4", "modality 03 does not go with a .mp4 file"),
    ("04-01-05-01-01-01-01.mp4", "modality 04 is not 01, 02 or 03"),
    ("angry_take1.wav", "expected a name MM-VV-EE-II-SS-RR-AA"),
])
def test_a_name_that_breaks_the_convention_is_named(tmp_path: Path, name: str, reason: str) -> None:
    write_wav(tmp_path / "Actor_01" / "03-01-05-01-01-01-01.wav", _tone(), 16000)
    bad = tmp_path / "Actor_01" / name
    bad.write_bytes(b"x")
    with pytest.raises(DataError) as error:
        RAVDESS(tmp_path).samples()
    assert str(bad) in str(error.value) and reason in str(error.value)
    report = RAVDESS(tmp_path).check()
    assert any(str(bad) in p and reason in p for p in report.problems)


def test_two_audio_files_for_one_recording_are_refused(tmp_path: Path) -> None:
    first = tmp_path / "wav" / "Actor_01" / "03-01-05-01-01-01-01.wav"
    second = tmp_path / "opus" / "Actor_01" / "03-01-05-01-01-01-01.wav"
    write_wav(first, _tone(), 16000)
    write_wav(second, _tone(), 16000)
    with pytest.raises(DataError, match="second audio file") as error:
        RAVDESS(tmp_path).samples()
    assert str(first) in str(error.value) and str(second) in str(error.value)


def test_files_outside_actor_folders_and_other_suffixes_are_ignored(tmp_path: Path) -> None:
    write_wav(tmp_path / "03-01-05-01-01-01-01.wav", _tone(), 16000)  # not in an Actor_NN folder
    (tmp_path / "Actor_01").mkdir()
    (tmp_path / "Actor_01" / "README.txt").write_text("notes")
    (tmp_path / "Actor_01" / "._03-01-05-01-01-01-01.wav").write_bytes(b"\0")  # macOS resource fork
    with pytest.raises(DataError, match="no RAVDESS speech files"):
        RAVDESS(tmp_path).samples()


def test_check_lists_missing_recordings_partial_modalities_and_empty_files(tmp_path: Path) -> None:
    _tree(tmp_path)
    (tmp_path / "Actor_02").mkdir()
    (tmp_path / "Actor_02" / "03-01-02-01-01-01-02.opus").write_bytes(b"")
    report = RAVDESS(tmp_path).check()
    assert report.counts["recordings"] == 3 and report.counts["video"] == 1 and report.counts["audio"] == 3
    assert any("03-01-02-01-01-01-02.opus: empty audio file" in p for p in report.problems)
    assert any("1437 of the 1440 RAVDESS speech recordings have no file" in p for p in report.problems)
    assert any("2 recordings have no video file while 1 do" in p for p in report.problems)
    assert any("2 recordings have no landmarks file while 1 do" in p for p in report.problems)


def test_expected_keys_are_24_actors_times_60() -> None:
    keys = expected_keys()
    assert len(keys) == len(set(keys)) == 1440
    assert Counter(k.split("-")[1] for k in keys) == {"01": 96, **{f"{e:02d}": 192 for e in range(2, 9)}}
