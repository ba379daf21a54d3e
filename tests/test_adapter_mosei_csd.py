"""CMU-MOSEI adapter on CMU-MultimodalSDK computational sequences (.csd, HDF5) written here with h5py.

The files follow the SDK's own writer (``mmsdk/mmdatasdk/computational_sequence/file_ops.py``
``write_CSD``): one top-level group named after the sequence's root name, ``data/<video_id>/``
with datasets ``features`` and ``intervals``, and ``metadata/<key>`` one-element string datasets
holding JSON. The same content is also written, independently, in the plain layout
(``labels.csv``, ``words/<video>.csv``) and both must give the same samples.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bench.data import csd
from bench.data.adapters import mosei_convert
from bench.data.adapters.mosei import LABELS_CSD, WORDS_CSD, MOSEI
from bench.data.media import write_video
from bench.errors import ConfigError, DataError
from shared_data import shared_data

h5py = pytest.importorskip("h5py")


FOLD_IDS = {"train": ["-3g5yACwYnA", "81406"], "valid": ["_0efYOjQYRc"], "test": ["zv0Jl4TIQDc"]}
# video -> rows of [start, end, sentiment, happy, sad, anger, surprise, disgust, fear]
LABELS: dict[str, list[list[float]]] = {
    "zv0Jl4TIQDc": [[56.852, 60.845, 1 / 3, 2 / 3, 0, 2 / 3, 0, 0, 0]],
    "-3g5yACwYnA": [[10.5, 14.2, 1.0, 1 / 3, 0, 2 / 3, 1.0, 0, 7 / 3], [20.0, 25.0, -0.5, 0, 0, 0, 0, 0, 0],
                    [30.0, 31.0, 0, 0, 0, 0, 0, 0, 0]],
    "notInAnyFold": [[0, 1, 0, 1, 0, 0, 0, 0, 0]],
    "81406": [[-0.41768707483, 3.0, 0, 3, 0, 0, 0, 4 / 3, 0]],
    "_0efYOjQYRc": [[1, 2, 2.5, 0, 1, 0, 0, 0, 0]],
}
WORDS: dict[str, list[tuple[float, float, str]]] = {
    "-3g5yACwYnA": [(10.0, 10.4, "before"), (10.6, 11.0, "we"), (11.0, 11.2, "sp"), (11.2, 11.8, "speak"),
                    (11.8, 12.4, "spanish"), (14.0, 14.5, "after"), (20.5, 21.0, "caf\u00e9")],
    "zv0Jl4TIQDc": [(57.0, 57.5, "sp"), (57.5, 58.0, "okay")],
    "81406": [],
}
SDK_ORDER = sorted(LABELS)
"""h5py iterates a group's links in name order (the order the SDK's read_CSD gets)."""


def _metadata(group: Any, root_name: str, description: str, dimensions: list[str]) -> None:
    meta = {"root name": root_name, "computational sequence description": description,
            "dimension names": dimensions, "computational sequence version": "1.0", "alignment compatible": True,
            "dataset name": "CMU-MOSEI", "dataset version": "1.0", "creator": "bench tests", "contact": "none",
            "featureset bib citation": "", "dataset bib citation": ""}
    for key, value in meta.items():
        dataset = group.create_dataset(key, (1,), dtype=h5py.special_dtype(vlen=str))
        dataset[0] = json.dumps(value)


def write_sequence(path: Path, root_name: str, data: dict[str, tuple[np.ndarray, np.ndarray]],
                   dimensions: list[str]) -> Path:
    """A .csd in the SDK's structure; videos are created in the given (not necessarily sorted) order."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, "w") as handle:
        root = handle.create_group(root_name)
        group = root.create_group("data")
        for video, (features, intervals) in data.items():
            entry = group.create_group(video)
            entry.create_dataset("features", data=features, compression="gzip", compression_opts=9)
            entry.create_dataset("intervals", data=intervals, compression="gzip", compression_opts=9)
        _metadata(root.create_group("metadata"), root_name, f"{root_name} of CMU-MOSEI", dimensions)
    return path


def _label_arrays(labels: dict[str, list[list[float]]]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    return {v: (np.array([r[2:] for r in rows], dtype=np.float64).reshape(-1, 7),
                np.array([r[:2] for r in rows], dtype=np.float64).reshape(-1, 2)) for v, rows in labels.items()}


def _word_arrays(words: dict[str, list[tuple[float, float, str]]]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    return {v: (np.array([[w.encode()] for _, _, w in items], dtype="S").reshape(-1, 1),
                np.array([[s, e] for s, e, _ in items], dtype=np.float64).reshape(-1, 2))
            for v, items in words.items()}


def _folds(root: Path, folds: dict[str, list[str]] = FOLD_IDS) -> None:
    (root / "standard_folds").mkdir(parents=True, exist_ok=True)
    for fold, videos in folds.items():
        (root / "standard_folds" / f"standard_{fold}.txt").write_text("\n".join(videos) + "\n")


def csd_tree(root: Path, labels: dict[str, list[list[float]]] = LABELS,
             words: dict[str, list[tuple[float, float, str]]] | None = WORDS) -> Path:
    """Fold lists plus the two SDK sequences (words omitted when ``words`` is None)."""
    _folds(root)
    write_sequence(root / LABELS_CSD, "All Labels", _label_arrays(labels),
                   ["sentiment", "happy", "sad", "anger", "surprise", "disgust", "fear"])
    if words is not None:
        write_sequence(root / WORDS_CSD, "words", _word_arrays(words), ["word"])
    return root


def plain_tree(root: Path, labels: dict[str, list[list[float]]] = LABELS,
               words: dict[str, list[tuple[float, float, str]]] = WORDS) -> Path:
    """The same content in the plain layout, rows in the .csd's (name) order, interval = row index."""
    _folds(root)
    with (root / "labels.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["video_id", "interval", "start", "end", "sentiment", "happy", "sad", "anger", "surprise",
                         "disgust", "fear"])
        for video in sorted(labels):
            for i, row in enumerate(labels[video]):
                writer.writerow([video, i, *map(repr, map(float, row))])
    (root / "words").mkdir()
    for video, items in words.items():
        with (root / "words" / f"{video}.csv").open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(["start", "end", "word"])
            writer.writerows([repr(s), repr(e), w] for s, e, w in items)
    return root


def _view(adapter: MOSEI) -> list[tuple[Any, ...]]:
    """Everything of each sample that does not depend on which layout or root it came from."""
    out = []
    for s in adapter.samples():
        meta = {k: v for k, v in s.meta.items() if k not in ("labels_from", "words_from")}
        sources = {k: (v.relative_to(adapter.root) if isinstance(v, Path) else v) for k, v in s.sources.items()}
        out.append((s.id, s.label, sources, s.group, s.subject, sorted(meta.items())))
    return out


# ------------------------------------------------------------------------------- equal content


@pytest.mark.parametrize("options", [{}, {"presence": "ge1"}, {"text_rule": "conclugen"}, {"conclugen_skips": True}])
def test_csd_and_plain_layouts_give_the_same_samples(tmp_path: Path, options: dict[str, Any]) -> None:
    from_csd = MOSEI(csd_tree(tmp_path / "csd"), **options)
    from_csv = MOSEI(plain_tree(tmp_path / "csv"), **options)
    assert from_csd.read_from == {"labels": ("csd", from_csd.root / LABELS_CSD),
                                  "words": ("csd", from_csd.root / WORDS_CSD)}
    assert from_csv.read_from == {"labels": ("csv", from_csv.root / "labels.csv"),
                                  "words": ("csv", from_csv.root / "words")}
    assert _view(from_csd) == _view(from_csv)
    assert from_csd.official_split() == from_csv.official_split()
    assert {(s.meta["labels_from"], s.meta["words_from"]) for s in from_csd.samples()} == {("csd", "csd")}
    assert {(s.meta["labels_from"], s.meta["words_from"]) for s in from_csv.samples()} == {("csv", "csv")}


def test_csd_samples_ids_texts_and_order(tmp_path: Path) -> None:
    adapter = MOSEI(csd_tree(tmp_path / "mosei"))
    samples = adapter.samples()
    # name order of the .csd's videos, interval = 0-based row index; notInAnyFold is not a sample
    assert [s.id for s in samples] == ["-3g5yACwYnA_0", "-3g5yACwYnA_1", "-3g5yACwYnA_2", "81406_0",
                                       "_0efYOjQYRc_0", "zv0Jl4TIQDc_0"]
    assert samples[0].label == (1.0, 0.0, 1.0, 1.0, 0.0, 1.0)
    assert samples[0].meta["intensities"] == (1 / 3, 0.0, 2 / 3, 1.0, 0.0, 7 / 3)
    assert (samples[0].meta["start"], samples[0].meta["end"], samples[0].meta["sentiment"]) == (10.5, 14.2, 1.0)
    assert samples[0].sources["text"] == "we speak spanish"
    assert samples[1].sources["text"] == "caf\u00e9" and samples[2].sources["text"] == ""
    assert samples[3].sources["text"] == "" and samples[3].meta["start"] == -0.41768707483
    assert samples[4].sources["text"] == ""  # video absent from the words sequence
    assert samples[5].sources["text"] == "okay"
    assert MOSEI(adapter.root, text_rule="conclugen").samples()[0].sources["text"] == "we  eak anish"
    assert MOSEI(adapter.root, presence="ge1").samples()[0].label == (0.0, 0.0, 0.0, 1.0, 0.0, 1.0)
    split = adapter.official_split()
    assert split.train == ("-3g5yACwYnA_0", "-3g5yACwYnA_1", "-3g5yACwYnA_2", "81406_0")
    assert (split.val, split.test) == (("_0efYOjQYRc_0",), ("zv0Jl4TIQDc_0",))


def test_read_sequence_returns_root_name_and_sdk_arrays(tmp_path: Path) -> None:
    path = csd_tree(tmp_path / "mosei") / WORDS_CSD
    root, data = csd.read_sequence(path, 1, words=True)
    assert root == "words" and list(data) == ["-3g5yACwYnA", "81406", "zv0Jl4TIQDc"]
    features, intervals = data["zv0Jl4TIQDc"]
    assert features.tolist() == [["sp"], ["okay"]] and intervals.tolist() == [[57.0, 57.5], [57.5, 58.0]]
    assert data["81406"][0].shape == (0, 1)
    root, data = csd.read_sequence(tmp_path / "mosei" / LABELS_CSD, 7, videos={"81406", "absent"})
    assert root == "All Labels" and list(data) == ["81406"]


def test_vlen_string_words_are_read_too(tmp_path: Path) -> None:
    root = csd_tree(tmp_path / "mosei", words=None)
    data = {v: (np.array([[w] for _, _, w in items], dtype=h5py.string_dtype()).reshape(-1, 1),
                np.array([[s, e] for s, e, _ in items], dtype=np.float32).reshape(-1, 2))
            for v, items in WORDS.items()}
    write_sequence(root / WORDS_CSD, "words", data, ["word"])
    assert MOSEI(root).samples()[0].sources["text"] == "we speak spanish"


# ------------------------------------------------------------------------------ source choice


def test_auto_prefers_csd_and_the_options_choose(tmp_path: Path) -> None:
    root = csd_tree(tmp_path / "mosei")
    changed = {v: [[*r[:3], 0, 0, 0, 0, 0, 0] for r in rows] for v, rows in LABELS.items()}
    plain_tree(root, changed, {"-3g5yACwYnA": [(10.6, 11.0, "plain")]})
    assert MOSEI(root).samples()[0].label == (1.0, 0.0, 1.0, 1.0, 0.0, 1.0)
    assert MOSEI(root).samples()[0].sources["text"] == "we speak spanish"
    csv_labels = MOSEI(root, labels_from="csv")
    assert csv_labels.samples()[0].label == (0.0,) * 6 and csv_labels.samples()[0].sources["text"] == "we speak spanish"
    csv_words = MOSEI(root, words_from="csv").samples()[0]
    assert csv_words.sources["text"] == "plain" and csv_words.meta["words_from"] == "csv"
    assert csv_words.meta["labels_from"] == "csd"


def test_without_words_there_is_no_text_and_explicit_sources_are_required(tmp_path: Path) -> None:
    root = csd_tree(tmp_path / "mosei", words=None)
    assert MOSEI(root).read_from["words"] is None
    assert "text" not in MOSEI(root).samples()[0].sources
    assert MOSEI(root).samples()[0].meta["words_from"] is None
    with pytest.raises(DataError, match=r"CMU_MOSEI_TimestampedWords.csd: required file not found"):
        MOSEI(root, words_from="csd").samples()
    with pytest.raises(DataError, match=r"words: words folder not found"):
        MOSEI(root, words_from="csv").samples()
    with pytest.raises(DataError, match=r"labels.csv: required file not found"):
        MOSEI(root, labels_from="csv").samples()
    (root / LABELS_CSD).unlink()
    with pytest.raises(DataError, match=r"CMU_MOSEI_Labels.csd: required file not found"):
        MOSEI(root, labels_from="csd").samples()
    with pytest.raises(ConfigError, match=r"labels_from must be 'auto', 'csd' or 'csv', got 'hdf5'"):
        MOSEI(root, labels_from="hdf5")  # type: ignore[arg-type]


def test_missing_h5py_is_a_clear_config_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = csd_tree(tmp_path / "mosei")
    monkeypatch.setitem(__import__("sys").modules, "h5py", None)
    with pytest.raises(ConfigError, match=r"needs h5py"):
        MOSEI(root).samples()


def test_check_names_videos_missing_from_the_words_sequence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = csd_tree(tmp_path / "mosei")
    for k, video in enumerate(["-3g5yACwYnA_0", "-3g5yACwYnA_1", "-3g5yACwYnA_2", "81406_0", "_0efYOjQYRc_0",
                               "zv0Jl4TIQDc_0"]):
        frames = np.stack([np.full((16, 16, 3), (30 * k + 20 * j) % 256, dtype=np.uint8) for j in range(3)])
        tone = (0.2 * np.sin(2 * np.pi * 220 * np.arange(4000) / 16000)).astype(np.float32)
        write_video(root / "segments" / f"{video}.mp4", frames, 8.0, audio=tone, sample_rate=16000)
    monkeypatch.setattr(MOSEI, "expected_counts", {"train videos": 2, "valid videos": 1, "test videos": 1})
    report = MOSEI(root).check()
    assert report.counts["train segments"] == 4 and report.counts["valid videos without labels"] == 0
    assert report.counts[f"label rows in {LABELS_CSD}"] == 7
    assert report.counts[f"labelled videos with words in {WORDS_CSD}"] == 3
    assert report.problems == (f"{root / WORDS_CSD}: words of video _0efYOjQYRc are missing",)


# --------------------------------------------------------------------------------- conversion


def test_to_plain_round_trips_and_refuses_to_overwrite(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = csd_tree(tmp_path / "mosei")
    out = tmp_path / "plain"
    _folds(out)
    written = mosei_convert.to_plain(root, out)
    assert sorted(p.relative_to(out).as_posix() for p in written) == [
        "labels.csv", "words/-3g5yACwYnA.csv", "words/81406.csv", "words/zv0Jl4TIQDc.csv"]
    assert _view(MOSEI(out)) == _view(MOSEI(root))
    assert not [p for p in out.rglob(".*.tmp")]
    with pytest.raises(DataError, match=r"already exist"):
        mosei_convert.to_plain(root, out)
    assert mosei_convert.main(["--to-plain", str(root), "--out", str(out), "--force"]) == 0
    assert "wrote 4 files" in capsys.readouterr().out
    assert mosei_convert.main(["--to-plain", str(root), "--out", str(out)]) == 1
    assert "already exist" in capsys.readouterr().err


# ---------------------------------------------------------------------------------- bad input


def _broken_labels(path: Path, case: str) -> None:
    good = _label_arrays(LABELS)
    if case == "not hdf5":
        path.write_text("video_id,interval\n")
        return
    if case == "truncated":
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
        return
    with h5py.File(path, "w") as handle:
        if case == "two roots":
            handle.create_group("All Labels").create_group("data")
            handle.create_group("words").create_group("data")
            return
        root = handle.create_group("All Labels")
        _metadata(root.create_group("metadata"), "All Labels", "labels", [])
        if case == "no data":
            return
        data = root.create_group("data")
        for video, (features, intervals) in good.items():
            entry = data.create_group(video)
            if video == "81406":
                features, intervals = {
                    "no features": (None, intervals),
                    "no intervals": (features, None),
                    "width 6": (features[:, 1:], intervals),
                    "1-d features": (features[0], intervals),
                    "intervals width 3": (features, np.hstack([intervals, intervals[:, :1]])),
                    "lengths differ": (np.vstack([features, features]), intervals),
                    "nan feature": (np.where(np.arange(7) == 2, np.nan, features), intervals),
                    "inf interval": (features, np.array([[0.0, np.inf]])),
                    "string features": (features.astype("S8"), intervals),
                }[case]
            if features is not None:
                entry.create_dataset("features", data=features)
            if intervals is not None:
                entry.create_dataset("intervals", data=intervals)


@pytest.mark.parametrize(("case", "message"), [
    ("not hdf5", r"CMU_MOSEI_Labels.csd: not an HDF5 file; expected a CMU-MultimodalSDK computational sequence"),
    ("truncated", r"CMU_MOSEI_Labels.csd: cannot open the HDF5 file \(.*truncated file"),
    ("two roots", r"CMU_MOSEI_Labels.csd: expected one top-level group named after the sequence .*"
                  r"found \['All Labels', 'words'\]"),
    ("no data", r"CMU_MOSEI_Labels.csd: group 'All Labels' has no 'data' group; expected All Labels/data/<video_id>/"),
    ("no features", r"CMU_MOSEI_Labels.csd, video 81406: no 'features' dataset; expected features \[N, 7\]"),
    ("no intervals", r"CMU_MOSEI_Labels.csd, video 81406: no 'intervals' dataset; expected .*intervals \[N, 2\]"),
    ("width 6", r"CMU_MOSEI_Labels.csd, video 81406: features have shape \[1, 6\]; expected features \[N, 7\]"),
    ("1-d features", r"CMU_MOSEI_Labels.csd, video 81406: features have shape \[7\]; expected features \[N, 7\]"),
    ("intervals width 3", r"CMU_MOSEI_Labels.csd, video 81406: intervals have shape \[1, 3\]; expected .*"
                          r"intervals \[N, 2\]"),
    ("lengths differ", r"CMU_MOSEI_Labels.csd, video 81406: 2 feature rows but 1 intervals; expected"),
    ("nan feature", r"CMU_MOSEI_Labels.csd, video 81406, interval 0: features \[0.0, 3.0, nan, .*\] hold a "
                    r"non-finite number; expected features \[N, 7\] of numbers"),
    ("inf interval", r"CMU_MOSEI_Labels.csd, video 81406, interval 0: intervals \[0.0, inf\] hold a non-finite"),
    ("string features", r"CMU_MOSEI_Labels.csd, video 81406: features have dtype \|S8; expected features \[N, 7\] "
                        r"of numbers"),
])
def test_bad_labels_sequence_is_one_data_error(tmp_path: Path, case: str, message: str) -> None:
    root = csd_tree(tmp_path / "mosei")
    _broken_labels(root / LABELS_CSD, case)
    with pytest.raises(DataError, match=message):
        MOSEI(root).samples()


@pytest.mark.parametrize(("mutate", "message"), [
    (lambda f, i: (np.hstack([f, f]), i),
     r"video zv0Jl4TIQDc: features have shape \[2, 2\]; expected features \[N, 1\] of byte-string words"),
    (lambda f, i: (np.ones((2, 1)), i),
     r"video zv0Jl4TIQDc: features have dtype float64; expected features \[N, 1\] of byte-string words"),
    (lambda f, i: (f, np.array([[57.0, np.nan], [57.5, 58.0]])),
     r"video zv0Jl4TIQDc, interval 0: intervals \[57.0, nan\] hold a non-finite number"),
    (lambda f, i: (np.array([[b"\xff\xfe"], [b"ok"]]), i), r"video zv0Jl4TIQDc, interval 0: word .* is not UTF-8"),
], ids=["width 2", "numeric words", "nan interval", "not utf-8"])
def test_bad_words_sequence_names_file_and_video(tmp_path: Path, mutate: Any, message: str) -> None:
    root = csd_tree(tmp_path / "mosei", words=None)
    arrays = _word_arrays(WORDS)
    arrays["zv0Jl4TIQDc"] = mutate(*arrays["zv0Jl4TIQDc"])
    write_sequence(root / WORDS_CSD, "words", arrays, ["word"])
    with pytest.raises(DataError, match=r"CMU_MOSEI_TimestampedWords.csd, " + message):
        MOSEI(root).samples()


def test_label_values_out_of_range_in_a_csd_name_video_and_interval(tmp_path: Path) -> None:
    labels = {**LABELS, "81406": [[0, 1, 0, 0, 0, 0, 0, 0, 0], [5, 6, 0, 0, 3.5, 0, 0, 0, 0]]}
    with pytest.raises(DataError, match=r"CMU_MOSEI_Labels.csd, video 81406, interval 1: intensity of sad is outside"):
        MOSEI(csd_tree(tmp_path / "a", labels)).samples()
    labels = {**LABELS, "81406": [[6, 5, 0, 0, 0, 0, 0, 0, 0]]}
    with pytest.raises(DataError, match=r"CMU_MOSEI_Labels.csd, video 81406, interval 0: end 5.0 is before start"):
        MOSEI(csd_tree(tmp_path / "b", labels)).samples()
    labels = {**LABELS, "81406": [[0, 1, -3.5, 0, 0, 0, 0, 0, 0]]}
    with pytest.raises(DataError, match=r"CMU_MOSEI_Labels.csd, video 81406, interval 0: sentiment -3.5 is outside"):
        MOSEI(csd_tree(tmp_path / "c", labels)).samples()


# ------------------------------------------------------------------------ real standard folds


def test_real_standard_folds_with_csd_labels(tmp_path: Path) -> None:
    source = shared_data("cmu_mosei")
    root = tmp_path / "mosei"
    (root / "standard_folds").mkdir(parents=True)
    for name in ("standard_train.txt", "standard_valid.txt", "standard_test.txt"):
        (root / "standard_folds" / name).symlink_to(source / name)
    real = {fold: [line.strip() for line in (source / f"standard_{fold}.txt").read_text().splitlines()
                   if line.strip()] for fold in ("train", "valid", "test")}
    videos = {"train": [real["train"][0], next(v for v in real["train"] if v.isdigit())],
              "valid": [real["valid"][0]], "test": real["test"][:2]}
    labels = {v: [[0.0, 1.5, 0.5, 1, 0, 0, 0, 0, 0], [2.0, 3.0, -1, 0, 0, 0, 1 / 3, 0, 0]]
              for fold in videos.values() for v in fold}
    labels["notAStandardVideo"] = [[0, 1, 0, 1, 0, 0, 0, 0, 0]]
    write_sequence(root / LABELS_CSD, "All Labels", _label_arrays(labels), [])
    adapter = MOSEI(root)
    assert {k: len(v) for k, v in adapter.folds.items()} == {"train": 2249, "valid": 300, "test": 678}
    split = adapter.official_split()
    assert sorted(split.test) == sorted(f"{v}_{i}" for v in ["7l3BNtSE0xc", "dZFV0lyedX4"] for i in (0, 1))
    assert sorted(split.val) == [f"{real['valid'][0]}_{i}" for i in (0, 1)]
    assert sorted(split.train) == sorted(f"{v}_{i}" for v in videos["train"] for i in (0, 1))
    assert all(s.meta["labels_from"] == "csd" for s in adapter.samples())
    plain = tmp_path / "plain"
    (plain / "standard_folds").mkdir(parents=True)
    for name in ("standard_train.txt", "standard_valid.txt", "standard_test.txt"):
        (plain / "standard_folds" / name).symlink_to(source / name)
    mosei_convert.to_plain(root, plain)
    assert MOSEI(plain).official_split() == split
