"""The synthetic classification benchmark laid out as the DFEW release (MMA-DFER's input tree).

``synthetic_dfew`` is :class:`~bench.data.adapters.dfew.DFEW` itself, reading a tree that
:func:`generate_dfew_layout` writes from the synthetic clips of :mod:`bench.data.synthetic_generator`:
the same fold lists, face-frame folders, extracted wavs and original mp4s that a DFEW copy
has, so that ``bench run --method mma_dfer --protocol synthetic_dfew_5fold`` exercises every
file the real ``dfew_5fold`` reads, in a minute on a CPU. Only the classes differ: the four
synthetic ones (:data:`~bench.data.synthetic_generator.CLASS_NAMES`) instead of DFEW's seven.

Layout written (``<id>`` = 00001..00240 in the synthetic manifest's order; ``ids.csv`` maps
each back to its synthetic clip and subject)::

    <root>/Clip/original/<id>.mp4              lossless H.264 + AAC, as the synthetic clip
    <root>/Clip/clip_224x224/<id>/00001.jpg..  its decoded frames as JPEG (quality 95)
    <root>/raw_wav/<int(id)>.wav               its 16 kHz wav, leading zeros stripped
    <root>/annotation/DFEW_set_{1..5}_{train,test}.txt
                                               'Clip/clip_224x224/<id> <num_frames> <label0>',
                                               the synthetic subject-disjoint folds
    <root>/ids.csv, <root>/SYNTHETIC_DFEW.json the id map; written last (the tree is complete)
"""

from __future__ import annotations

import csv
import io
import shutil
from pathlib import Path
from typing import ClassVar

from PIL import Image

from bench.data.adapters.dfew import DFEW
from bench.data.adapters.dfew import LAYOUT as DFEW_LAYOUT
from bench.data.media import read_video
from bench.data.synthetic import SyntheticClassification
from bench.data.synthetic_generator import CLASS_NAMES, GENERATOR_VERSION, NUM_FOLDS
from bench.errors import DataError
from bench.files.io import atomic_directory, write_json, write_text
from bench.files.paths import cache_root

LAYOUT_VERSION = 1
"""Bump when the tree :func:`generate_dfew_layout` writes changes; it names the cache folder."""

_DONE = "SYNTHETIC_DFEW.json"


def generate_dfew_layout(root: Path, source: SyntheticClassification) -> Path:
    """Write the DFEW-layout copy of the synthetic dataset ``source`` under ``root``; return ``root``.

    Built in a temporary sibling folder renamed to ``root`` when complete, so ``root`` is
    either absent or whole; a complete ``root`` is returned as is.
    """
    root = Path(root)
    if (root / _DONE).is_file():
        return root
    if root.exists() and any(root.iterdir()):
        raise DataError(f"{root}: exists but is not a complete synthetic DFEW tree; remove it")
    with atomic_directory(root) as tmp:
        _write_tree(tmp, source)
    if not (root / _DONE).is_file():
        raise DataError(f"{root}: cannot move the generated tree into place")
    return root


def _write_tree(tmp: Path, source: SyntheticClassification) -> None:
    samples = source.samples()
    ids = {s.id: f"{number:05d}" for number, s in enumerate(samples, 1)}
    frame_counts: dict[str, int] = {}
    for sample in samples:
        clip = ids[sample.id]
        original = tmp / "Clip" / "original" / f"{clip}.mp4"
        original.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(sample.sources["video"], original)
        wav = tmp / "raw_wav" / f"{int(clip)}.wav"
        wav.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(sample.sources["audio"], wav)
        frames = read_video(original).frames
        folder = tmp / "Clip" / "clip_224x224" / clip
        folder.mkdir(parents=True)
        for index, image in enumerate(frames, 1):
            Image.fromarray(image).save(folder / f"{index:05d}.jpg", format="JPEG", quality=95)
        frame_counts[clip] = len(frames)
    labels = {ids[s.id]: int(s.label) for s in samples}  # type: ignore[arg-type]
    for k, split in enumerate(source.official_folds(), 1):
        for side in ("train", "test"):
            lines = [f"Clip/clip_224x224/{ids[i]} {frame_counts[ids[i]]} {labels[ids[i]]}"
                     for i in sorted(getattr(split, side), key=ids.__getitem__)]
            write_text(tmp / "annotation" / f"DFEW_set_{k}_{side}.txt", "\n".join(lines) + "\n")
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["dfew_id", "synthetic_id", "subject"])
    writer.writerows([ids[s.id], s.id, s.subject] for s in samples)
    write_text(tmp / "ids.csv", buffer.getvalue())
    write_json(tmp / _DONE, {"layout_version": LAYOUT_VERSION, "generator_version": GENERATOR_VERSION,
                             "source": str(source.root), "clips": len(samples)})


class SyntheticDFEW(DFEW):
    """The synthetic benchmark read through the DFEW adapter (see the module docstring).

    Everything DFEW reads is there (fold lists, frame folders, wavs, mp4s); the classes are the
    synthetic ones, and the fold sizes those of the synthetic folds (192 train / 48 test).
    """

    name = "synthetic_dfew"
    label_names = CLASS_NAMES
    label_names_source = "bench.data.synthetic_generator.CLASS_NAMES (the synthetic prototypes)"
    layout = DFEW_LAYOUT + "\n(synthetic: 4 classes, 240 clips, written by bench.data.synthetic_dfew)"
    expected_counts: ClassVar[dict[str, int]] = {
        f"fold{k}/{side}": n for k in range(1, NUM_FOLDS + 1) for side, n in (("train", 192), ("test", 48))
    }

    @classmethod
    def default_root(cls) -> Path:
        """``cache_root()/synthetic/dfew-layout-v<layout>-<source folder name>``, written when missing."""
        source = SyntheticClassification(SyntheticClassification.default_root())
        root = cache_root() / "synthetic" / f"dfew-layout-v{LAYOUT_VERSION}-{source.root.name}"
        return generate_dfew_layout(root, source)
