"""CAER (Lee et al., ICCV 2019): 13,175 TV-show clips in 7 emotion folders per official split.

The split *is* the folder tree: ``train/``, ``validation/`` and ``test/``, each with one
folder per class holding ``<NNNN>.avi``. ConCluGen reads it the same way
(``caer_video_datamodule.py``: ``glob('<subset>/**/*.avi')``, class from the parent folder,
id ``<ClassFolder>_<clip>``, ``validation`` renamed ``val``) and indexes the classes by
``CAER_EXPRESSION_LABELS`` (``constants.py``), the alphabetical folder order.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import ClassVar

from bench.api import CheckReport, DatasetAdapter, Sample, Split, TaskKind
from bench.data.adapters import _lists
from bench.errors import DataError

LABEL_NAMES: tuple[str, ...] = ("Anger", "Disgust", "Fear", "Happy", "Neutral", "Sad", "Surprise")
"""ConCluGen ``src/utils/constants.py`` ``CAER_EXPRESSION_LABELS``."""

ALIASES: dict[str, str] = {"Angry": "Anger"}
"""Folder names ConCluGen's ``label_util.class_index_for_fer_label`` also maps (CAER-S's train folder)."""

SPLITS: tuple[str, ...] = ("train", "validation", "test")

LAYOUT = """\
<root>/                                   the CAER release
  train/<Class>/<NNNN>.avi                <Class> one of Anger, Disgust, Fear, Happy, Neutral, Sad, Surprise
  validation/<Class>/<NNNN>.avi           (the validation side of the official split)
  test/<Class>/<NNNN>.avi
  transcripts/<split>/<Class>_<NNNN>.txt  optional: one transcript per clip (CAER ships no text;
                                          ConCluGen transcribes with facebook/s2t-large-librispeech-asr)
Class order: 0 Anger, 1 Disgust, 2 Fear, 3 Happy, 4 Neutral, 5 Sad, 6 Surprise (alphabetical;
ConCluGen constants.py CAER_EXPRESSION_LABELS). A folder 'Angry' is read as Anger."""


class CAER(DatasetAdapter):
    """CAER's class folders: sample ``<split>_<Class>_<clip>`` per ``.avi``.

    Clip names restart in every class folder and split, hence the prefixes; ConCluGen's
    ``<Class>_<clip>`` is unique only within a split. ``sources`` = the avi (``video`` and its
    audio track as ``audio``) and, when ``transcripts/`` exists, the transcript text. Subjects
    are unknown; group = the sample. :meth:`official_split` = train / val = validation / test.
    """

    name = "caer"
    task: ClassVar[TaskKind] = "classification"
    label_names = LABEL_NAMES
    label_names_source = "ConCluGen src/utils/constants.py CAER_EXPRESSION_LABELS (alphabetical folders)"
    modalities = ("video", "audio", "text")
    layout = LAYOUT
    expected_counts: ClassVar[dict[str, int]] = {"clips": 13175}
    """Clips of CAER's video release (ConCluGen caer_video_datamodule.py _init_counts_for_data_keys)."""

    def _text(self, split: str, key: str) -> str:
        path = self.root / "transcripts" / split / f"{key}.txt"
        try:
            return path.read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            raise DataError(f"{path}: transcript not found; with transcripts/ present every clip needs one "
                            f"(layout:\n{self.layout})") from None
        except (OSError, UnicodeDecodeError) as error:
            raise DataError(f"{path}: cannot read transcript ({error})") from error

    def _split(self, split: str) -> list[Sample]:
        folder = self.root / split
        if not folder.is_dir():
            raise DataError(f"{folder}: split folder not found; CAER is expected laid out as:\n{self.layout}")
        with_text = (self.root / "transcripts").is_dir()
        samples = []
        for class_dir in sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")):
            label_name = ALIASES.get(class_dir.name, class_dir.name)
            if label_name not in LABEL_NAMES:
                raise DataError(f"{class_dir}: unknown class folder; expected one of {', '.join(LABEL_NAMES)}")
            for clip in sorted(p for p in class_dir.glob("*.avi") if not p.name.startswith(".")):
                key = f"{class_dir.name}_{clip.stem}"
                sources: dict[str, Path | str] = {"video": clip, "audio": clip}
                if with_text:
                    sources["text"] = self._text(split, key)
                samples.append(Sample(f"{split}_{key}", LABEL_NAMES.index(label_name), sources,
                                      meta={"split": split, "file": f"{split}/{class_dir.name}/{clip.name}"}))
        return samples

    @functools.cached_property
    def _by_split(self) -> dict[str, list[Sample]]:
        _lists.require_root(self.root, self.name, self.layout)
        return {split: self._split(split) for split in SPLITS}

    def samples(self) -> list[Sample]:
        return [s for split in self._by_split.values() for s in split]

    def official_split(self) -> Split:
        ids = {split: tuple(s.id for s in samples) for split, samples in self._by_split.items()}
        return Split("official", ids["train"], ids["test"], ids["validation"])

    def check(self) -> CheckReport:
        """Clips per split (the total against CAER's 13,175) and every clip readable."""
        counts = {split: len(samples) for split, samples in self._by_split.items()}
        counts["clips"] = sum(counts.values())
        problems = _lists.count_problems(counts, self.expected_counts, "CAER video release")
        problems += [f"{self.root / s}: split folder holds no clips" for s in SPLITS if not counts[s]]
        problems += _lists.media_problems(self.samples())
        return CheckReport(self.name, self.root, counts, tuple(problems))
