"""CMU-MOSEI (Zadeh et al., ACL 2018): labelled utterance segments of 3,227 videos, 6 emotions, standard folds.

The CMU-MultimodalSDK distributes labels, words and their intervals as ``.csd`` (HDF5)
computational sequences, which need h5py (not a bench dependency). This adapter reads the
same content as plain files in the layout :data:`LAYOUT` defines: one CSV row per interval of
the SDK's ``All Labels`` sequence (``CMU_MOSEI_Labels.csd``), one CSV of timed words per
video (``CMU_MOSEI_TimestampedWords.csd``), and the three standard fold lists (the SDK's
``cmu_mosei_std_folds.py`` ``standard_{train,valid,test}_fold``, one id per line).

Labels are the SDK's emotion columns ``[happy, sad, anger, surprise, disgust, fear]`` (its
label vector minus the leading sentiment; ConCluGen ``cmu_mosei_datamodule.py`` L429), each
a mean Likert intensity in [0, 3] turned into presence: ``> 0`` (ConCluGen's
``label_discretization_threshold: 0.0``, the standard) or, with ``presence="ge1"``, ``>= 1``
(MPUC's effective rule: its ``np.int8`` cast truncates 1/3 and 2/3 to 0 before ``> 0``).
"""

from __future__ import annotations

import csv
import functools
import math
from pathlib import Path
from typing import ClassVar, Literal

from bench.api import CheckReport, DatasetAdapter, Sample, Split, TaskKind
from bench.data.adapters import _lists
from bench.errors import ConfigError, DataError

LABEL_NAMES: tuple[str, ...] = ("happy", "sad", "anger", "surprise", "disgust", "fear")
"""The CMU-MultimodalSDK emotion order (``All Labels`` columns 1..6)."""

LABEL_COLUMNS: tuple[str, ...] = ("video_id", "interval", "start", "end", "sentiment", *LABEL_NAMES)

FOLDS: tuple[tuple[str, str], ...] = (("train", "standard_train.txt"), ("valid", "standard_valid.txt"),
                                      ("test", "standard_test.txt"))

CONCLUGEN_SKIPS: frozenset[str] = frozenset({"9cxlcpbmrH0_6", "2cwNG0YuwtQ_6"})
"""Segments ConCluGen skips (``cmu_mosei_datamodule.py`` ``VIDEOS_TO_SKIP``, L247)."""

LAYOUT = """\
<root>/
  standard_folds/standard_{train,valid,test}.txt
                     one video id per line: the CMU-MultimodalSDK standard folds
                     (mmsdk/.../CMU_MOSEI/cmu_mosei_std_folds.py, standard_*_fold)
  labels.csv         the SDK 'All Labels' sequence (CMU_MOSEI_Labels.csd) as text, header
                     video_id,interval,start,end,sentiment,happy,sad,anger,surprise,disgust,fear
                     one row per labelled interval; interval = its 0-based index within the
                     video in the .csd's order; start/end in seconds; sentiment in [-3, 3];
                     emotions = mean Likert intensities in [0, 3]
  segments/<video_id>_<interval>.mp4
                     the interval cut from CMU_MOSEI.zip Raw/Videos/Full/Combined/<video_id>.mp4
                     at [start, end] (with its audio track), as ConCluGen cuts them
  words/<video_id>.csv     optional (text): CMU_MOSEI_TimestampedWords.csd as text, header
                     start,end,word; 'sp' rows are the SDK's pause tokens
  landmarks/<video_id>_<interval>.csv   optional: per-frame OpenFace landmarks of the segment
                     (x_0..x_67, y_0..y_67 columns; MPUC's landmark input)
Label order: happy, sad, anger, surprise, disgust, fear (SDK; ConCluGen and MPUC)."""


def _float(row: dict[str, str], column: str, where: str) -> float:
    try:
        value = float(row[column])
    except (TypeError, ValueError):
        value = math.nan
    if not math.isfinite(value):
        raise DataError(f"{where}: {column} {row.get(column)!r} is not a finite number")
    return value


class MOSEI(DatasetAdapter):
    """CMU-MOSEI labelled segments of the standard-fold videos: sample ``<videoId>_<interval>``.

    ``label`` = presence of each emotion (1.0 / 0.0) under ``presence`` (``"gt0"`` default,
    ``"ge1"`` MPUC's effective rule); ``meta`` holds sentiment, the raw intensities, video,
    interval and times. ``sources``: ``video`` and ``audio`` = the segment mp4; ``text`` = the
    words whose interval lies inside the segment's (ConCluGen's selection), in file order,
    joined by spaces, without the SDK's ``sp`` pause tokens (``text_rule="words"``) or with
    every ``"sp"`` substring deleted from the joined text as ConCluGen L416 does
    (``text_rule="conclugen"``; it also turns "speak" into "eak"), present when ``words/``
    exists; ``landmarks`` when ``landmarks/`` exists. ``group`` = video id (the standard folds
    are by video, so a video's segments never straddle); subjects unknown.
    ``conclugen_skips`` drops :data:`CONCLUGEN_SKIPS` (off by default). Label rows of videos
    in no standard fold are not samples (ConCluGen skips them too).
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
                 text_rule: Literal["words", "conclugen"] = "words", conclugen_skips: bool = False) -> None:
        super().__init__(root)
        if presence not in ("gt0", "ge1"):
            raise ConfigError(f"mosei: presence must be 'gt0' or 'ge1', got {presence!r}")
        if text_rule not in ("words", "conclugen"):
            raise ConfigError(f"mosei: text_rule must be 'words' or 'conclugen', got {text_rule!r}")
        self.presence = presence
        self.text_rule = text_rule
        self.conclugen_skips = bool(conclugen_skips)

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

    def _rows(self) -> list[tuple[dict[str, str], str]]:
        path = _lists.require_file(self.root / "labels.csv", self.layout)
        try:
            with path.open(newline="", encoding="utf-8") as handle:
                reader = csv.DictReader(handle)
                missing = [c for c in LABEL_COLUMNS if c not in (reader.fieldnames or [])]
                if missing:
                    raise DataError(f"{path}, line 1: header lacks column(s) {', '.join(missing)}; "
                                    f"expected {','.join(LABEL_COLUMNS)}")
                return [(row, f"{path}, line {reader.line_num}") for row in reader]
        except (OSError, UnicodeDecodeError, csv.Error) as error:
            raise DataError(f"{path}: cannot read labels ({error})") from error

    def _present(self, intensity: float) -> float:
        return float(intensity >= 1.0 if self.presence == "ge1" else intensity > 0.0)

    def _words(self, video: str) -> list[tuple[float, float, str]]:
        path = self.root / "words" / f"{video}.csv"
        if not path.is_file():
            return []
        try:
            with path.open(newline="", encoding="utf-8") as handle:
                reader = csv.DictReader(handle)
                if [c for c in ("start", "end", "word") if c not in (reader.fieldnames or [])]:
                    raise DataError(f"{path}, line 1: expected the header start,end,word")
                return [(_float(r, "start", f"{path}, line {reader.line_num}"),
                         _float(r, "end", f"{path}, line {reader.line_num}"), r["word"] or "") for r in reader]
        except (OSError, UnicodeDecodeError, csv.Error) as error:
            raise DataError(f"{path}: cannot read words ({error})") from error

    def _text(self, words: list[tuple[float, float, str]], start: float, end: float) -> str:
        inside = [w for s, e, w in words if s >= start and e <= end]
        if self.text_rule == "conclugen":
            return " ".join(inside).replace("sp", "")
        return " ".join(w for w in inside if w != "sp")

    @functools.cached_property
    def _samples(self) -> list[Sample]:
        fold_of = {v: fold for fold, videos in self.folds.items() for v in videos}
        with_words = (self.root / "words").is_dir()
        with_landmarks = (self.root / "landmarks").is_dir()
        samples: list[Sample] = []
        seen: dict[str, str] = {}
        words: dict[str, list[tuple[float, float, str]]] = {}
        for row, where in self._rows():
            video = (row["video_id"] or "").strip()
            interval = (row["interval"] or "").strip()
            if not video or not interval.isdigit():
                raise DataError(f"{where}: expected a video_id and a non-negative integer interval, "
                                f"got {row['video_id']!r}, {row['interval']!r}")
            sid = f"{video}_{int(interval)}"
            if sid in seen:
                raise DataError(f"{where}: interval {int(interval)} of video {video} is listed twice "
                                f"(first at {seen[sid]})")
            seen[sid] = where
            start, end = _float(row, "start", where), _float(row, "end", where)
            if end < start:
                raise DataError(f"{where}: end {end} is before start {start}")
            sentiment = _float(row, "sentiment", where)
            if not -3.0 <= sentiment <= 3.0:
                raise DataError(f"{where}: sentiment {sentiment} is outside [-3, 3]")
            intensities = tuple(_float(row, name, where) for name in LABEL_NAMES)
            bad = [n for n, v in zip(LABEL_NAMES, intensities) if not 0.0 <= v <= 3.0]
            if bad:
                raise DataError(f"{where}: intensity of {', '.join(bad)} is outside [0, 3]")
            if video not in fold_of or (self.conclugen_skips and sid in CONCLUGEN_SKIPS):
                continue
            segment = self.root / "segments" / f"{sid}.mp4"
            sources: dict[str, Path | str] = {"video": segment, "audio": segment}
            if with_words:
                if video not in words:
                    words[video] = self._words(video)
                sources["text"] = self._text(words[video], start, end)
            if with_landmarks:
                sources["landmarks"] = self.root / "landmarks" / f"{sid}.csv"
            samples.append(Sample(
                sid, tuple(self._present(v) for v in intensities), sources, group=video,
                meta={"video": video, "interval": int(interval), "start": start, "end": end,
                      "sentiment": sentiment, "fold": fold_of[video], "intensities": intensities},
            ))
        return samples

    def samples(self) -> list[Sample]:
        return list(self._samples)

    def official_split(self) -> Split:
        ids: dict[str, list[str]] = {fold: [] for fold, _ in FOLDS}
        for sample in self._samples:
            ids[sample.meta["fold"]].append(sample.id)
        return Split("official", tuple(ids["train"]), tuple(ids["test"]), tuple(ids["valid"]))

    def check(self) -> CheckReport:
        """Fold sizes (videos) against the SDK's, labelled segments per fold, every source readable."""
        counts = {f"{fold} videos": len(videos) for fold, videos in self.folds.items()}
        labelled = {s.meta["video"] for s in self._samples}
        for fold, videos in self.folds.items():
            counts[f"{fold} segments"] = sum(1 for s in self._samples if s.meta["fold"] == fold)
            counts[f"{fold} videos without labels"] = sum(1 for v in videos if v not in labelled)
        problems = _lists.count_problems(counts, self.expected_counts, "CMU-MultimodalSDK standard folds")
        if (self.root / "words").is_dir():
            problems += [f"{self.root / 'words' / (v + '.csv')}: words of video {v} are missing"
                         for v in sorted(labelled) if not (self.root / "words" / f"{v}.csv").is_file()]
        problems += _lists.media_problems(self.samples())
        return CheckReport(self.name, self.root, counts, tuple(problems))
