"""Aff-Wild2, valence-arousal track of the ABAW challenges (Kollias & Zafeiriou 2019-2022).

Layout (as the ABAW organisers distribute it; none of it is in ``../shared``, so nothing here is
verified on real files)::

    <root>/annotations/VA_Estimation_Challenge/Train_Set/<video>.txt
    <root>/annotations/VA_Estimation_Challenge/Validation_Set/<video>.txt
    <root>/cropped_aligned/<video>/<NNNNN>.jpg

Taken from the dataset's documentation: an annotation file per video (``<video>_left`` /
``<video>_right`` when two people are annotated in one video), first line ``valence,arousal``,
then one ``valence,arousal`` line per frame of the video, values in [-1, 1], ``-5`` marking a
frame that is not annotated (such a line is skipped when either value is -5); ``cropped_aligned/<video>/<NNNNN>.jpg`` the organisers' cropped and
aligned face of frame NNNNN, 1-based (line k + 1 of the file is frame k). The ABAW 2021 release
names the annotation folder ``VA_Set`` instead of ``VA_Estimation_Challenge``; both are
accepted. Not verified, and an assumption of this adapter: frames where the organisers' detector
found no face have no image, so an annotated line without an image is skipped (and counted by
:meth:`AffWild2.check`), while an image numbered beyond the annotation lines is an error.

Frame-level samples, grouped by video: one sample per annotated frame with an image, ``id``
``<annotation name>/<NNNNN>``, ``group`` the video (the annotation name without ``_left`` /
``_right``, so the two people of one video stay on one side), ``subject`` None (no identity
list ships), ``label`` ``(valence, arousal)``, ``sources["video"]`` the cropped face.
``meta``: ``video`` (annotation name), ``frame`` (number), ``partition``.
:meth:`AffWild2.official_split` trains on Train_Set and tests on Validation_Set, the evaluation
set of AVCE Table 3 (the challenge test labels are not public).

Option ``partitions`` (protocol ``dataset_options``, ``bench prepare --option``): the partitions
(``train``, ``validation``) whose videos are samples, default both; every partition is still
read for the cross-partition check.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar

from bench.api import CheckReport, DatasetAdapter, Sample, Split, TaskKind
from bench.data.adapters.affwild import chosen_partitions, few, numbered_images, parse_value
from bench.errors import DataError

ANNOTATION_FOLDERS: tuple[str, ...] = ("VA_Estimation_Challenge", "VA_Set")
"""The VA annotation folder under ``annotations/``: ABAW 2022 name first, then ABAW 2021's."""
PARTITIONS: dict[str, str] = {"train": "Train_Set", "validation": "Validation_Set"}
HEADER = "valence,arousal"
UNANNOTATED = -5.0
_TRACK = re.compile(r"_(left|right)$")

LAYOUT = """\
<root>/annotations/VA_Estimation_Challenge/{Train_Set,Validation_Set}/<video>.txt
    line 1 "valence,arousal", then one "v,a" line per frame (values in [-1, 1]; -5 = not annotated)
    (annotations/VA_Set/... of the ABAW 2021 release is accepted too)
<root>/cropped_aligned/<video>/<NNNNN>.jpg    face of frame NNNNN (1-based: line k+1 is frame k)"""


@dataclasses.dataclass(frozen=True)
class _Video:
    """One annotation file's samples and what was left out."""

    samples: list[Sample]
    unannotated: int
    without_image: int


def _read_video(path: Path, frames_root: Path, partition: str) -> _Video:
    name = path.stem
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise DataError(f"{path}: cannot read VA annotation ({error})") from None
    while lines and not lines[-1].strip():
        lines.pop()
    if not lines or lines[0].strip().replace(" ", "") != HEADER:
        raise DataError(f"{path}:1: expected the header {HEADER!r}, got {lines[0] if lines else ''!r}")
    values = lines[1:]
    images = numbered_images(frames_root / name)
    beyond = [n for n in images if not 1 <= n <= len(values)]
    if beyond:
        raise DataError(
            f"{frames_root / name}: {len(images)} frame images, numbered up to {max(images):05d}, "
            f"but {path} annotates {len(values)} frames"
        )
    samples, unannotated, without_image = [], 0, 0
    for frame, text in enumerate(values, 1):
        line = frame + 1
        cells = text.split(",")
        if len(cells) != 2:
            raise DataError(f"{path}:{line}: expected 'valence,arousal', got {text!r}")
        if any(_is_sentinel(cell) for cell in cells):
            unannotated += 1
            continue
        which = f"frame {frame:05d}"
        label = (parse_value(path, line, cells[0], "valence", which),
                 parse_value(path, line, cells[1], "arousal", which))
        if frame not in images:
            without_image += 1
            continue
        samples.append(Sample(
            id=f"{name}/{images[frame].stem}",
            label=label,
            sources={"video": images[frame]},
            group=_TRACK.sub("", name),
            meta={"video": name, "frame": frame, "partition": partition},
        ))
    return _Video(samples, unannotated, without_image)


def _is_sentinel(cell: str) -> bool:
    try:
        return float(cell) == UNANNOTATED
    except ValueError:
        return False


class AffWild2(DatasetAdapter):
    """Aff-Wild2 frame-level valence/arousal regression in [-1, 1] (AVCE Table 3).

    See the module docstring for the layout, which parts come from the ABAW documentation
    and the one assumption about frames without an image.
    """

    name = "affwild2"
    task: ClassVar[TaskKind] = "regression"
    label_names = ("valence", "arousal")
    label_names_source = "Aff-Wild2 VA annotation header 'valence,arousal'"
    modalities = ("video",)
    layout = LAYOUT

    def __init__(self, root: Path, *, partitions: Sequence[str] = tuple(PARTITIONS)) -> None:
        super().__init__(root)
        self.partitions = chosen_partitions(self.name, partitions, tuple(PARTITIONS))

    def _annotation_files(self) -> dict[str, list[Path]]:
        """Chosen partition -> its annotation files."""
        base = self.root / "annotations"
        folder = next((base / n for n in ANNOTATION_FOLDERS if (base / n).is_dir()), None)
        if folder is None:
            raise DataError(f"{base}: no {' or '.join(ANNOTATION_FOLDERS)} folder; expected:\n{LAYOUT}")
        files = {part: sorted((folder / sub).glob("*.txt")) for part, sub in PARTITIONS.items()}
        both = sorted({p.stem for p in files["train"]} & {p.stem for p in files["validation"]})
        if both:
            raise DataError(f"{folder}: video(s) {few(both)} are annotated in both Train_Set and Validation_Set")
        if not any(files[p] for p in self.partitions):
            chosen = " or ".join(PARTITIONS[p] for p in self.partitions)
            raise DataError(f"{folder}: no annotation files in {chosen}; expected:\n{LAYOUT}")
        return {p: files[p] for p in self.partitions}

    def _read(self, partition: str, path: Path) -> _Video:
        return _read_video(path, self.root / "cropped_aligned", partition)

    def samples(self) -> list[Sample]:
        """Every annotated frame with an image: Train_Set videos, then Validation_Set, in name order."""
        return [
            sample
            for partition, paths in self._annotation_files().items()
            for path in paths
            for sample in self._read(partition, path).samples
        ]

    def official_split(self) -> Split:
        """Train_Set vs Validation_Set as the test side (the evaluation set of AVCE Table 3)."""
        if self.partitions != tuple(PARTITIONS):
            raise DataError(f"{self.name}: the official split needs both partitions, but this adapter was opened "
                            f"with partitions={list(self.partitions)} (drop the option)")
        samples = self.samples()
        test = tuple(s.id for s in samples if s.meta["partition"] == "validation")
        if not test:
            raise DataError(f"{self.root}: no Validation_Set frames (the test side of the official split)")
        return Split("official", train=tuple(s.id for s in samples if s.meta["partition"] == "train"), test=test)

    def check(self) -> CheckReport:
        """Videos and frames per partition, unannotated and image-less frames; every unreadable video."""
        problems: list[str] = []
        counts: dict[str, int] = {"unannotated_frames": 0, "annotated_frames_without_image": 0}
        for partition, paths in self._annotation_files().items():
            frames = 0
            for path in paths:
                try:
                    video = self._read(partition, path)
                except DataError as error:
                    problems.append(str(error))
                    continue
                frames += len(video.samples)
                counts["unannotated_frames"] += video.unannotated
                counts["annotated_frames_without_image"] += video.without_image
                problems.extend(
                    f"{s.sources['video']}: empty frame image" for s in video.samples
                    if isinstance(s.sources["video"], Path) and s.sources["video"].stat().st_size == 0
                )
            counts[f"{partition}_videos"], counts[f"{partition}_frames"] = len(paths), frames
        return CheckReport(self.name, self.root, counts, tuple(problems))
