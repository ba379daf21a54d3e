"""MELD (Poria et al., ACL 2019): 13,708 utterances of *Friends* dialogues, 7 emotions, official split.

Read from the official ``{train,dev,test}_sent_emo.csv`` (UTF-8, quoted commas, non-ASCII
text: parsed with :mod:`csv`) and the clips of MELD.Raw, ``dia{D}_utt{U}.mp4``. The CSVs fix
no integer order; ConCluGen indexes its labels by
``['neutral','surprise','fear','sadness','joy','disgust','anger']`` (``meld_datamodule.py``
L211, ``self.labels.index(line['Emotion'])``), the default here.
"""

from __future__ import annotations

import csv
import functools
from pathlib import Path
from typing import Any, ClassVar, Literal

from bench.api import CheckReport, DatasetAdapter, Sample, Split, TaskKind
from bench.data.adapters import _lists
from bench.errors import ConfigError, DataError

CONCLUGEN_ORDER: tuple[str, ...] = ("neutral", "surprise", "fear", "sadness", "joy", "disgust", "anger")
"""ConCluGen ``meld_datamodule.py``'s label list (the index its data is built with)."""

README_ORDER: tuple[str, ...] = ("neutral", "joy", "sadness", "anger", "surprise", "fear", "disgust")
"""The order of the Emotion column description in MELD's README."""

SPLITS: tuple[tuple[str, str, str], ...] = (
    ("train", "train_sent_emo.csv", "train_splits"),
    ("dev", "dev_sent_emo.csv", "dev_splits_complete"),
    ("test", "test_sent_emo.csv", "output_repeated_splits_test"),
)
"""(split, CSV, clip folder) as MELD.Raw ships them; ConCluGen reads the test clips from the same folder."""

CONCLUGEN_DROPS: dict[str, tuple[str, ...]] = {"train": ("dia110_utt7", "dia125_utt3"), "dev": ("dia110_utt7",)}
"""Utterances ConCluGen removes (``meld_datamodule.py`` ``_extract_data``, its ``corrupted_videos``):
``train_splits/dia125_utt3.mp4`` is corrupt (declare-lab/MELD issue #39); the train CSV has no
``dia110_utt7`` row, so this removes one train and one dev utterance."""

COLUMNS: tuple[str, ...] = ("Utterance", "Speaker", "Emotion", "Sentiment", "Dialogue_ID", "Utterance_ID")

LAYOUT = """\
<root>/                                   MELD.Raw with its three tarballs extracted in place
  train_sent_emo.csv  dev_sent_emo.csv  test_sent_emo.csv      the official annotation CSVs
  train_splits/dia{D}_utt{U}.mp4          train clips
  dev_splits_complete/dia{D}_utt{U}.mp4   dev clips (the validation side)
  output_repeated_splits_test/dia{D}_utt{U}.mp4                 test clips
CSV columns used: Utterance, Speaker, Emotion, Sentiment, Dialogue_ID, Utterance_ID.
Class order (default, ConCluGen meld_datamodule.py): 0 neutral, 1 surprise, 2 fear, 3 sadness,
4 joy, 5 disgust, 6 anger; label_order='readme': neutral, joy, sadness, anger, surprise, fear, disgust."""


class MELD(DatasetAdapter):
    """MELD's official CSVs and clips: sample ``<split>_dia<D>_utt<U>`` per CSV row.

    ``sources`` = the clip (``video`` and ``audio``, its track) and the row's Utterance
    (``text``, inline). ``subject`` = Speaker; ``group`` = the dialogue ``<split>_dia<D>``
    (a dialogue's utterances share context, so a custom split keeps them together; Dialogue_IDs
    restart in every split, hence the prefix). ``meta`` holds sentiment, ids, season, episode
    and times. :meth:`official_split` = train / val = dev / test (9,989 / 1,109 / 2,610).
    ``label_order`` = ``"conclugen"`` (default) or ``"readme"``; ``conclugen_drops`` removes
    :data:`CONCLUGEN_DROPS` as ConCluGen does (off by default).
    """

    name = "meld"
    task: ClassVar[TaskKind] = "classification"
    label_names = CONCLUGEN_ORDER
    label_names_source = "ConCluGen meld_datamodule.py labels (index of line['Emotion'])"
    modalities = ("video", "audio", "text")
    layout = LAYOUT
    known_sizes: ClassVar[dict[str, int]] = {"train": 9989, "dev": 1109, "test": 2610}
    """Rows of the official CSVs (MELD README; counted with pandas and csv)."""

    def __init__(self, root: Path, *, label_order: Literal["conclugen", "readme"] = "conclugen",
                 conclugen_drops: bool = False) -> None:
        super().__init__(root)
        if label_order not in ("conclugen", "readme"):
            raise ConfigError(f"meld: label_order must be 'conclugen' or 'readme', got {label_order!r}")
        self.label_order = label_order
        self.conclugen_drops = bool(conclugen_drops)
        if label_order == "readme":
            self.label_names = README_ORDER
            self.label_names_source = "MELD README, Emotion column description"

    @property
    def expected_counts(self) -> dict[str, int]:
        """The official sizes, less ConCluGen's drops when they are switched on."""
        if not self.conclugen_drops:
            return dict(self.known_sizes)
        return {"train": 9988, "dev": 1108, "test": 2610}

    def _read(self, split: str, csv_name: str, folder: str) -> list[Sample]:
        path = _lists.require_file(self.root / csv_name, self.layout)
        dropped = set(CONCLUGEN_DROPS.get(split, ())) if self.conclugen_drops else set()
        samples = []
        seen: dict[str, int] = {}
        try:
            with path.open(newline="", encoding="utf-8") as handle:
                reader = csv.DictReader(handle)
                missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
                if missing:
                    raise DataError(f"{path}, line 1: header lacks column(s) {', '.join(missing)}; "
                                    f"expected MELD's columns including {', '.join(COLUMNS)}")
                for row in reader:
                    where = f"{path}, line {reader.line_num}"
                    clip = self._clip(row, where)
                    if clip in seen:
                        raise DataError(f"{where}: {clip} is listed twice (first on line {seen[clip]})")
                    seen[clip] = reader.line_num
                    if clip in dropped:
                        continue
                    samples.append(self._sample(split, clip, folder, row, where))
        except (OSError, UnicodeDecodeError, csv.Error) as error:
            raise DataError(f"{path}: cannot read MELD CSV ({error})") from error
        return samples

    @staticmethod
    def _clip(row: dict[str, Any], where: str) -> str:
        ids = []
        for column in ("Dialogue_ID", "Utterance_ID"):
            value = (row.get(column) or "").strip()
            if not value.isdigit():
                raise DataError(f"{where}: {column} {value!r} is not a non-negative integer")
            ids.append(int(value))
        return f"dia{ids[0]}_utt{ids[1]}"

    def _sample(self, split: str, clip: str, folder: str, row: dict[str, Any], where: str) -> Sample:
        emotion = (row.get("Emotion") or "").strip()
        if emotion not in self.label_names:
            raise DataError(f"{where}: Emotion {emotion!r} is not one of {', '.join(self.label_names)}")
        media = self.root / folder / f"{clip}.mp4"
        meta: dict[str, Any] = {"split": split, "sentiment": row["Sentiment"], "dialogue": int(row["Dialogue_ID"]),
                                "utterance": int(row["Utterance_ID"])}
        meta.update({k.lower(): row[k] for k in ("Season", "Episode", "StartTime", "EndTime") if k in row})
        return Sample(f"{split}_{clip}", self.label_names.index(emotion),
                      {"video": media, "audio": media, "text": row["Utterance"]},
                      subject=row["Speaker"], group=f"{split}_dia{meta['dialogue']}", meta=meta)

    @functools.cached_property
    def _by_split(self) -> dict[str, list[Sample]]:
        _lists.require_root(self.root, self.name, self.layout)
        return {split: self._read(split, csv_name, folder) for split, csv_name, folder in SPLITS}

    def samples(self) -> list[Sample]:
        return [s for split in self._by_split.values() for s in split]

    def official_split(self) -> Split:
        ids = {split: tuple(s.id for s in samples) for split, samples in self._by_split.items()}
        return Split("official", ids["train"], ids["test"], ids["dev"])

    def check(self) -> CheckReport:
        """Utterances per split against the official sizes, and every clip readable."""
        counts = {split: len(samples) for split, samples in self._by_split.items()}
        problems = _lists.count_problems(counts, self.expected_counts, "MELD official CSVs")
        problems += _lists.media_problems(self.samples())
        return CheckReport(self.name, self.root, counts, tuple(problems))
