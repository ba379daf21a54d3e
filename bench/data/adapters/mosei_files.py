"""CMU-MOSEI's label and word files, read from the SDK's ``.csd`` sequences or their plain CSV form."""

from __future__ import annotations

import csv
import dataclasses
import math
from collections.abc import Collection
from pathlib import Path

from bench.data.csd import read_sequence
from bench.errors import DataError

LABEL_NAMES: tuple[str, ...] = ("happy", "sad", "anger", "surprise", "disgust", "fear")
"""The CMU-MultimodalSDK emotion order (``All Labels`` columns 1..6)."""

LABEL_COLUMNS: tuple[str, ...] = ("video_id", "interval", "start", "end", "sentiment", *LABEL_NAMES)

WORD_COLUMNS: tuple[str, ...] = ("start", "end", "word")

LABELS_CSD = "CMU_MOSEI_Labels.csd"
"""The SDK's ``All Labels`` sequence (``cmu_mosei.labels["All Labels"]``): features [N, 7]."""

WORDS_CSD = "CMU_MOSEI_TimestampedWords.csd"
"""The SDK's ``words`` sequence (``cmu_mosei.raw["words"]``): features [N, 1] byte strings."""

FOLDS: tuple[tuple[str, str], ...] = (("train", "standard_train.txt"), ("valid", "standard_valid.txt"),
                                      ("test", "standard_test.txt"))

LAYOUT = """\
<root>/
  standard_folds/standard_{train,valid,test}.txt
                     one video id per line: the CMU-MultimodalSDK standard folds
                     (mmsdk/.../CMU_MOSEI/cmu_mosei_std_folds.py, standard_*_fold)
  labels, one of:
    CMU_MOSEI_Labels.csd   the SDK's 'All Labels' computational sequence as downloaded (HDF5:
                     <root name>/data/<video_id>/features [N, 7] = sentiment in [-3, 3], then
                     happy, sad, anger, surprise, disgust, fear = mean Likert intensities in
                     [0, 3]; .../intervals [N, 2] = start, end in seconds); read when present
    labels.csv       the same sequence as text, header
                     video_id,interval,start,end,sentiment,happy,sad,anger,surprise,disgust,fear
                     one row per labelled interval; interval = its 0-based index within the
                     video in the .csd's order; start/end in seconds
  segments/<video_id>_<interval>.mp4
                     the interval cut from CMU_MOSEI.zip Raw/Videos/Full/Combined/<video_id>.mp4
                     at [start, end] (with its audio track), as ConCluGen cuts them
  words (optional, text), one of:
    CMU_MOSEI_TimestampedWords.csd   the SDK's 'words' sequence as downloaded (features [N, 1]
                     byte-string words, 'sp' = pause token; intervals [N, 2]); read when present
    words/<video_id>.csv   the same as text, header start,end,word
  landmarks/<video_id>_<interval>.csv   optional: per-frame OpenFace landmarks of the segment
                     (x_0..x_67, y_0..y_67 columns; MPUC's landmark input)
labels_from / words_from = 'csd' or 'csv' choose; 'auto' takes the .csd file when it exists.
Label order: happy, sad, anger, surprise, disgust, fear (SDK; ConCluGen and MPUC)."""

Word = tuple[float, float, str]



@dataclasses.dataclass(frozen=True)
class LabelRow:
    """One labelled interval of the ``All Labels`` sequence, from either layout."""

    video: str
    interval: int
    start: float
    end: float
    sentiment: float
    intensities: tuple[float, ...]
    where: str
    """``<file>, line <n>`` or ``<file>, video <id>, interval <i>``, for messages."""


def _float(row: dict[str, str], column: str, where: str) -> float:
    try:
        value = float(row[column])
    except (TypeError, ValueError):
        value = math.nan
    if not math.isfinite(value):
        raise DataError(f"{where}: {column} {row.get(column)!r} is not a finite number")
    return value


def _csv_label_rows(path: Path) -> list[LabelRow]:
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            missing = [c for c in LABEL_COLUMNS if c not in (reader.fieldnames or [])]
            if missing:
                raise DataError(f"{path}, line 1: header lacks column(s) {', '.join(missing)}; "
                                f"expected {','.join(LABEL_COLUMNS)}")
            rows = []
            for row in reader:
                where = f"{path}, line {reader.line_num}"
                video = (row["video_id"] or "").strip()
                interval = (row["interval"] or "").strip()
                if not video or not interval.isdigit():
                    raise DataError(f"{where}: expected a video_id and a non-negative integer interval, "
                                    f"got {row['video_id']!r}, {row['interval']!r}")
                rows.append(LabelRow(video, int(interval), _float(row, "start", where), _float(row, "end", where),
                                     _float(row, "sentiment", where),
                                     tuple(_float(row, name, where) for name in LABEL_NAMES), where))
            return rows
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise DataError(f"{path}: cannot read labels ({error})") from error


def _csv_words(path: Path) -> list[Word]:
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            if [c for c in WORD_COLUMNS if c not in (reader.fieldnames or [])]:
                raise DataError(f"{path}, line 1: expected the header start,end,word")
            return [(_float(r, "start", f"{path}, line {reader.line_num}"),
                     _float(r, "end", f"{path}, line {reader.line_num}"), r["word"] or "") for r in reader]
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise DataError(f"{path}: cannot read words ({error})") from error


def _csd_label_rows(path: Path) -> list[LabelRow]:
    _, data = read_sequence(path, 1 + len(LABEL_NAMES))
    rows = []
    for video, (features, intervals) in data.items():
        for i in range(features.shape[0]):
            rows.append(LabelRow(video, i, float(intervals[i, 0]), float(intervals[i, 1]), float(features[i, 0]),
                                 tuple(float(v) for v in features[i, 1:]), f"{path}, video {video}, interval {i}"))
    return rows


def _csd_words(path: Path, videos: Collection[str] | None = None) -> dict[str, list[Word]]:
    _, data = read_sequence(path, 1, words=True, videos=videos)
    return {video: [(float(intervals[i, 0]), float(intervals[i, 1]), str(features[i, 0]))
                    for i in range(features.shape[0])]
            for video, (features, intervals) in data.items()}
