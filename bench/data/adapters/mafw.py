"""MAFW (Liu et al., ACM MM 2022): 9,172 single-expression clips, 11 classes, 5 official folds.

MAFW's own split files (``Train & Test Set/single/no_caption/set_N/{train,test}.txt``) come
only with the licensed dataset. Two public conversions of them exist and both are read here;
they hold the same clips per fold and side and the same class for every clip once their
class orders are mapped (checked on all ten lists):

* **A**, DFER-CLIP / MMA-DFER: ``MAFW_set_{k}_{train,test}.txt``, lines
  ``<frame-dir> <num_frames> <label>``, order A (DFER-CLIP ``class_names_11``; MMA-DFER
  ``annotation/preprocessing.py`` L1). MMA-DFER trains with these labels.
* **B**, MAE-DFER: ``split0{k}/{train,test}.csv``, lines ``<frame-dir> <label>`` (no header),
  order B (MAE-DFER ``preprocess/mafw.py``; the MAFW paper's order).
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import ClassVar, Literal

from bench.api import CheckReport, DatasetAdapter, Sample, Split, TaskKind
from bench.data.adapters import _lists
from bench.errors import ConfigError

ORDER_A: tuple[str, ...] = ("happiness", "sadness", "neutral", "anger", "surprise", "disgust", "fear",
                            "contempt", "anxiety", "helplessness", "disappointment")
"""DFER-CLIP ``models/Text.py`` ``class_names_11`` = MMA-DFER ``annotation/preprocessing.py`` L1."""

ORDER_B: tuple[str, ...] = ("anger", "disgust", "fear", "happiness", "neutral", "sadness", "surprise",
                            "contempt", "anxiety", "helplessness", "disappointment")
"""MAE-DFER ``preprocess/mafw.py`` ``labels`` (the MAFW paper's order)."""

A_TO_B: tuple[int, ...] = (3, 5, 4, 0, 6, 1, 2, 7, 8, 9, 10)
"""``A_TO_B[a]`` is the order-B index of order-A class ``a``."""

B_TO_A: tuple[int, ...] = tuple(A_TO_B.index(b) for b in range(len(A_TO_B)))

LAYOUT = """\
<root>/                                   MAFW's data/ folder
  clips/<id>.mp4                          the original clips (<id> = 5 digits), video and audio track
  clips_faces/<id>/<n>.jpg                optional: MMA-DFER's MTCNN face crops (data_utils/
                                          extract_faces_mfaw.py), names NOT zero-padded: 0.jpg, 1.jpg, ...
  clips_wav/<id>.wav                      optional: MMA-DFER's ffmpeg-extracted audio (mp42wav.sh)
  annotation/MAFW_set_{1..5}_{train,test}.txt     lists A (DFER-CLIP / MMA-DFER; MMA-DFER names them
                                          MAFW_set_{1..5}_{train,test}_faces.txt, also read):
                                          '<frame-dir> <num_frames> <label>', class order A
  annotation/split0{1..5}/{train,test}.csv        or lists B (MAE-DFER): '<frame-dir> <label>',
                                          no header, class order B
Only the last component of <frame-dir> (the clip id) is used.
Order A: 0 happiness, 1 sadness, 2 neutral, 3 anger, 4 surprise, 5 disgust, 6 fear, 7 contempt,
         8 anxiety, 9 helplessness, 10 disappointment (DFER-CLIP class_names_11, MMA-DFER)
Order B: 0 anger, 1 disgust, 2 fear, 3 happiness, 4 neutral, 5 sadness, 6 surprise, 7 contempt,
         8 anxiety, 9 helplessness, 10 disappointment (MAE-DFER preprocess/mafw.py, MAFW paper)"""


class MAFW(DatasetAdapter):
    """MAFW's ``data/`` folder with either public conversion of the official fold lists.

    ``lists`` picks the list files (``"auto"``: A when ``annotation/MAFW_set_1_train[_faces].txt``
    exists, else B); ``label_order`` picks the class order the labels are exposed in,
    whatever the lists' own order (default ``"A"``, MMA-DFER's; ``"B"`` is MAE-DFER's and the
    MAFW paper's), mapping by :data:`A_TO_B`. ``sources["video"]`` is the clip's
    ``clips_faces/<id>/`` folder (MMA-DFER's crops; its unpadded frame names sort
    lexicographically in MMA-DFER's loader, ``video_dataloader.py`` L138-139) or ``clips/<id>.mp4``;
    ``sources["audio"]`` is ``clips_wav/<id>.wav`` or the mp4's track. ``video_from`` /
    ``audio_from`` choose; ``"auto"`` uses the optional folders when they exist.
    ``meta["num_frames"]`` is list A's frame count (MMA-DFER's is file count minus one);
    lists B carry none. Subjects unknown; group = clip id.
    """

    name = "mafw"
    task: ClassVar[TaskKind] = "classification"
    label_names = ORDER_A
    label_names_source = "order A: DFER-CLIP models/Text.py class_names_11 (MMA-DFER's labels)"
    modalities = ("video", "audio")
    layout = LAYOUT
    expected_counts: ClassVar[dict[str, int]] = {
        "fold1/train": 7333, "fold1/test": 1839, "fold2/train": 7335, "fold2/test": 1837,
        "fold3/train": 7339, "fold3/test": 1833, "fold4/train": 7340, "fold4/test": 1832,
        "fold5/train": 7341, "fold5/test": 1831,
    }
    """Fold sizes of the official single-expression split (counted from both public list sets)."""

    def __init__(
        self,
        root: Path,
        *,
        lists: Literal["auto", "A", "B"] = "auto",
        label_order: Literal["A", "B"] = "A",
        video_from: Literal["auto", "faces", "original"] = "auto",
        audio_from: Literal["auto", "wav", "original"] = "auto",
    ) -> None:
        super().__init__(root)
        for key, value, valid in (("lists", lists, ("auto", "A", "B")), ("label_order", label_order, ("A", "B")),
                                  ("video_from", video_from, ("auto", "faces", "original")),
                                  ("audio_from", audio_from, ("auto", "wav", "original"))):
            if value not in valid:
                raise ConfigError(f"mafw: {key} must be one of {', '.join(map(repr, valid))}, got {value!r}")
        self.lists = lists
        self.label_order = label_order
        self.video_from = video_from
        self.audio_from = audio_from
        if label_order == "B":
            self.label_names = ORDER_B
            self.label_names_source = "order B: MAE-DFER preprocess/mafw.py labels (the MAFW paper's order)"

    def list_path(self, source: Literal["A", "B"], fold: int, side: str) -> Path:
        """Where the list of ``side`` (train or test) of fold ``fold`` (1..5) is in list set ``source``.

        List set A is read under DFER-CLIP's name ``MAFW_set_{k}_{side}.txt`` or, where only that
        exists, under MMA-DFER's ``MAFW_set_{k}_{side}_faces.txt`` (its ``annotation/`` folder).
        """
        if source == "A":
            plain = self.root / "annotation" / f"MAFW_set_{fold}_{side}.txt"
            faces = plain.with_name(f"MAFW_set_{fold}_{side}_faces.txt")
            return faces if not plain.is_file() and faces.is_file() else plain
        return self.root / "annotation" / f"split0{fold}" / f"{side}.csv"

    def list_source(self) -> Literal["A", "B"]:
        """The list set in use: the ``lists`` switch, or under ``"auto"`` the one on disk (A first)."""
        if self.lists != "auto":
            return self.lists
        return "A" if self.list_path("A", 1, "train").is_file() else "B"

    @functools.cached_property
    def _parsed(self) -> tuple[list[Split], dict[str, _lists.Entry]]:
        _lists.require_root(self.root, self.name, self.layout)
        source = self.list_source()
        sides = []
        for k in range(1, 6):
            train, test = (
                _lists.read_clip_list(_lists.require_file(self.list_path(source, k, side), self.layout),
                                      with_num_frames=source == "A", num_classes=len(ORDER_A), clip_pattern=r"\d{5}")
                for side in ("train", "test")
            )
            sides.append((train, test))
        return _lists.assemble_folds(sides)

    def _label(self, listed: int) -> int:
        """A list label in the exposed order."""
        source = self.list_source()
        if source == self.label_order:
            return listed
        return A_TO_B[listed] if source == "A" else B_TO_A[listed]

    def _video(self, clip: str) -> Path:
        faces = self.root / "clips_faces"
        use_faces = self.video_from == "faces" or (self.video_from == "auto" and faces.is_dir())
        return faces / clip if use_faces else self.root / "clips" / f"{clip}.mp4"

    def _audio(self, clip: str) -> Path:
        wavs = self.root / "clips_wav"
        use_wav = self.audio_from == "wav" or (self.audio_from == "auto" and wavs.is_dir())
        return wavs / f"{clip}.wav" if use_wav else self.root / "clips" / f"{clip}.mp4"

    def samples(self) -> list[Sample]:
        entries = self._parsed[1]
        return [
            Sample(clip, self._label(entries[clip].label), {"video": self._video(clip), "audio": self._audio(clip)},
                   meta={"num_frames": entries[clip].num_frames})
            for clip in sorted(entries)
        ]

    def official_folds(self) -> list[Split]:
        return list(self._parsed[0])

    def check(self) -> CheckReport:
        """Fold sizes against the official ones, every clip in one test list, every source readable."""
        folds = self.official_folds()
        counts = {"clips": len(self._parsed[1]), **_lists.fold_counts(folds)}
        problems = _lists.count_problems(counts, self.expected_counts, "MAFW official single-expression folds")
        problems += [f"clip {c} is in no fold's test list" for c in _lists.untested(folds)]
        problems += _lists.media_problems(self.samples())
        return CheckReport(self.name, self.root, counts, tuple(problems))
