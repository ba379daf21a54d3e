"""AFEW-VA (Kossaifi et al. 2017): 600 film clips with per-frame valence, arousal and 68 landmarks.

As shipped, every clip is a folder ``<NNN>/`` holding its frames ``<NNN>/<FFFFF>.png`` and one
annotation file ``<NNN>/<NNN>.json``::

    {"actor": "Bruce Campbell", "video_id": "001",
     "frames": {"00000": {"valence": 0.0, "arousal": 5.0, "landmarks": [[x, y] x 68]}, ...}}

(the format of the real ``../shared/data/afew_va/001/001.json``; the frame images are not in
``../shared``, their ``<FFFFF>.png`` naming is taken from the dataset's release). Valence and
arousal are integers in [-10, 10]; this adapter divides them by 10 into [-1, 1], the scale of
AVCE's reported AFEW-VA RMSE (AVCE's code rescales nothing, so its CSV must already hold
labels / 10).

Frame-level samples, grouped by clip: one sample per annotated frame, ``id`` ``<NNN>/<FFFFF>``,
``group`` the clip (so a split never puts frames of one clip on two sides), ``subject`` the
JSON's ``"actor"`` (the person, who appears in several clips), ``label`` ``(valence, arousal)``
/ 10, ``sources["video"]`` the frame's image (read by an image transform). The 68 landmarks
are kept in ``meta["landmarks"]`` as a read-only float32 ``[68, 2]`` array of (x, y) pixel
coordinates in that image (AVCE does not use them; they are not a modality source because a
source is a file a transform reads, and they live inside the clip's JSON).
``meta`` also holds ``clip`` and ``frame``.

Clip folders are found at any depth under the root (the release ships them in several zip
parts): a folder ``<NNN>`` holding ``<NNN>.json``.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from bench.api import CheckReport, DatasetAdapter, Sample, TaskKind
from bench.errors import DataError

NUM_CLIPS = 600
"""Clips in AFEW-VA (Kossaifi et al., Image and Vision Computing 2017)."""
NUM_LANDMARKS = 68
LABEL_RANGE = 10
"""Valence and arousal are integers in [-LABEL_RANGE, LABEL_RANGE]; samples hold them / LABEL_RANGE."""
FRAME_SUFFIX = ".png"
_SHOWN = 5

LAYOUT = """\
<root>/**/<NNN>/<NNN>.json      per-clip annotation: {"actor", "video_id", "frames": {"<FFFFF>":
                                {"valence", "arousal" (integers in [-10, 10]), "landmarks" (68 x [x, y])}}}
<root>/**/<NNN>/<FFFFF>.png     one image per annotated frame
NNN = clip 001..600 (clip folders at any depth, e.g. inside the release's zip parts)"""


def _clip_files(root: Path) -> list[Path]:
    """Every ``<NNN>/<NNN>.json`` under ``root``, in path order."""
    return sorted(path for path in root.rglob("*.json") if path.stem == path.parent.name)


def _label(path: Path, frame: str, entry: Mapping[str, Any], axis: str) -> float:
    value = entry.get(axis)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise DataError(f"{path}: frame {frame}: {axis} is {value!r}, expected a number in [-10, 10]")
    if not -LABEL_RANGE <= value <= LABEL_RANGE:
        raise DataError(f"{path}: frame {frame}: {axis} {value!r} is outside [-10, 10]")
    return float(value) / LABEL_RANGE


def _landmarks(path: Path, frame: str, entry: Mapping[str, Any]) -> np.ndarray:
    try:
        points = np.asarray(entry.get("landmarks"), dtype=np.float32)
    except (TypeError, ValueError):
        points = np.zeros(0, dtype=np.float32)
    if points.shape != (NUM_LANDMARKS, 2) or not np.isfinite(points).all():
        raise DataError(f"{path}: frame {frame}: landmarks must be 68 finite [x, y] pairs")
    points.flags.writeable = False
    return points


def _read_clip(path: Path) -> list[Sample]:
    """The frame samples of one clip; a DataError names the file (and frame) otherwise."""
    clip = path.parent.name
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise DataError(f"{path}: cannot read AFEW-VA annotation JSON ({error})") from None
    frames = data.get("frames") if isinstance(data, dict) else None
    actor = data.get("actor") if isinstance(data, dict) else None
    if not isinstance(frames, dict) or not frames or not isinstance(actor, str) or not actor.strip():
        raise DataError(f'{path}: expected a JSON object with "actor" (a name) and a non-empty "frames" mapping')
    if str(data.get("video_id", clip)) != clip:
        raise DataError(f"{path}: video_id {data.get('video_id')!r} is not its folder's clip {clip!r}")
    images = {p.stem: p for p in path.parent.glob(f"*{FRAME_SUFFIX}")}
    if len(images) != len(frames):
        raise DataError(
            f"{path.parent}: clip {clip} has {len(images)} frame images ({FRAME_SUFFIX}) "
            f"but {path.name} annotates {len(frames)} frames"
        )
    samples = []
    for frame in sorted(frames):
        entry = frames[frame]
        if not isinstance(entry, dict):
            raise DataError(f"{path}: frame {frame}: expected an object with valence, arousal and landmarks")
        if frame not in images:
            raise DataError(f"{path}: frame {frame} has no image {path.parent / (frame + FRAME_SUFFIX)}")
        label = (_label(path, frame, entry, "valence"), _label(path, frame, entry, "arousal"))
        samples.append(Sample(
            id=f"{clip}/{frame}",
            label=label,
            sources={"video": images[frame]},
            subject=actor.strip(),
            group=clip,
            meta={"clip": clip, "frame": frame, "landmarks": _landmarks(path, frame, entry)},
        ))
    return samples


def _few(items: list[str]) -> str:
    return ", ".join(items[:_SHOWN]) + (f", ... ({len(items) - _SHOWN} more)" if len(items) > _SHOWN else "")


class AFEWVA(DatasetAdapter):
    """AFEW-VA frame-level valence/arousal regression, both in [-1, 1] (AVCE Table 1).

    See the module docstring for the layout, the rescaling and how frames are grouped by clip.
    AFEW-VA defines no official split; AVCE's protocol is a 5:1 cross-validation by clip
    (``protocols/afewva_cv.yaml``).
    """

    name = "afew_va"
    task: ClassVar[TaskKind] = "regression"
    label_names = ("valence", "arousal")
    label_names_source = "AFEW-VA annotation keys; AVCE's CSV columns (path, valence, arousal)"
    modalities = ("video",)
    layout = LAYOUT

    def _clips(self) -> list[Path]:
        clips = _clip_files(self.root)
        twice = sorted(stem for stem, n in Counter(p.stem for p in clips).items() if n > 1)
        if twice:
            raise DataError(f"{self.root}: clip(s) {_few(twice)} found in more than one folder")
        return clips

    def samples(self) -> list[Sample]:
        """Every annotated frame of every clip, clips in id order, frames in frame order."""
        clips = self._clips()
        if not clips:
            raise DataError(f"{self.root}: no AFEW-VA clip folder <NNN>/<NNN>.json found; expected:\n{LAYOUT}")
        return [sample for path in clips for sample in _read_clip(path)]

    def check(self) -> CheckReport:
        """Clip, frame and actor counts; every unreadable clip and empty image; 600 clips expected."""
        clips = self._clips()
        problems: list[str] = []
        samples: list[Sample] = []
        for path in clips:
            try:
                samples.extend(_read_clip(path))
            except DataError as error:
                problems.append(str(error))
        for sample in samples:
            image = sample.sources["video"]
            if isinstance(image, Path) and image.stat().st_size == 0:
                problems.append(f"{image}: empty frame image of sample {sample.id}")
        if len(clips) != NUM_CLIPS:
            problems.append(f"{self.root}: {len(clips)} clips found, AFEW-VA has {NUM_CLIPS}")
        counts = {"clips": len(clips), "frames": len(samples), "actors": len({s.subject for s in samples})}
        return CheckReport(self.name, self.root, counts, tuple(problems))
