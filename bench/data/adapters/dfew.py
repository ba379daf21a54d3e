"""DFEW (Jiang et al., ACM MM 2020): 11,697 single-labelled movie clips, 7 classes, 5 official folds.

The official split files (``EmoLabel_DataSplit``) come only with the licensed dataset; the
fold lists MMA-DFER trains on are DFER-CLIP's conversion of them, one clip per line as
``<frame-dir> <num_frames> <label0>`` (MMA-DFER ``annotation/``; checked identical to
DFER-CLIP's for all five folds). Those lists are what this adapter reads.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import ClassVar, Literal

from bench.api import CheckReport, DatasetAdapter, Sample, Split, TaskKind
from bench.data.adapters import _lists
from bench.errors import ConfigError

LABEL_NAMES: tuple[str, ...] = ("happiness", "sadness", "neutral", "anger", "surprise", "disgust", "fear")

LAYOUT = """\
<root>/                                   the DFEW release
  Clip/clip_224x224/<id>/*.jpg            face frames shipped with DFEW (<id> = 5 digits, 00001..16372)
  Clip/original/<id>.mp4                  the original clips (video, and audio from their track)
  raw_wav/<int(id)>.wav                   optional: MMA-DFER's ffmpeg-extracted audio, leading zeros
                                          stripped (00025 -> 25.wav), as its data loader expects
  annotation/DFEW_set_{1..5}_{train,test}.txt
                                          the fold lists of DFER-CLIP / MMA-DFER: one clip per line,
                                          '<frame-dir> <num_frames> <label0>'; only the last
                                          component of <frame-dir> (the clip id) is used
Class order (label0): 0 happiness, 1 sadness, 2 neutral, 3 anger, 4 surprise, 5 disgust, 6 fear
(DFEW's official 1-based labels minus one; MMA-DFER main.py, DFER-CLIP models/Text.py)."""


class DFEW(DatasetAdapter):
    """DFEW as shipped, with the DFER-CLIP / MMA-DFER fold lists in ``annotation/``.

    Samples are the clips of the lists (sorted by id), labelled with the lists' 0-based label.
    ``sources["video"]`` is the clip's face-frame folder ``Clip/clip_224x224/<id>/`` (what
    MMA-DFER reads) or its original mp4; ``sources["audio"]`` is ``raw_wav/<int(id)>.wav``
    (MMA-DFER's ``mp42wav.sh`` output, path rule of its ``video_dataloader.py``) or the mp4's
    audio track. ``video_from`` / ``audio_from`` choose; ``"auto"`` takes the frames when
    ``Clip/clip_224x224/`` exists and the wavs when ``raw_wav/`` exists, else the mp4.
    ``meta["num_frames"]`` is the list's frame count (MMA-DFER samples frames by it).
    Subjects are unknown (DFEW's folds are official; people are not named); group = clip id.
    """

    name = "dfew"
    task: ClassVar[TaskKind] = "classification"
    label_names = LABEL_NAMES
    label_names_source = "DFEW official labels minus one (MMA-DFER main.py L532-540, DFER-CLIP models/Text.py)"
    modalities = ("video", "audio")
    layout = LAYOUT
    video_face_crops = True  # Clip/clip_224x224/ holds face crops (the default video source)
    expected_counts: ClassVar[dict[str, int]] = {
        "fold1/train": 9356, "fold1/test": 2341, "fold2/train": 9356, "fold2/test": 2341,
        "fold3/train": 9357, "fold3/test": 2340, "fold4/train": 9358, "fold4/test": 2339,
        "fold5/train": 9361, "fold5/test": 2336,
    }
    """Fold sizes of the official single-labelled split (counted from the MMA-DFER / DFER-CLIP lists)."""

    def __init__(
        self,
        root: Path,
        *,
        video_from: Literal["auto", "frames", "original"] = "auto",
        audio_from: Literal["auto", "raw_wav", "original"] = "auto",
    ) -> None:
        super().__init__(root)
        if video_from not in ("auto", "frames", "original"):
            raise ConfigError(f"dfew: video_from must be 'auto', 'frames' or 'original', got {video_from!r}")
        if audio_from not in ("auto", "raw_wav", "original"):
            raise ConfigError(f"dfew: audio_from must be 'auto', 'raw_wav' or 'original', got {audio_from!r}")
        self.video_from = video_from
        self.audio_from = audio_from

    def list_path(self, fold: int, side: str) -> Path:
        """Where the list of ``side`` (train or test) of fold ``fold`` (1..5) is."""
        return self.root / "annotation" / f"DFEW_set_{fold}_{side}.txt"

    @functools.cached_property
    def _parsed(self) -> tuple[list[Split], dict[str, _lists.Entry]]:
        _lists.require_root(self.root, self.name, self.layout)
        sides = []
        for k in range(1, 6):
            train, test = (
                _lists.read_clip_list(_lists.require_file(self.list_path(k, side), self.layout),
                                      with_num_frames=True, num_classes=len(self.label_names), clip_pattern=r"\d{5}")
                for side in ("train", "test")
            )
            sides.append((train, test))
        return _lists.assemble_folds(sides)

    def _video(self, clip: str) -> Path:
        frames = self.root / "Clip" / "clip_224x224"
        use_frames = self.video_from == "frames" or (self.video_from == "auto" and frames.is_dir())
        return frames / clip if use_frames else self.root / "Clip" / "original" / f"{clip}.mp4"

    def _audio(self, clip: str) -> Path:
        wavs = self.root / "raw_wav"
        use_wav = self.audio_from == "raw_wav" or (self.audio_from == "auto" and wavs.is_dir())
        return wavs / f"{int(clip)}.wav" if use_wav else self.root / "Clip" / "original" / f"{clip}.mp4"

    def samples(self) -> list[Sample]:
        entries = self._parsed[1]
        return [
            Sample(clip, entries[clip].label, {"video": self._video(clip), "audio": self._audio(clip)},
                   meta={"num_frames": entries[clip].num_frames})
            for clip in sorted(entries)
        ]

    def official_folds(self) -> list[Split]:
        return list(self._parsed[0])

    def check(self) -> CheckReport:
        """Fold sizes against the official ones, every clip in one test list, every source readable."""
        folds = self.official_folds()
        counts = {"clips": len(self._parsed[1]), **_lists.fold_counts(folds)}
        problems = _lists.count_problems(counts, self.expected_counts, "DFEW official folds")
        problems += [f"clip {c} is in no fold's test list" for c in _lists.untested(folds)]
        problems += _lists.media_problems(self.samples())
        return CheckReport(self.name, self.root, counts, tuple(problems))
