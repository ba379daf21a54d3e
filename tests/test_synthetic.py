"""The synthetic benchmark: generation, layout, adapters, malformed inputs and learnability."""

from __future__ import annotations

import csv
import json
import shutil
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from bench.api import DatasetAdapter, Sample, Split
from bench.data import synthetic_generator
from bench.data.media import read_audio, read_video
from bench.data.synthetic import SyntheticClassification, SyntheticMultilabel, SyntheticValenceArousal
from bench.data.synthetic_generator import (
    CLASS_NAMES,
    GENERATOR_VERSION,
    LAYOUT,
    MULTILABEL_NAMES,
    SyntheticSpec,
    generate,
)
from bench.errors import DataError

ADAPTERS = {"classification": SyntheticClassification, "multilabel": SyntheticMultilabel, "va": SyntheticValenceArousal}


def _small(variant: str, **changes: object) -> SyntheticSpec:
    fields: dict = {"num_subjects": 5, "clips_per_subject": 8, "num_frames": 6, "size": 32} | changes
    return SyntheticSpec(variant, **fields)


@pytest.fixture(scope="module")
def roots(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("synthetic")
    return {variant: generate(base / variant, _small(variant)) for variant in ADAPTERS}


def _copy(root: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "copy"
    shutil.copytree(root, copy)
    return copy


def _edit_line(path: Path, line: int, new: str) -> None:
    lines = path.read_text().splitlines()
    lines[line - 1] = new
    path.write_text("\n".join(lines) + "\n")


# --------------------------------------------------------------------------- generation


def test_layout_and_counts(roots: dict[str, Path]) -> None:
    root = roots["classification"]
    info = json.loads((root / "SYNTHETIC.json").read_text())
    assert info["generator_version"] == GENERATOR_VERSION
    assert info["spec"]["variant"] == "classification"
    assert info["counts"] == {"clips": 40, "subjects": 5, "labels": {name: 10 for name in CLASS_NAMES}}
    ids = [row["id"] for row in csv.DictReader((root / "manifest.csv").open())]
    assert ids[0] == "s01_c001" and ids[-1] == "s05_c008" and len(ids) == 40
    for folder, suffix in (("video", ".mp4"), ("audio", ".wav"), ("landmarks", ".csv")):
        assert sorted(p.stem for p in (root / folder).iterdir()) == ids
        assert all(p.suffix == suffix for p in (root / folder).iterdir())
    names = sorted(p.name for p in (root / "splits").iterdir())
    assert names == sorted([f"fold{k}_{side}.txt" for k in range(1, 6) for side in ("train", "test")]
                           + ["train.txt", "val.txt", "test.txt"])
    assert not [p for p in root.parent.iterdir() if p.name.startswith(".")]


def test_media_files_are_real_and_consistent(roots: dict[str, Path]) -> None:
    root = roots["classification"]
    video = read_video(root / "video" / "s02_c003.mp4")
    assert video.frames.shape == (6, 32, 32, 3) and video.fps == pytest.approx(8.0)
    wav = read_audio(root / "audio" / "s02_c003.wav")
    assert wav.sample_rate == 16000 and len(wav.samples) == 16000
    assert sf.info(str(root / "audio" / "s02_c003.wav")).subtype == "PCM_16"
    track = read_audio(root / "video" / "s02_c003.mp4")
    assert len(track.samples) == 16000
    assert np.corrcoef(track.samples, wav.samples)[0, 1] > 0.95
    with (root / "landmarks" / "s02_c003.csv").open() as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["frame"] + [f"x_{i}" for i in range(68)] + [f"y_{i}" for i in range(68)]
    table = np.array(rows[1:], dtype=float)
    assert table.shape == (6, 137) and list(table[:, 0]) == list(range(6))
    x, y = table[:, 1:69], table[:, 69:]
    assert (x > 0).all() and (x < 32).all() and (y > 0).all() and (y < 32).all()
    # The standard layout: brows above eyes above nose tip above mouth above chin; jaw left to right.
    assert y[:, 17:27].mean() < y[:, 36:48].mean() < y[:, 30].mean() < y[:, 48:68].mean() < y[:, 8].mean()
    assert (x[:, 0] < x[:, 8]).all() and (x[:, 8] < x[:, 16]).all() and (x[:, 36] < x[:, 45]).all()
    # The landmarks sit on the drawn face: the inner mouth is darker than the cheek.
    frame = video.frames[0].astype(float)
    mouth = frame[int(round(y[0, 62] + y[0, 66]) // 2), int(round(x[0, 62]))]
    cheek = frame[int(round(y[0, 30])), int(round(x[0, 2] + x[0, 30]) // 2)]
    assert mouth.sum() < cheek.sum()


def test_generation_is_deterministic(tmp_path: Path) -> None:
    spec = _small("classification", clips_per_subject=2, num_frames=3)
    first, second = generate(tmp_path / "a", spec), generate(tmp_path / "b", spec)
    other = generate(tmp_path / "c", _small("classification", clips_per_subject=2, num_frames=3, seed=1))
    assert (first / "manifest.csv").read_text() == (second / "manifest.csv").read_text()
    assert (first / "manifest.csv").read_text() != (other / "manifest.csv").read_text()
    for name in ("s01_c001", "s05_c002"):
        assert (first / "landmarks" / f"{name}.csv").read_text() == (second / "landmarks" / f"{name}.csv").read_text()
        assert (first / "landmarks" / f"{name}.csv").read_text() != (other / "landmarks" / f"{name}.csv").read_text()
        a, b, c = (read_audio(root / "audio" / f"{name}.wav").samples for root in (first, second, other))
        assert np.array_equal(a, b) and not np.array_equal(a, c)
        assert np.array_equal(read_video(first / "video" / f"{name}.mp4").frames,
                              read_video(second / "video" / f"{name}.mp4").frames)
    for split in ("fold1_test", "train", "val"):
        assert (first / "splits" / f"{split}.txt").read_text() == (second / "splits" / f"{split}.txt").read_text()


def test_existing_root_is_reused_and_checked(tmp_path: Path, roots: dict[str, Path]) -> None:
    root = roots["multilabel"]
    stamp = (root / "SYNTHETIC.json").stat().st_mtime_ns
    assert generate(root, _small("multilabel")) == root
    assert (root / "SYNTHETIC.json").stat().st_mtime_ns == stamp
    with pytest.raises(DataError, match="another spec"):
        generate(root, _small("multilabel", seed=7))
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    with pytest.raises(DataError, match="not a complete synthetic dataset"):
        generate(foreign, _small("va"))
    assert [p.name for p in foreign.iterdir()] == ["notes.txt"]


def test_losing_a_generation_race_keeps_the_winner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "race"
    spec = _small("va", clips_per_subject=1, num_frames=2)
    write_all = synthetic_generator._write_all

    def competitor_finishes_first(tmp: Path, spec: SyntheticSpec) -> None:
        write_all(tmp, spec)
        monkeypatch.setattr(synthetic_generator, "_write_all", write_all)
        generate(root, spec)  # a second generator renames its copy into place first

    monkeypatch.setattr(synthetic_generator, "_write_all", competitor_finishes_first)
    assert generate(root, spec) == root
    assert SyntheticValenceArousal(root).check().ok
    assert [p.name for p in tmp_path.iterdir()] == ["race"]


def test_failed_generation_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(tmp: Path, spec: SyntheticSpec) -> None:
        (tmp / "manifest.csv").write_text("partial")
        raise KeyboardInterrupt

    monkeypatch.setattr(synthetic_generator, "_write_all", fail)
    with pytest.raises(KeyboardInterrupt):
        generate(tmp_path / "root", _small("va"))
    assert list(tmp_path.iterdir()) == []


def test_spec_validation_and_digest() -> None:
    with pytest.raises(ValueError, match="variant"):
        SyntheticSpec("regression")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="5 subjects"):
        SyntheticSpec("classification", num_subjects=4)
    with pytest.raises(ValueError, match="even"):
        SyntheticSpec("classification", size=33)
    assert SyntheticSpec("va").digest() == SyntheticSpec("va").digest()
    assert SyntheticSpec("va").digest() != SyntheticSpec("va", seed=1).digest()


def test_default_root_lives_in_the_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BENCH_CACHE", str(tmp_path))
    spec = _small("classification", clips_per_subject=1, num_frames=2)
    monkeypatch.setattr(SyntheticClassification, "default_spec", classmethod(lambda cls: spec))
    root = SyntheticClassification.default_root()
    assert root == tmp_path / "synthetic" / f"classification-v{GENERATOR_VERSION}-{spec.digest()}"
    assert len(SyntheticClassification(root).samples()) == 5
    assert SyntheticClassification.default_root() == root
    assert SyntheticSpec("classification") == SyntheticSpec("classification", 10, 24, 16, 48, 8.0, 16000, 1.0, 0)


# --------------------------------------------------------------------------- adapters


def test_classification_samples_and_balance(roots: dict[str, Path]) -> None:
    adapter = SyntheticClassification(roots["classification"])
    assert adapter.task_spec().label_names == CLASS_NAMES
    assert adapter.modalities == ("video", "audio", "text", "landmarks")
    samples = adapter.samples()
    assert len(samples) == 40 and all(isinstance(s, Sample) for s in samples)
    first = samples[0]
    assert first.id == "s01_c001" and first.subject == "s01" and first.group == "s01_c001"
    assert first.sources["video"] == roots["classification"] / "video" / "s01_c001.mp4"
    assert first.sources["audio"] == roots["classification"] / "audio" / "s01_c001.wav"
    assert first.sources["landmarks"] == roots["classification"] / "landmarks" / "s01_c001.csv"
    assert isinstance(first.sources["text"], str) and len(first.sources["text"].split()) >= 8
    per_subject = Counter((s.subject, s.label) for s in samples)
    assert set(per_subject.values()) == {2} and len(per_subject) == 5 * 4
    assert all(isinstance(s.label, int) for s in samples)
    report = adapter.check()
    assert report.ok, report.problems
    assert report.counts == {"samples": 40, "subjects": 5, "folds": 5}


def test_multilabel_samples(roots: dict[str, Path]) -> None:
    adapter = SyntheticMultilabel(roots["multilabel"])
    assert adapter.task == "multilabel" and adapter.label_names == MULTILABEL_NAMES
    labels = np.array([s.label for s in adapter.samples()])
    assert labels.shape == (40, 6) and set(np.unique(labels)) <= {0.0, 1.0}
    assert (labels.sum(axis=1) >= 1).all()
    assert 0.15 < labels.mean() < 0.5
    assert adapter.check().ok


def test_va_samples(roots: dict[str, Path]) -> None:
    adapter = SyntheticValenceArousal(roots["va"])
    assert adapter.task == "regression" and adapter.label_names == ("valence", "arousal")
    labels = np.array([s.label for s in adapter.samples()])
    assert labels.shape == (40, 2) and (np.abs(labels) <= 1).all()
    assert np.allclose(labels, np.round(labels, 3))
    assert labels.std(axis=0).min() > 0.3
    assert adapter.check().ok


@pytest.mark.parametrize("variant", list(ADAPTERS))
def test_splits_are_subject_disjoint_and_cover(roots: dict[str, Path], variant: str) -> None:
    adapter = ADAPTERS[variant](roots[variant])
    subject = {s.id: s.subject for s in adapter.samples()}
    folds = adapter.official_folds()
    assert [f.name for f in folds] == [f"fold{k}" for k in range(1, 6)]
    tested: list[str] = []
    for fold in folds:
        assert isinstance(fold, Split)
        assert {subject[i] for i in fold.train}.isdisjoint({subject[i] for i in fold.test})
        assert sorted(fold.train + fold.test) == sorted(subject)
        tested += fold.test
    assert sorted(tested) == sorted(subject)  # every sample is tested exactly once
    split = adapter.official_split()
    sides = [{subject[i] for i in side} for side in (split.train, split.val, split.test)]
    assert all(sides) and sum(len(s) for s in sides) == 5 and len(set.union(*sides)) == 5
    assert sorted(split.train + split.val + split.test) == sorted(subject)


# --------------------------------------------------------------------------- malformed roots


def test_missing_or_incomplete_root(tmp_path: Path, roots: dict[str, Path]) -> None:
    missing = tmp_path / "absent"
    with pytest.raises(DataError) as info:
        SyntheticClassification(missing).samples()
    assert str(missing) in str(info.value) and "manifest.csv" in str(info.value)
    assert SyntheticClassification.layout == LAYOUT and "splits/fold{1..5}_{train,test}.txt" in LAYOUT
    partial = _copy(roots["classification"], tmp_path)
    (partial / "SYNTHETIC.json").unlink()
    with pytest.raises(DataError, match="SYNTHETIC.json missing"):
        SyntheticClassification(partial).official_folds()
    with pytest.raises(DataError, match="'classification' synthetic variant"):
        SyntheticMultilabel(roots["classification"]).samples()


@pytest.mark.parametrize(
    ("variant", "line", "row", "message"),
    [
        ("classification", 1, "id,subject,text", "header lacks column(s) label"),
        ("classification", 4, "s01_c003,s01,joyful,some words", "unknown class 'joyful'"),
        ("classification", 3, "s01_c001,s01,happy,some words", "id 's01_c001' repeats line 2"),
        ("classification", 5, "s01_c004,s01", "expected 4 fields"),
        ("multilabel", 6, "s01_c005,s01,1,0,2,0,0,0,words", "column 'anger' is '2', expected 0 or 1"),
        ("va", 7, "s01_c006,s01,0.5,high,words", "column 'arousal' is 'high', expected a finite number"),
    ],
)
def test_malformed_manifest(tmp_path: Path, roots: dict[str, Path], variant: str, line: int, row: str,
                            message: str) -> None:
    root = _copy(roots[variant], tmp_path)
    _edit_line(root / "manifest.csv", line, row)
    with pytest.raises(DataError) as info:
        ADAPTERS[variant](root).samples()
    assert f"{root / 'manifest.csv'}:{line}:" in str(info.value)
    assert message in str(info.value)


def test_malformed_split_files(tmp_path: Path, roots: dict[str, Path]) -> None:
    root = _copy(roots["classification"], tmp_path)
    adapter = SyntheticClassification(root)
    test_file = root / "splits" / "fold2_test.txt"
    original = test_file.read_text()
    first = original.splitlines()[0]
    _edit_line(test_file, 3, "s09_c001")
    with pytest.raises(DataError) as info:
        adapter.official_folds()
    assert f"{test_file}:3: unknown sample id 's09_c001'" in str(info.value)
    test_file.write_text(original + first + "\n")
    with pytest.raises(DataError) as info:
        adapter.official_folds()
    assert f"{test_file}:{len(original.splitlines()) + 1}: sample id {first!r} repeats line 1" in str(info.value)
    val_file = root / "splits" / "val.txt"
    val_file.unlink()
    with pytest.raises(DataError, match="val.txt: split file missing"):
        adapter.official_split()
    report = adapter.check()
    assert not report.ok and any("fold2_test.txt" in p for p in report.problems)


def test_check_reports_missing_files_and_counts(tmp_path: Path, roots: dict[str, Path]) -> None:
    root = _copy(roots["multilabel"], tmp_path)
    (root / "audio" / "s03_c002.wav").unlink()
    info = json.loads((root / "SYNTHETIC.json").read_text())
    info["counts"]["clips"] = 41
    (root / "SYNTHETIC.json").write_text(json.dumps(info))
    problems = SyntheticMultilabel(root).check().problems
    assert any("s03_c002.wav" in p and "audio" in p for p in problems)
    assert any("40 samples, SYNTHETIC.json says 41" in p for p in problems)


# --------------------------------------------------------------------------- learnability


def _landmark_features(path: Path) -> np.ndarray:
    table = np.loadtxt(path, delimiter=",", skiprows=1)[:, 1:]
    xy = np.stack([table[:, :68], table[:, 68:]], axis=-1)
    centre = xy.mean(axis=1, keepdims=True)
    scale = xy.std(axis=(1, 2), keepdims=True)
    return ((xy - centre) / scale).mean(axis=0).ravel()


def _audio_features(path: Path) -> np.ndarray:
    clip = read_audio(path)
    power = np.abs(np.fft.rfft(clip.samples)) ** 2
    freqs = np.fft.rfftfreq(len(clip.samples), 1 / clip.sample_rate)
    edges = np.geomspace(60, clip.sample_rate / 2, 33)
    return np.log([power[(freqs >= lo) & (freqs < hi)].sum() + 1e-9 for lo, hi in zip(edges[:-1], edges[1:])])


def _video_features(path: Path) -> np.ndarray:
    mean = read_video(path).frames.astype(np.float32).mean(axis=0)
    h, w, _ = mean.shape
    return mean.reshape(h // 4, 4, w // 4, 4, 3).mean(axis=(1, 3)).ravel()


def _cross_validated(adapter: DatasetAdapter, modality: str, model: object) -> tuple[np.ndarray, np.ndarray]:
    """Out-of-fold predictions over the official subject-disjoint folds."""
    samples = adapter.samples()
    index = {s.id: i for i, s in enumerate(samples)}
    labels = np.array([s.label for s in samples])
    if modality == "text":
        texts = [str(s.sources["text"]) for s in samples]
    else:
        extract = {"landmarks": _landmark_features, "audio": _audio_features, "video": _video_features}[modality]
        features = np.stack([extract(Path(s.sources[modality])) for s in samples])
    predictions = np.zeros(labels.shape)
    for fold in adapter.official_folds():
        train, test = [index[i] for i in fold.train], [index[i] for i in fold.test]
        if modality == "text":
            words = CountVectorizer().fit([texts[i] for i in train])
            x_train, x_test = words.transform([texts[i] for i in train]), words.transform([texts[i] for i in test])
        else:
            x_train, x_test = features[train], features[test]
        fitted = make_pipeline(StandardScaler(with_mean=modality != "text"), model).fit(x_train, labels[train])
        predictions[test] = fitted.predict(x_test)
    return predictions, labels


@pytest.fixture(scope="module")
def learnable_roots(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("learnable")
    spec = {"num_subjects": 10, "clips_per_subject": 10, "num_frames": 4}
    return {v: generate(base / v, SyntheticSpec(v, **spec)) for v in ("classification", "va")}


@pytest.mark.parametrize("modality", ["landmarks", "audio", "video", "text"])
def test_classification_is_learnable_from_each_modality(learnable_roots: dict[str, Path], modality: str) -> None:
    adapter = SyntheticClassification(learnable_roots["classification"])
    predictions, labels = _cross_validated(adapter, modality, LogisticRegression(C=0.1, max_iter=2000))
    accuracy = float((predictions == labels).mean())
    print(f"{modality}: held-out-subject accuracy {accuracy:.2f} (chance 0.25)")
    assert accuracy > 0.45


@pytest.mark.parametrize("modality", ["landmarks", "audio", "video", "text"])
def test_valence_is_learnable_from_each_modality(learnable_roots: dict[str, Path], modality: str) -> None:
    adapter = SyntheticValenceArousal(learnable_roots["va"])
    predictions, labels = _cross_validated(adapter, modality, Ridge(alpha=10.0))
    correlation = float(np.corrcoef(predictions[:, 0], labels[:, 0])[0, 1])
    print(f"{modality}: held-out-subject valence correlation {correlation:.2f}")
    assert correlation > 0.2
