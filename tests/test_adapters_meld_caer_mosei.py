"""MELD, CAER and CMU-MOSEI adapters: real annotation files (shared data) and fixture trees in the shipped layouts."""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from shared_data import shared_data

from bench.data.adapters.caer import CAER
from bench.data.adapters.meld import MELD, README_ORDER
from bench.data.adapters.mosei import MOSEI
from bench.data.media import write_video
from bench.errors import DataError
from bench.protocols import splits

SR = 16000


def _clip(path: Path, k: int) -> None:
    frames = np.stack([np.full((16, 16, 3), (30 * k + 20 * j) % 256, dtype=np.uint8) for j in range(3)])
    tone = (0.2 * np.sin(2 * np.pi * (220 + 40 * k) * np.arange(SR // 4) / SR)).astype(np.float32)
    write_video(path, frames, 8.0, audio=tone, sample_rate=SR)


# ----------------------------------------------------------------------------------- MELD, real

# Typed from ../shared/data/README.md (MELD, "Verified with pandas"): rows, dialogues, per emotion.
MELD_FACTS = {
    "train": (9989, 1038, {"neutral": 4710, "joy": 1743, "surprise": 1205, "anger": 1109, "sadness": 683,
                           "disgust": 271, "fear": 268}),
    "dev": (1109, 114, {"neutral": 470, "joy": 163, "surprise": 150, "anger": 153, "sadness": 111,
                        "disgust": 22, "fear": 40}),
    "test": (2610, 280, {"neutral": 1256, "joy": 402, "surprise": 281, "anger": 345, "sadness": 208,
                         "disgust": 68, "fear": 50}),
}


def test_meld_real_csvs_give_the_official_sizes_and_class_counts() -> None:
    root = shared_data("meld")
    adapter = MELD(root)
    samples = adapter.samples()
    by_id = {s.id: s for s in samples}
    split = adapter.official_split()
    sides = {"train": split.train, "dev": split.val, "test": split.test}
    for name, (rows, dialogues, per_class) in MELD_FACTS.items():
        ids = sides[name]
        assert len(ids) == rows
        assert len({by_id[i].group for i in ids}) == dialogues
        assert Counter(adapter.label_names[by_id[i].label] for i in ids) == per_class
    assert len(by_id) == len(samples) == 9989 + 1109 + 2610
    # Row "Sr No. 12" of train: a quoted utterance with commas and a non-ASCII apostrophe.
    row = by_id["train_dia0_utt11"]
    assert row.sources["text"] == ("All right then, we’ll have a definite answer for you on Monday, but I think "
                                   "I can say with some confidence, you’ll fit in well here.")
    assert row.subject == "The Interviewer" and adapter.label_names[row.label] == "neutral"
    assert row.sources["video"] == root / "train_splits" / "dia0_utt11.mp4"
    assert by_id["test_dia0_utt0"].sources["video"].parent == root / "output_repeated_splits_test"
    assert Counter(by_id[i].meta["sentiment"] for i in split.val) == {"neutral": 470, "negative": 406, "positive": 233}
    built = splits.make_splits({"scheme": "official"}, samples, adapter)
    assert (len(built[0].train), len(built[0].val), len(built[0].test)) == (9989, 1109, 2610)


def test_meld_label_orders_and_conclugen_drops() -> None:
    root = shared_data("meld")
    default, readme = MELD(root), MELD(root, label_order="readme")
    assert default.label_names == ("neutral", "surprise", "fear", "sadness", "joy", "disgust", "anger")
    assert readme.label_names == README_ORDER
    names = [default.label_names[s.label] for s in default.samples()]
    assert names == [readme.label_names[s.label] for s in readme.samples()]
    assert default.samples()[12].label == 1 and readme.samples()[12].label == 4  # "Really?!": surprise
    dropped = MELD(root, conclugen_drops=True)
    split = dropped.official_split()
    assert (len(split.train), len(split.val), len(split.test)) == (9988, 1108, 2610)
    assert "train_dia125_utt3" not in split.train and "dev_dia110_utt7" not in split.val
    assert "test_dia110_utt7" in split.test and "test_dia125_utt3" in split.test
    assert dropped.expected_counts == {"train": 9988, "dev": 1108, "test": 2610}


# -------------------------------------------------------------------------------- MELD, fixture

HEADER = ["Sr No.", "Utterance", "Speaker", "Emotion", "Sentiment", "Dialogue_ID", "Utterance_ID", "Season",
          "Episode", "StartTime", "EndTime"]
MELD_ROWS = {
    "train": [["1", "Oh, hi, Ross’s here.", "Rachel", "joy", "positive", "0", "0", "1", "2", "00:00:01,000",
               "00:00:02,500"],
              ["2", "No.", "Ross", "anger", "negative", "0", "1", "1", "2", "00:00:02,600", "00:00:03,000"]],
    "dev": [["1", "Wait, what?", "Joey", "surprise", "negative", "0", "0", "3", "4", "00:01:00,000", "00:01:01,000"]],
    "test": [["1", "Okay.", "Monica", "neutral", "neutral", "4", "2", "5", "6", "00:02:00,000", "00:02:00,900"]],
}
FOLDERS = {"train": "train_splits", "dev": "dev_splits_complete", "test": "output_repeated_splits_test"}


def _meld_tree(root: Path, rows_by_split: dict[str, list[list[str]]] = MELD_ROWS) -> Path:
    """The official CSVs (written with the csv module, so commas get quoted) and one mp4 per row."""
    root.mkdir(parents=True)
    k = 0
    for split, rows in rows_by_split.items():
        with (root / f"{split}_sent_emo.csv").open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(HEADER)
            writer.writerows(rows)
        for row in rows:
            _clip(root / FOLDERS[split] / f"dia{row[5]}_utt{row[6]}.mp4", k)
            k += 1
    return root


def test_meld_fixture_samples_and_check(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = _meld_tree(tmp_path / "meld")
    adapter = MELD(root)
    samples = adapter.samples()
    assert [s.id for s in samples] == ["train_dia0_utt0", "train_dia0_utt1", "dev_dia0_utt0", "test_dia4_utt2"]
    assert [s.label for s in samples] == [4, 6, 1, 0]
    assert samples[0].sources == {"video": root / "train_splits" / "dia0_utt0.mp4",
                                  "audio": root / "train_splits" / "dia0_utt0.mp4", "text": "Oh, hi, Ross’s here."}
    assert [s.group for s in samples] == ["train_dia0", "train_dia0", "dev_dia0", "test_dia4"]
    assert samples[3].meta["starttime"] == "00:02:00,000"
    split = adapter.official_split()
    assert (split.train, split.val, split.test) == (("train_dia0_utt0", "train_dia0_utt1"), ("dev_dia0_utt0",),
                                                    ("test_dia4_utt2",))
    report = adapter.check()
    assert report.counts == {"train": 2, "dev": 1, "test": 1}
    assert "train: 2 found, expected 9989 (MELD official CSVs)" in report.problems
    monkeypatch.setattr(MELD, "known_sizes", {"train": 2, "dev": 1, "test": 1})
    assert MELD(root).check().ok
    broken = root / "dev_splits_complete" / "dia0_utt0.mp4"
    broken.write_bytes(b"")
    assert MELD(root).check().problems == (
        f"{broken}: video of sample dev_dia0_utt0 is empty (0 bytes)",
        f"{broken}: audio of sample dev_dia0_utt0 is empty (0 bytes)",
    )


@pytest.mark.parametrize(
    ("split", "edit", "message"),
    [
        ("dev", lambda rows: rows[0].__setitem__(3, "happy"),
         r"dev_sent_emo.csv, line 2: Emotion 'happy' is not one of neutral, surprise"),
        ("train", lambda rows: rows.append(list(rows[0])),
         r"train_sent_emo.csv, line 4: dia0_utt0 is listed twice \(first on line 2\)"),
        ("test", lambda rows: rows[0].__setitem__(6, "x"),
         r"test_sent_emo.csv, line 2: Utterance_ID 'x' is not a non-negative integer"),
    ],
)
def test_meld_bad_rows_name_the_file_and_line(tmp_path: Path, split: str, edit: Callable[[list[list[str]]], None],
                                              message: str) -> None:
    rows = {s: [list(r) for r in v] for s, v in MELD_ROWS.items()}
    edit(rows[split])
    root = _meld_tree(tmp_path / "meld", rows)
    with pytest.raises(DataError, match=message):
        MELD(root).samples()


def test_meld_missing_csv_or_column(tmp_path: Path) -> None:
    root = _meld_tree(tmp_path / "meld")
    (root / "dev_sent_emo.csv").write_text("Sr No.,Utterance,Speaker,Sentiment\n1,Hi,Joey,neutral\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"dev_sent_emo.csv, line 1: header lacks column\(s\) Emotion, Dialogue_ID"):
        MELD(root).samples()
    (root / "dev_sent_emo.csv").unlink()
    with pytest.raises(DataError, match=r"dev_sent_emo.csv: required file not found(.|\n)*dev_splits_complete"):
        MELD(root).official_split()


# -------------------------------------------------------------------------------- CAER, fixture

CAER_FILES = ["train/Anger/0001.avi", "train/Happy/0001.avi", "train/Surprise/0002.avi",
              "validation/Neutral/0001.avi", "test/Sad/0001.avi", "test/Angry/0003.avi"]


def _caer_tree(root: Path) -> Path:
    for k, name in enumerate(CAER_FILES):
        _clip(root / name, k)
    return root


def test_caer_fixture_samples_split_and_labels(tmp_path: Path) -> None:
    root = _caer_tree(tmp_path / "caer")
    adapter = CAER(root)
    samples = adapter.samples()
    assert [s.id for s in samples] == ["train_Anger_0001", "train_Happy_0001", "train_Surprise_0002",
                                       "validation_Neutral_0001", "test_Angry_0003", "test_Sad_0001"]
    # Anger 0, Disgust 1, Fear 2, Happy 3, Neutral 4, Sad 5, Surprise 6; 'Angry' is Anger.
    assert [s.label for s in samples] == [0, 3, 6, 4, 0, 5]
    assert samples[2].sources == {"video": root / "train/Surprise/0002.avi", "audio": root / "train/Surprise/0002.avi"}
    split = adapter.official_split()
    assert split.val == ("validation_Neutral_0001",) and split.test == ("test_Angry_0003", "test_Sad_0001")
    assert len(splits.make_splits({"scheme": "official"}, samples, adapter)[0].train) == 3


def test_caer_transcripts_become_the_text_source(tmp_path: Path) -> None:
    root = _caer_tree(tmp_path / "caer")
    for name in CAER_FILES:
        split, label, clip = name.split("/")
        path = root / "transcripts" / split / f"{label}_{clip[:-4]}.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"words of {label} {clip}\n", encoding="utf-8")
    assert CAER(root).samples()[4].sources["text"] == "words of Angry 0003.avi"
    (root / "transcripts" / "test" / "Sad_0001.txt").unlink()
    with pytest.raises(DataError, match=r"transcripts/test/Sad_0001.txt: transcript not found"):
        CAER(root).samples()


def test_caer_check_and_bad_trees(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = _caer_tree(tmp_path / "caer")
    report = CAER(root).check()
    assert report.counts == {"train": 3, "validation": 1, "test": 2, "clips": 6}
    assert report.problems == ("clips: 6 found, expected 13175 (CAER video release)",)
    monkeypatch.setattr(CAER, "expected_counts", {"clips": 6})
    assert CAER(root).check().ok
    bad = root / "test/Sad/0001.avi"
    bad.write_bytes(b"RIFF\x10\x00\x00\x00AVI LIST" + bytes(200))
    problems = CAER(root).check().problems
    assert len(problems) == 2 and all(p.startswith(f"{bad}: ") and "cannot be decoded" in p for p in problems)
    _clip(root / "train/Contempt/0001.avi", 9)
    with pytest.raises(DataError, match=r"train/Contempt: unknown class folder; expected one of Anger, Disgust"):
        CAER(root).samples()
    other = _caer_tree(tmp_path / "no_val")
    for path in sorted((other / "validation").rglob("*"), reverse=True):
        path.rmdir() if path.is_dir() else path.unlink()
    (other / "validation").rmdir()
    with pytest.raises(DataError, match=r"validation: split folder not found(.|\n)*validation/<Class>/<NNNN>.avi"):
        CAER(other).official_split()


# ---------------------------------------------------------------------------------- MOSEI, real


def test_mosei_real_standard_folds(tmp_path: Path) -> None:
    source = shared_data("cmu_mosei")
    root = tmp_path / "mosei"
    (root / "standard_folds").mkdir(parents=True)
    for name in ("standard_train.txt", "standard_valid.txt", "standard_test.txt"):
        (root / "standard_folds" / name).symlink_to(source / name)
    folds = MOSEI(root).folds
    assert {k: len(v) for k, v in folds.items()} == {"train": 2249, "valid": 300, "test": 678}
    every = [v for videos in folds.values() for v in videos]
    assert len(set(every)) == 3227
    assert sum(v.isdigit() for v in every) == 459 and sum(len(v) == 11 and not v.isdigit() for v in every) == 2768
    assert folds["test"][:2] == ["7l3BNtSE0xc", "dZFV0lyedX4"]
    with pytest.raises(DataError, match=r"labels.csv: required file not found"):
        MOSEI(root).samples()


# ------------------------------------------------------------------------------- MOSEI, fixture

FOLD_IDS = {"train": ["-3g5yACwYnA", "81406"], "valid": ["_0efYOjQYRc"], "test": ["zv0Jl4TIQDc"]}
LABEL_ROWS = [
    # video_id, interval, start, end, sentiment, happy, sad, anger, surprise, disgust, fear
    ["-3g5yACwYnA", "0", "10.5", "14.2", "1.0", "0.333333", "0", "0.666667", "1.0", "0", "2.333333"],
    ["-3g5yACwYnA", "1", "20.0", "25.0", "-0.5", "0", "0", "0", "0", "0", "0"],
    ["81406", "0", "-0.41768707483", "3.0", "0", "3", "0", "0", "0", "1.333333", "0"],
    ["_0efYOjQYRc", "0", "1", "2", "2.5", "0", "1", "0", "0", "0", "0"],
    ["zv0Jl4TIQDc", "0", "56.852", "60.845", "0.333333", "0.666667", "0", "0.666667", "0", "0", "0"],
    ["notInAnyFold", "0", "0", "1", "0", "1", "0", "0", "0", "0", "0"],
]
WORDS = [("10.0", "10.4", "before"), ("10.6", "11.0", "we"), ("11.0", "11.2", "sp"), ("11.2", "11.8", "speak"),
         ("11.8", "12.4", "spanish"), ("14.0", "14.5", "after")]


def _mosei_tree(root: Path, rows: list[list[str]] = LABEL_ROWS,
                folds: dict[str, list[str]] = FOLD_IDS) -> Path:
    (root / "standard_folds").mkdir(parents=True)
    for fold, videos in folds.items():
        (root / "standard_folds" / f"standard_{fold}.txt").write_text("\n".join(videos) + "\n")
    with (root / "labels.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["video_id", "interval", "start", "end", "sentiment", "happy", "sad", "anger", "surprise",
                         "disgust", "fear"])
        writer.writerows(rows)
    (root / "words").mkdir()
    for video in [v for videos in folds.values() for v in videos]:
        with (root / "words" / f"{video}.csv").open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["start", "end", "word"])
            writer.writerows(WORDS if video == "-3g5yACwYnA" else [])
    for k, row in enumerate(rows):
        _clip(root / "segments" / f"{row[0]}_{row[1]}.mp4", k)
    return root


def test_mosei_fixture_labels_texts_and_split(tmp_path: Path) -> None:
    root = _mosei_tree(tmp_path / "mosei")
    samples = MOSEI(root).samples()
    assert [s.id for s in samples] == ["-3g5yACwYnA_0", "-3g5yACwYnA_1", "81406_0", "_0efYOjQYRc_0", "zv0Jl4TIQDc_0"]
    assert [s.label for s in samples] == [(1.0, 0.0, 1.0, 1.0, 0.0, 1.0), (0.0,) * 6, (1.0, 0.0, 0.0, 0.0, 1.0, 0.0),
                                          (0.0, 1.0, 0.0, 0.0, 0.0, 0.0), (1.0, 0.0, 1.0, 0.0, 0.0, 0.0)]
    strict = MOSEI(root, presence="ge1").samples()
    assert [s.label for s in strict] == [(0.0, 0.0, 0.0, 1.0, 0.0, 1.0), (0.0,) * 6, (1.0, 0.0, 0.0, 0.0, 1.0, 0.0),
                                         (0.0, 1.0, 0.0, 0.0, 0.0, 0.0), (0.0,) * 6]
    first = samples[0]
    assert first.group == "-3g5yACwYnA" and first.subject is None
    assert first.sources["video"] == first.sources["audio"] == root / "segments" / "-3g5yACwYnA_0.mp4"
    assert first.sources["text"] == "we speak spanish"
    assert MOSEI(root, text_rule="conclugen").samples()[0].sources["text"] == "we  eak anish"
    assert samples[1].sources["text"] == "" and samples[2].meta["start"] == -0.41768707483
    assert "landmarks" not in first.sources
    split = MOSEI(root).official_split()
    assert split.train == ("-3g5yACwYnA_0", "-3g5yACwYnA_1", "81406_0")
    assert (split.val, split.test) == (("_0efYOjQYRc_0",), ("zv0Jl4TIQDc_0",))


def test_mosei_conclugen_skips_drop_exactly_its_two_segments(tmp_path: Path) -> None:
    extra = [[video, str(i), "0", "1", "0", "1", "0", "0", "0", "0", "0"]
             for video in ("9cxlcpbmrH0", "2cwNG0YuwtQ") for i in (5, 6)]
    folds = {**FOLD_IDS, "train": [*FOLD_IDS["train"], "9cxlcpbmrH0", "2cwNG0YuwtQ"]}
    root = _mosei_tree(tmp_path / "mosei", [*LABEL_ROWS, *extra], folds)
    every = [s.id for s in MOSEI(root).samples()]
    kept = [s.id for s in MOSEI(root, conclugen_skips=True).samples()]
    assert [i for i in every if i not in kept] == ["9cxlcpbmrH0_6", "2cwNG0YuwtQ_6"]
    assert len(MOSEI(root, conclugen_skips=True).official_split().train) == 5


def test_mosei_check(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = _mosei_tree(tmp_path / "mosei")
    report = MOSEI(root).check()
    assert report.counts["train videos"] == 2 and report.counts["train segments"] == 3
    assert "test videos: 1 found, expected 678 (CMU-MultimodalSDK standard folds)" in report.problems
    monkeypatch.setattr(MOSEI, "expected_counts", {"train videos": 2, "valid videos": 1, "test videos": 1})
    assert MOSEI(root).check().ok
    (root / "segments" / "81406_0.mp4").write_bytes(b"")
    (root / "words" / "zv0Jl4TIQDc.csv").unlink()
    assert MOSEI(root).check().problems == (
        f"{root / 'words' / 'zv0Jl4TIQDc.csv'}: words of video zv0Jl4TIQDc are missing",
        f"{root / 'segments' / '81406_0.mp4'}: video of sample 81406_0 is empty (0 bytes)",
        f"{root / 'segments' / '81406_0.mp4'}: audio of sample 81406_0 is empty (0 bytes)",
    )


@pytest.mark.parametrize(
    ("row", "message"),
    [
        (["81406", "0", "5", "6", "0", "0", "0", "0", "0", "0", "0"],
         r"labels.csv, line 8: interval 0 of video 81406 is listed twice \(first at .*labels.csv, line 4\)"),
        (["81406", "1", "5", "6", "0", "0", "3.5", "0", "0", "0", "0"],
         r"labels.csv, line 8: intensity of sad is outside \[0, 3\]"),
        (["81406", "1", "5", "6", "-4", "0", "0", "0", "0", "0", "0"], r"labels.csv, line 8: sentiment -4.0"),
        (["81406", "one", "5", "6", "0", "0", "0", "0", "0", "0", "0"], r"labels.csv, line 8: expected a video_id"),
        (["81406", "1", "6", "5", "0", "0", "0", "0", "0", "0", "0"], r"labels.csv, line 8: end 5.0 is before start"),
        (["81406", "1", "5", "6", "0", "0", "nan", "0", "0", "0", "0"],
         r"labels.csv, line 8: sad 'nan' is not a finite"),
    ],
)
def test_mosei_bad_label_rows_name_the_line(tmp_path: Path, row: list[str], message: str) -> None:
    root = _mosei_tree(tmp_path / "mosei", [*LABEL_ROWS, row])
    with pytest.raises(DataError, match=message):
        MOSEI(root).samples()


def test_mosei_video_in_two_folds_is_refused(tmp_path: Path) -> None:
    root = _mosei_tree(tmp_path / "mosei")
    (root / "standard_folds" / "standard_test.txt").write_text("zv0Jl4TIQDc\n81406\n")
    with pytest.raises(DataError, match=r"standard_test.txt, line 2: video 81406 is already in fold 'train'"):
        MOSEI(root).official_split()
    (root / "standard_folds" / "standard_test.txt").write_text("zv0Jl4TIQDc\nzv0Jl4TIQDc\n")
    with pytest.raises(DataError, match=r"standard_test.txt, line 2: id zv0Jl4TIQDc is listed twice"):
        MOSEI(root).samples()
