"""Aff-Wild (Kollias et al., IJCV 2019; Zafeiriou et al., CVPRW 2017): per-frame valence and arousal.

Layout (as the dataset is distributed; none of it is in ``../shared``, so nothing here is
verified on real files)::

    <root>/annotations/{train,test}/valence/<video>.txt   one value in [-1, 1] per line, one line
    <root>/annotations/{train,test}/arousal/<video>.txt   per frame of the video (release docs)
    <root>/videos/{train,test}/<video>.<ext>               the videos (not read by this adapter)
    <root>/frames/<video>/<N>.jpg|.png                     frames extracted from the video

Taken from the dataset's documentation: the ``annotations/{train,test}/{valence,arousal}``
folders, one value per frame, values in [-1, 1], 252 training and 46 test videos (the test
annotations were released after the 2017 challenge). bench's own convention (the release
ships videos, not frames): ``frames/<video>/`` holds every frame of the video as an image
numbered consecutively from 0 or 1 (e.g. ``ffmpeg -i videos/train/105.avi frames/105/%05d.png``);
the i-th image in numeric order is the frame of the i-th annotation line.

Frame-level samples, grouped by video: one sample per frame, ``id`` ``<video>/<image stem>``,
``group`` the video, ``subject`` None (Aff-Wild ships no identity list; a video shows one
person, but a person may appear in several videos), ``label`` ``(valence, arousal)``,
``sources["video"]`` the frame's image. ``meta``: ``video``, ``frame`` (0-based line index),
``partition`` (``train`` / ``test``). :meth:`AffWild.official_split` is the official train/test
partition by video (no validation set).

Option ``partitions`` (protocol ``dataset_options``, ``bench prepare --option``): the official
partitions whose videos are samples, default both. ``partitions: [train]`` is what AVCE's
"sampled train set" evaluation (``protocols/affwild_sampled_train.yaml``) splits: only the
training videos, whose annotations were public in 2017. Every partition's annotation folders
are still read for the cross-partition checks (a video annotated in both is an error).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar

from bench.api import CheckReport, DatasetAdapter, Sample, Split, TaskKind
from bench.errors import ConfigError, DataError

PARTITIONS: tuple[str, ...] = ("train", "test")
VIDEOS_PER_PARTITION: dict[str, int] = {"train": 252, "test": 46}
"""Aff-Wild's official partition sizes (Kollias et al., IJCV 2019)."""
IMAGE_SUFFIXES: tuple[str, ...] = (".jpg", ".png")
_NUMBER = re.compile(r"^\d+$")
_SHOWN = 5

LAYOUT = """\
<root>/annotations/{train,test}/valence/<video>.txt   one value in [-1, 1] per frame, one per line
<root>/annotations/{train,test}/arousal/<video>.txt
<root>/frames/<video>/<N>.jpg|.png                     every frame of the video, numbered consecutively
                                                       from 0 or 1 (extracted from videos/{train,test}/)"""


def chosen_partitions(dataset: str, partitions: Sequence[str], known: Sequence[str]) -> tuple[str, ...]:
    """The ``partitions`` option checked against ``known``: a non-empty list without repeats, in ``known`` order."""
    if isinstance(partitions, str) or not isinstance(partitions, Sequence) or not partitions:
        raise ConfigError(f"{dataset}: partitions must be a non-empty list of {', '.join(known)}, got {partitions!r}")
    wrong = [p for p in partitions if p not in known]
    if wrong:
        raise ConfigError(f"{dataset}: partitions {wrong!r} unknown; the official partitions are {', '.join(known)}")
    if len(set(partitions)) != len(partitions):
        raise ConfigError(f"{dataset}: partitions {list(partitions)!r} lists a partition twice")
    return tuple(p for p in known if p in partitions)


def few(items: list[str]) -> str:
    """Up to five items, then how many more."""
    return ", ".join(items[:_SHOWN]) + (f", ... ({len(items) - _SHOWN} more)" if len(items) > _SHOWN else "")


def numbered_images(folder: Path) -> dict[int, Path]:
    """The ``.jpg`` / ``.png`` images of ``folder`` by the number their name is; DataError otherwise."""
    if not folder.is_dir():
        raise DataError(f"{folder}: no frame folder (expected one image per frame, named by frame number)")
    images: dict[int, Path] = {}
    for path in sorted(folder.iterdir()):
        if path.name.startswith(".") or path.suffix.lower() not in IMAGE_SUFFIXES:
            continue
        if not _NUMBER.match(path.stem):
            raise DataError(f"{path}: frame image name is not a frame number")
        number = int(path.stem)
        if number in images:
            raise DataError(f"{path}: frame {number} has a second image; the first is {images[number]}")
        images[number] = path
    return images


def parse_value(path: Path, line: int, text: str, axis: str, frame: str | None = None) -> float:
    """One valence or arousal value in [-1, 1]; a DataError names the file, line and frame otherwise.

    ``frame`` is how the error names the frame of that line (default: ``frame <line>``, the
    line-th frame of the video, as Aff-Wild's one-value-per-frame files count them).
    """
    where = f"{path}:{line}: {axis} of {frame or f'frame {line}'}"
    try:
        value = float(text)
    except ValueError:
        raise DataError(f"{where} {text.strip()!r} is not a number") from None
    if not math.isfinite(value) or not -1.0 <= value <= 1.0:
        raise DataError(f"{where} {value!r} is outside [-1, 1]")
    return value


def _read_values(path: Path, axis: str) -> list[float]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise DataError(f"{path}: cannot read {axis} annotation ({error})") from None
    while lines and not lines[-1].strip():
        lines.pop()
    if not lines:
        raise DataError(f"{path}: {axis} annotation has no lines (expected one value per frame)")
    return [parse_value(path, number, text, axis) for number, text in enumerate(lines, 1)]


def _video_samples(root: Path, partition: str, video: str) -> list[Sample]:
    folder = root / "annotations" / partition
    valence_file, arousal_file = folder / "valence" / f"{video}.txt", folder / "arousal" / f"{video}.txt"
    if not arousal_file.is_file():
        raise DataError(f"{arousal_file}: missing; {valence_file} has no arousal counterpart")
    valence, arousal = _read_values(valence_file, "valence"), _read_values(arousal_file, "arousal")
    if len(valence) != len(arousal):
        raise DataError(f"{valence_file} has {len(valence)} lines but {arousal_file} has {len(arousal)}")
    frames = root / "frames" / video
    images = numbered_images(frames)
    if len(images) != len(valence):
        raise DataError(
            f"{frames}: video {video} has {len(images)} frame images but its annotation "
            f"{valence_file} has {len(valence)} frame lines"
        )
    numbers = sorted(images)
    if numbers[0] not in (0, 1):
        raise DataError(f"{frames}: frame images must be numbered from 0 or 1; the first is {images[numbers[0]].name}")
    gaps = [n + 1 for n, m in zip(numbers, numbers[1:]) if m != n + 1]
    if gaps:
        raise DataError(f"{frames}: frame images must be numbered consecutively; frame {gaps[0]} is missing")
    return [
        Sample(
            id=f"{video}/{images[number].stem}",
            label=(v, a),
            sources={"video": images[number]},
            group=video,
            meta={"video": video, "frame": index, "partition": partition},
        )
        for index, (number, v, a) in enumerate(zip(numbers, valence, arousal))
    ]


class AffWild(DatasetAdapter):
    """Aff-Wild frame-level valence/arousal regression in [-1, 1] (AVCE Table 2).

    See the module docstring for the layout (what is from the dataset's documentation and
    what is bench's frame-extraction convention) and how frames are grouped by video.
    """

    name = "affwild"
    task: ClassVar[TaskKind] = "regression"
    label_names = ("valence", "arousal")
    label_names_source = "Aff-Wild annotation folders valence/, arousal/"
    modalities = ("video",)
    layout = LAYOUT

    def __init__(self, root: Path, *, partitions: Sequence[str] = PARTITIONS) -> None:
        super().__init__(root)
        self.partitions = chosen_partitions(self.name, partitions, PARTITIONS)

    def _videos(self) -> dict[str, list[str]]:
        """Chosen partition -> its annotated videos (by the valence files), each video in one partition."""
        videos = {
            partition: sorted(p.stem for p in (self.root / "annotations" / partition / "valence").glob("*.txt"))
            for partition in PARTITIONS
        }
        both = sorted(set(videos["train"]) & set(videos["test"]))
        if both:
            raise DataError(f"{self.root / 'annotations'}: video(s) {few(both)} are annotated in both train and test")
        for partition in PARTITIONS:
            orphans = sorted(
                p.stem for p in (self.root / "annotations" / partition / "arousal").glob("*.txt")
                if p.stem not in videos[partition]
            )
            if orphans:
                raise DataError(
                    f"{self.root / 'annotations' / partition / 'arousal'}: {few(orphans)} have no valence file"
                )
        if not any(videos[p] for p in self.partitions):
            raise DataError(f"{self.root}: no Aff-Wild annotation files found in {' or '.join(self.partitions)}; "
                            f"expected:\n{LAYOUT}")
        return {p: videos[p] for p in self.partitions}

    def samples(self) -> list[Sample]:
        """Every frame of every annotated video of the chosen partitions: train, then test, in name order."""
        return [
            sample
            for partition, names in self._videos().items()
            for video in names
            for sample in _video_samples(self.root, partition, video)
        ]

    def official_split(self) -> Split:
        """Train videos vs test videos (Aff-Wild has no official validation set)."""
        if self.partitions != PARTITIONS:
            raise DataError(f"{self.name}: the official split needs both partitions, but this adapter was opened "
                            f"with partitions={list(self.partitions)} (drop the option)")
        samples = self.samples()
        test = tuple(s.id for s in samples if s.meta["partition"] == "test")
        if not test:
            raise DataError(f"{self.root / 'annotations' / 'test'}: no test annotations (needed by the official split)")
        train = tuple(s.id for s in samples if s.meta["partition"] == "train")
        return Split("official", train=train, test=test)

    def check(self) -> CheckReport:
        """Videos and frames per chosen partition against 252 / 46 videos; every unreadable video; empty images."""
        videos = self._videos()
        problems: list[str] = []
        counts: dict[str, int] = {}
        for partition, names in videos.items():
            frames = 0
            for video in names:
                try:
                    samples = _video_samples(self.root, partition, video)
                except DataError as error:
                    problems.append(str(error))
                    continue
                frames += len(samples)
                problems.extend(
                    f"{s.sources['video']}: empty frame image" for s in samples
                    if isinstance(s.sources["video"], Path) and s.sources["video"].stat().st_size == 0
                )
            counts[f"{partition}_videos"], counts[f"{partition}_frames"] = len(names), frames
            if len(names) != VIDEOS_PER_PARTITION[partition]:
                problems.append(
                    f"{self.root / 'annotations' / partition}: {len(names)} videos, "
                    f"Aff-Wild's {partition} set has {VIDEOS_PER_PARTITION[partition]}"
                )
        return CheckReport(self.name, self.root, counts, tuple(problems))
