"""CMU-MOSEI (Zadeh et al., ACL 2018): labelled utterance segments of 3,227 videos, 6 emotions, standard folds.

The CMU-MultimodalSDK distributes labels, words and their intervals as computational
sequences (``.csd``, HDF5). This adapter reads them as the SDK ships them
(``CMU_MOSEI_Labels.csd``, the ``All Labels`` sequence, and
``CMU_MOSEI_TimestampedWords.csd``, the ``words`` sequence; needs h5py, in bench's ``full``
extra) or the same content as plain files (``labels.csv``, ``words/<video_id>.csv``), both in
the layout :data:`LAYOUT` defines, together with the three standard fold lists (the SDK's
``cmu_mosei_std_folds.py`` ``standard_{train,valid,test}_fold``, one id per line).

Interval ``i`` of a video is row ``i`` of its ``.csd`` arrays (:mod:`bench.data.csd`); the
plain ``labels.csv`` numbers its rows the same way, so sample ids ``<video_id>_<interval>`` are
the same whichever layout is read (:mod:`bench.data.adapters.mosei_files` reads both).
``python -m bench.data.adapters.mosei_convert --to-plain ROOT`` writes the plain files from the
``.csd`` ones.

Labels are the SDK's emotion columns ``[happy, sad, anger, surprise, disgust, fear]`` (its
label vector minus the leading sentiment; ConCluGen ``cmu_mosei_datamodule.py`` L429), each
a mean Likert intensity in [0, 3] turned into presence: ``> 0`` (ConCluGen's
``label_discretization_threshold: 0.0``, the standard) or, with ``presence="ge1"``, ``>= 1``
(MPUC's effective rule: its ``np.int8`` cast truncates 1/3 and 2/3 to 0 before ``> 0``).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar, Literal

from bench.api import CheckReport, DatasetAdapter, Sample, Split, TaskKind
from bench.data.adapters import _lists
from bench.data.adapters.mosei_files import (
    FOLDS, LABEL_NAMES, LABELS_CSD, LAYOUT, WORDS_CSD, LabelRow, Word, _csd_label_rows, _csd_words,
    _csv_label_rows, _csv_words,
)
from bench.errors import ConfigError, DataError

CONCLUGEN_SKIPS: frozenset[str] = frozenset({"9cxlcpbmrH0_6", "2cwNG0YuwtQ_6"})
"""Segments ConCluGen skips (``cmu_mosei_datamodule.py`` ``VIDEOS_TO_SKIP``, L247)."""

Source = Literal["auto", "csd", "csv"]


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
