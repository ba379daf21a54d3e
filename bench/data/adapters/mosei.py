"""CMU-MOSEI (Zadeh et al., ACL 2018): labelled utterance segments of 3,227 videos, 6 emotions, standard folds.

The CMU-MultimodalSDK distributes labels, words and their intervals as computational
sequences (``.csd``, HDF5). This adapter reads them as the SDK ships them
(``CMU_MOSEI_Labels.csd``, the ``All Labels`` sequence, and
``CMU_MOSEI_TimestampedWords.csd``, the ``words`` sequence; needs h5py, in bench's ``full``
extra) or the same content as plain files (``labels.csv``, ``words/<video_id>.csv``), both in
the layout :data:`LAYOUT` defines, together with the three standard fold lists (the SDK's
``cmu_mosei_std_folds.py`` ``standard_{train,valid,test}_fold``, one id per line).

A computational sequence, as the SDK's ``computational_sequence/file_ops.py`` writes and
reads it, is one top-level HDF5 group named after the sequence's root name, holding
``data/<video_id>/features`` ([N, D]) and ``data/<video_id>/intervals`` ([N, 2], start and
end in seconds), and ``metadata/<key>`` (JSON strings; not needed here). Interval ``i`` of a
video is row ``i`` of its arrays (0-based, in the file's order); the plain ``labels.csv``
numbers its rows the same way, so sample ids ``<video_id>_<interval>`` are the same whichever
layout is read. ``python -m bench.data.adapters.mosei --to-plain ROOT`` writes the plain files
from the ``.csd`` ones.

Labels are the SDK's emotion columns ``[happy, sad, anger, surprise, disgust, fear]`` (its
label vector minus the leading sentiment; ConCluGen ``cmu_mosei_datamodule.py`` L429), each
a mean Likert intensity in [0, 3] turned into presence: ``> 0`` (ConCluGen's
``label_discretization_threshold: 0.0``, the standard) or, with ``presence="ge1"``, ``>= 1``
(MPUC's effective rule: its ``np.int8`` cast truncates 1/3 and 2/3 to 0 before ``> 0``).
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import functools
import io as _stdio
import math
import sys
from collections.abc import Collection, Iterator, Sequence
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np

from bench import io
from bench.api import CheckReport, DatasetAdapter, Sample, Split, TaskKind
from bench.data.adapters import _lists
from bench.errors import BenchError, ConfigError, DataError

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

CONCLUGEN_SKIPS: frozenset[str] = frozenset({"9cxlcpbmrH0_6", "2cwNG0YuwtQ_6"})
"""Segments ConCluGen skips (``cmu_mosei_datamodule.py`` ``VIDEOS_TO_SKIP``, L247)."""

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

Source = Literal["auto", "csd", "csv"]
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


# ------------------------------------------------------------------------------------ .csd files


def _h5py() -> Any:
    try:
        import h5py
    except ImportError as error:
        raise ConfigError("mosei: reading CMU-MultimodalSDK .csd files needs h5py (pip install h5py; it is in "
                          "bench's 'full' extra), or convert them to the plain layout (labels.csv, words/)") from error
    return h5py


def read_sequence(path: Path, width: int, *, words: bool = False,
                  videos: Collection[str] | None = None) -> tuple[str, dict[str, tuple[np.ndarray, np.ndarray]]]:
    """Read a CMU-MultimodalSDK computational sequence: ``(root name, {video_id: (features, intervals)})``.

    ``features`` is ``[N, width]`` — float64 for a numeric sequence, or, with ``words``, an
    object array of ``str`` decoded from the byte strings the SDK stores — and ``intervals``
    ``[N, 2]`` float64; videos come in the file's (HDF5 link) order, the order the SDK's
    ``read_CSD`` gives. ``videos`` restricts which are read (absent ones are skipped). A file
    that is not HDF5, lacks ``<root>/data`` or a video's ``features`` / ``intervals``, has a
    wrong feature width or dtype, feature and interval counts that differ, or a non-finite
    number is a DataError naming the file, the video and what was expected.
    """
    h5py = _h5py()
    path = Path(path)
    what = (f"features [N, {width}] of byte-string words" if words else f"features [N, {width}] of numbers") \
        + " and intervals [N, 2] (start, end in seconds)"
    if not path.is_file():
        raise DataError(f"{path}: computational sequence not found")
    if not h5py.is_hdf5(str(path)):
        raise DataError(f"{path}: not an HDF5 file; expected a CMU-MultimodalSDK computational sequence (.csd)")
    try:
        handle = h5py.File(path, "r")
    except OSError as error:
        raise DataError(f"{path}: cannot open the HDF5 file ({error})") from error
    try:
        with handle:
            return _read_root(path, handle, width, words, what, videos, h5py)
    except (OSError, KeyError, RuntimeError, ValueError) as error:
        raise DataError(f"{path}: cannot read the computational sequence ({error}); expected "
                        f"<root name>/data/<video_id>/ holding {what}") from error


def _read_root(path: Path, handle: Any, width: int, words: bool, what: str, videos: Collection[str] | None,
               h5py: Any) -> tuple[str, dict[str, tuple[np.ndarray, np.ndarray]]]:
    """The one top-level group's ``data`` videos (see :func:`read_sequence`)."""
    roots = list(handle.keys())
    if len(roots) != 1 or not isinstance(handle[roots[0]], h5py.Group):
        raise DataError(f"{path}: expected one top-level group named after the sequence (e.g. 'All Labels', "
                        f"'words'), found {roots}")
    root = roots[0]
    data = handle[root].get("data")
    if not isinstance(data, h5py.Group):
        raise DataError(f"{path}: group {root!r} has no 'data' group; expected {root}/data/<video_id>/ "
                        f"holding {what}")
    out: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for video in data.keys():
        if videos is not None and video not in videos:
            continue
        out[video] = _read_video(path, data[video], video, width, words, what, h5py)
    return root, out


def _read_video(path: Path, group: Any, video: str, width: int, words: bool, what: str,
                h5py: Any) -> tuple[np.ndarray, np.ndarray]:
    where = f"{path}, video {video}"
    arrays: dict[str, np.ndarray] = {}
    for name in ("features", "intervals"):
        item = group.get(name) if isinstance(group, h5py.Group) else None
        if not isinstance(item, h5py.Dataset):
            raise DataError(f"{where}: no {name!r} dataset; expected {what}")
        try:
            arrays[name] = item[()]
        except (OSError, ValueError, TypeError) as error:
            raise DataError(f"{where}: cannot read {name!r} ({error}); expected {what}") from error
    features, intervals = arrays["features"], arrays["intervals"]
    if features.ndim != 2 or features.shape[1] != width:
        raise DataError(f"{where}: features have shape {list(features.shape)}; expected {what}")
    if intervals.ndim != 2 or intervals.shape[1] != 2:
        raise DataError(f"{where}: intervals have shape {list(intervals.shape)}; expected {what}")
    if features.shape[0] != intervals.shape[0]:
        raise DataError(f"{where}: {features.shape[0]} feature rows but {intervals.shape[0]} intervals; "
                        f"expected {what}")
    if intervals.dtype.kind not in "fiu":
        raise DataError(f"{where}: intervals have dtype {intervals.dtype}; expected {what}")
    intervals = intervals.astype(np.float64)
    _require_finite(intervals, where, "intervals", what)
    if words:
        if features.dtype.kind not in "SOU":
            raise DataError(f"{where}: features have dtype {features.dtype}; expected {what}")
        decoded = np.empty(features.shape, dtype=object)
        for i, item in enumerate(features[:, 0]):
            try:
                decoded[i, 0] = item.decode("utf-8") if isinstance(item, bytes) else str(item)
            except UnicodeDecodeError as error:
                raise DataError(f"{where}, interval {i}: word {item!r} is not UTF-8 ({error}); "
                                f"expected {what}") from error
        return decoded, intervals
    if features.dtype.kind not in "fiu":
        raise DataError(f"{where}: features have dtype {features.dtype}; expected {what}")
    features = features.astype(np.float64)
    _require_finite(features, where, "features", what)
    return features, intervals


def _require_finite(array: np.ndarray, where: str, name: str, what: str) -> None:
    bad = np.flatnonzero(~np.isfinite(array).all(axis=1))
    if bad.size:
        row = int(bad[0])
        raise DataError(f"{where}, interval {row}: {name} {array[row].tolist()} hold a non-finite number; "
                        f"expected {what}")


# ------------------------------------------------------------------------------ plain text files


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


# ------------------------------------------------------------------------------------- adapter


class MOSEI(DatasetAdapter):
    """CMU-MOSEI labelled segments of the standard-fold videos: sample ``<videoId>_<interval>``.

    ``label`` = presence of each emotion (1.0 / 0.0) under ``presence`` (``"gt0"`` default,
    ``"ge1"`` MPUC's effective rule); ``meta`` holds sentiment, the raw intensities, video,
    interval, times and which layout the labels and words came from (``labels_from`` /
    ``words_from``: ``"csd"``, ``"csv"`` or None; also :attr:`read_from`). ``labels_from``
    chooses ``CMU_MOSEI_Labels.csd`` (``"csd"``) or ``labels.csv`` (``"csv"``); ``words_from``
    ``CMU_MOSEI_TimestampedWords.csd`` or ``words/``; ``"auto"`` (default) takes the .csd file
    when it exists, else the plain one (words: none when neither exists). Both layouts give
    the same samples, ids and order for the same content (the ``.csd``'s video order is its
    HDF5 link order, which :func:`to_plain` keeps).

    ``sources``: ``video`` and ``audio`` = the segment mp4; ``text`` = the words whose interval
    lies inside the segment's (ConCluGen's selection), in file order, joined by spaces, without
    the SDK's ``sp`` pause tokens (``text_rule="words"``) or with every ``"sp"`` substring
    deleted from the joined text as ConCluGen L416 does (``text_rule="conclugen"``; it also
    turns "speak" into "eak"), present when words are read; ``landmarks`` when ``landmarks/``
    exists. ``group`` = video id (the standard folds are by video, so a video's segments never
    straddle); subjects unknown. ``conclugen_skips`` drops :data:`CONCLUGEN_SKIPS` (off by
    default). Label rows of videos in no standard fold are not samples (ConCluGen skips them too).
    """

    name = "mosei"
    task: ClassVar[TaskKind] = "multilabel"
    label_names = LABEL_NAMES
    label_names_source = "CMU-MultimodalSDK All Labels columns 1..6 (ConCluGen cmu_mosei_datamodule.py L429)"
    modalities = ("video", "audio", "text", "landmarks")
    layout = LAYOUT
    expected_counts: ClassVar[dict[str, int]] = {"train videos": 2249, "valid videos": 300, "test videos": 678}
    """Videos in the SDK's standard folds (cmu_mosei_std_folds.py)."""

    def __init__(self, root: Path, *, presence: Literal["gt0", "ge1"] = "gt0",
                 text_rule: Literal["words", "conclugen"] = "words", conclugen_skips: bool = False,
                 labels_from: Source = "auto", words_from: Source = "auto") -> None:
        super().__init__(root)
        if presence not in ("gt0", "ge1"):
            raise ConfigError(f"mosei: presence must be 'gt0' or 'ge1', got {presence!r}")
        if text_rule not in ("words", "conclugen"):
            raise ConfigError(f"mosei: text_rule must be 'words' or 'conclugen', got {text_rule!r}")
        for option, value in (("labels_from", labels_from), ("words_from", words_from)):
            if value not in ("auto", "csd", "csv"):
                raise ConfigError(f"mosei: {option} must be 'auto', 'csd' or 'csv', got {value!r}")
        self.presence = presence
        self.text_rule = text_rule
        self.conclugen_skips = bool(conclugen_skips)
        self.labels_from = labels_from
        self.words_from = words_from

    def _labels_source(self) -> tuple[str, Path]:
        labels_csd = self.root / LABELS_CSD
        use = self.labels_from if self.labels_from != "auto" else ("csd" if labels_csd.is_file() else "csv")
        return ("csd", labels_csd) if use == "csd" else ("csv", self.root / "labels.csv")

    def _words_source(self) -> tuple[str, Path] | None:
        words_csd, words_dir = self.root / WORDS_CSD, self.root / "words"
        if self.words_from == "csd" or (self.words_from == "auto" and words_csd.is_file()):
            return "csd", words_csd
        if self.words_from == "csv" or (self.words_from == "auto" and words_dir.is_dir()):
            return "csv", words_dir
        return None

    @property
    def read_from(self) -> dict[str, tuple[str, Path] | None]:
        """Which layout and file each annotation is read from, under the current options and files.

        ``labels``: ``("csd", <root>/CMU_MOSEI_Labels.csd)`` or ``("csv", <root>/labels.csv)``;
        ``words``: ``("csd", <root>/CMU_MOSEI_TimestampedWords.csd)``, ``("csv", <root>/words)``
        or None (no text).
        """
        return {"labels": self._labels_source(), "words": self._words_source()}

    @functools.cached_property
    def folds(self) -> dict[str, list[str]]:
        """Video ids of each standard fold (``train``, ``valid``, ``test``), in file order."""
        _lists.require_root(self.root, self.name, self.layout)
        folds: dict[str, list[str]] = {}
        where: dict[str, str] = {}
        for fold, filename in FOLDS:
            path = _lists.require_file(self.root / "standard_folds" / filename, self.layout)
            folds[fold] = []
            for video, line in _lists.read_id_list(path):
                if video in where:
                    raise DataError(f"{path}, line {line}: video {video} is already in fold {where[video]}")
                where[video] = f"{fold!r} ({path.name})"
                folds[fold].append(video)
        return folds

    def _label_rows(self) -> list[LabelRow]:
        kind, path = self._labels_source()
        _lists.require_file(path, self.layout)
        rows = _csd_label_rows(path) if kind == "csd" else _csv_label_rows(path)
        seen: dict[tuple[str, int], str] = {}
        for row in rows:
            key = (row.video, row.interval)
            if key in seen:
                raise DataError(f"{row.where}: interval {row.interval} of video {row.video} is listed twice "
                                f"(first at {seen[key]})")
            seen[key] = row.where
            if row.end < row.start:
                raise DataError(f"{row.where}: end {row.end} is before start {row.start}")
            if not -3.0 <= row.sentiment <= 3.0:
                raise DataError(f"{row.where}: sentiment {row.sentiment} is outside [-3, 3]")
            bad = [n for n, v in zip(LABEL_NAMES, row.intensities) if not 0.0 <= v <= 3.0]
            if bad:
                raise DataError(f"{row.where}: intensity of {', '.join(bad)} is outside [0, 3]")
        return rows

    def _words(self, videos: Sequence[str]) -> dict[str, list[Word]] | None:
        """The timed words of each of ``videos`` that has some; None when no words are read."""
        chosen = self._words_source()
        if chosen is None:
            return None
        kind, path = chosen
        if kind == "csd":
            return _csd_words(_lists.require_file(path, self.layout), set(videos))
        if not path.is_dir():
            raise DataError(f"{path}: words folder not found; the dataset is expected laid out as:\n{self.layout}")
        return {v: _csv_words(path / f"{v}.csv") for v in dict.fromkeys(videos) if (path / f"{v}.csv").is_file()}

    def _present(self, intensity: float) -> float:
        return float(intensity >= 1.0 if self.presence == "ge1" else intensity > 0.0)

    def _text(self, words: list[Word], start: float, end: float) -> str:
        inside = [w for s, e, w in words if s >= start and e <= end]
        if self.text_rule == "conclugen":
            return " ".join(inside).replace("sp", "")
        return " ".join(w for w in inside if w != "sp")

    @functools.cached_property
    def _parsed(self) -> tuple[list[Sample], dict[str, list[Word]] | None, int]:
        """The samples, the words read (None without words) and the number of label rows read."""
        fold_of = {v: fold for fold, videos in self.folds.items() for v in videos}
        labels_kind, words_source = self._labels_source()[0], self._words_source()
        every = self._label_rows()
        rows = [r for r in every if r.video in fold_of
                and not (self.conclugen_skips and f"{r.video}_{r.interval}" in CONCLUGEN_SKIPS)]
        words = self._words([r.video for r in rows])
        with_landmarks = (self.root / "landmarks").is_dir()
        samples: list[Sample] = []
        for row in rows:
            sid = f"{row.video}_{row.interval}"
            segment = self.root / "segments" / f"{sid}.mp4"
            sources: dict[str, Path | str] = {"video": segment, "audio": segment}
            if words is not None:
                sources["text"] = self._text(words.get(row.video, []), row.start, row.end)
            if with_landmarks:
                sources["landmarks"] = self.root / "landmarks" / f"{sid}.csv"
            samples.append(Sample(
                sid, tuple(self._present(v) for v in row.intensities), sources, group=row.video,
                meta={"video": row.video, "interval": row.interval, "start": row.start, "end": row.end,
                      "sentiment": row.sentiment, "fold": fold_of[row.video], "intensities": row.intensities,
                      "labels_from": labels_kind, "words_from": None if words_source is None else words_source[0]},
            ))
        return samples, words, len(every)

    def samples(self) -> list[Sample]:
        return list(self._parsed[0])

    def official_split(self) -> Split:
        ids: dict[str, list[str]] = {fold: [] for fold, _ in FOLDS}
        for sample in self._parsed[0]:
            ids[sample.meta["fold"]].append(sample.id)
        return Split("official", tuple(ids["train"]), tuple(ids["test"]), tuple(ids["valid"]))

    def check(self) -> CheckReport:
        """Fold sizes (videos) against the SDK's, labelled segments per fold, words per video, every source readable.

        The counts name the files the labels and words were read from (which layout).
        """
        samples, words, label_rows = self._parsed
        counts = {f"{fold} videos": len(videos) for fold, videos in self.folds.items()}
        counts[f"label rows in {self._labels_source()[1].name}"] = label_rows
        labelled = {s.meta["video"] for s in samples}
        for fold, videos in self.folds.items():
            counts[f"{fold} segments"] = sum(1 for s in samples if s.meta["fold"] == fold)
            counts[f"{fold} videos without labels"] = sum(1 for v in videos if v not in labelled)
        problems = _lists.count_problems(counts, self.expected_counts, "CMU-MultimodalSDK standard folds")
        chosen = self._words_source()
        if words is not None and chosen is not None:
            kind, path = chosen
            label = path.name + ("/" if kind == "csv" else "")
            counts[f"labelled videos with words in {label}"] = sum(1 for v in labelled if v in words)
            missing = sorted(v for v in labelled if v not in words)
            problems += [f"{path / (v + '.csv')}: words of video {v} are missing" if kind == "csv"
                         else f"{path}: words of video {v} are missing" for v in missing]
        problems += _lists.media_problems(samples)
        return CheckReport(self.name, self.root, counts, tuple(problems))


# ------------------------------------------------------------------------------------ conversion


def _csv_text(header: Sequence[str], rows: Iterator[Sequence[object]]) -> str:
    buffer = _stdio.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()


def to_plain(root: Path, out: Path | None = None, *, force: bool = False) -> list[Path]:
    """Write ``labels.csv`` and ``words/<video_id>.csv`` under ``out`` (default ``root``) from the .csd files of ``root``.

    Numbers are written with ``repr`` (they read back bit-identical) in the .csd's order, so
    the plain layout gives the same samples as the .csd one. The words file is converted when
    present. Each file is written atomically; an existing ``labels.csv`` or ``words/`` is
    refused unless ``force``. Returns the files written.
    """
    root = Path(root)
    out = root if out is None else Path(out)
    labels_csd = _lists.require_file(root / LABELS_CSD, LAYOUT)
    words_csd = root / WORDS_CSD
    targets = [out / "labels.csv"] + ([out / "words"] if words_csd.is_file() else [])
    existing = [t for t in targets if t.exists()]
    if existing and not force:
        raise DataError(f"{', '.join(map(str, existing))}: already exist(s); pass --force to overwrite")
    rows = _csd_label_rows(labels_csd)
    words = _csd_words(words_csd) if words_csd.is_file() else {}
    written = []
    for video, items in words.items():
        path = out / "words" / f"{video}.csv"
        io.write_text(path, _csv_text(WORD_COLUMNS, ((repr(s), repr(e), w) for s, e, w in items)))
        written.append(path)
    io.write_text(out / "labels.csv", _csv_text(LABEL_COLUMNS, (
        (r.video, r.interval, repr(r.start), repr(r.end), repr(r.sentiment), *map(repr, r.intensities))
        for r in rows)))
    written.append(out / "labels.csv")
    return written


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m bench.data.adapters.mosei --to-plain ROOT [--out DIR] [--force]``."""
    parser = argparse.ArgumentParser(prog="python -m bench.data.adapters.mosei",
                                     description="Convert the CMU-MultimodalSDK .csd labels and words of a "
                                                 "CMU-MOSEI root to the adapter's plain layout.")
    parser.add_argument("--to-plain", metavar="ROOT", type=Path, required=True,
                        help=f"folder holding {LABELS_CSD} (and optionally {WORDS_CSD})")
    parser.add_argument("--out", metavar="DIR", type=Path, default=None, help="where to write (default ROOT)")
    parser.add_argument("--force", action="store_true", help="overwrite an existing labels.csv / words/")
    args = parser.parse_args(argv)
    try:
        written = to_plain(args.to_plain, args.out, force=args.force)
    except BenchError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"wrote {len(written)} files under {args.out or args.to_plain}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
