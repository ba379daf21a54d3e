"""The synthetic dataset's specification: what :mod:`bench.data.synthetic_generator` makes.

Shared by the generator and :mod:`bench.data.synthetic_render` (the spec, the label names of each
variant and one subject's nuisance parameters), so that neither imports the other's module.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from typing import Literal

import numpy as np

GENERATOR_VERSION = 2  # 2: video written losslessly (media.write_video), decodes identically on every run
VARIANTS: tuple[str, ...] = ("classification", "multilabel", "va")
CLASS_NAMES: tuple[str, ...] = ("neutral", "happy", "sad", "angry")
MULTILABEL_NAMES: tuple[str, ...] = ("happy", "sad", "anger", "surprise", "disgust", "fear")
VA_NAMES: tuple[str, ...] = ("valence", "arousal")
NUM_FOLDS = 5

Variant = Literal["classification", "multilabel", "va"]


@dataclasses.dataclass(frozen=True)
class SyntheticSpec:
    """What :func:`generate` produces; equal specs give identical datasets."""

    variant: Variant
    num_subjects: int = 10
    clips_per_subject: int = 24
    num_frames: int = 16
    size: int = 48
    fps: float = 8.0
    sample_rate: int = 16000
    duration_s: float = 1.0
    seed: int = 0

    def __post_init__(self) -> None:
        if self.variant not in VARIANTS:
            raise ValueError(f"synthetic variant must be one of {VARIANTS}, got {self.variant!r}")
        if self.num_subjects < NUM_FOLDS:
            raise ValueError(
                f"synthetic data needs at least {NUM_FOLDS} subjects (one per fold), got {self.num_subjects}"
            )
        if self.clips_per_subject < 1 or self.num_frames < 1:
            raise ValueError("clips_per_subject and num_frames must be positive")
        if self.size < 16 or self.size % 2:
            raise ValueError(f"size must be even and at least 16 (H.264 in yuv420p), got {self.size}")
        if self.fps <= 0 or self.duration_s <= 0 or self.sample_rate < 8000:
            raise ValueError("fps and duration_s must be positive and sample_rate at least 8000 Hz")

    def digest(self) -> str:
        """A short stable hash of the spec and generator version (names the default root)."""
        payload = json.dumps({"spec": dataclasses.asdict(self), "version": GENERATOR_VERSION}, sort_keys=True)
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:10]

    @property
    def label_names(self) -> tuple[str, ...]:
        """Class, label or axis names of this variant."""
        return {"classification": CLASS_NAMES, "multilabel": MULTILABEL_NAMES, "va": VA_NAMES}[self.variant]

    @property
    def label_columns(self) -> tuple[str, ...]:
        """The manifest's label columns for this variant."""
        return label_columns(self.variant)


def label_columns(variant: str) -> tuple[str, ...]:
    """The manifest's label columns of ``variant``."""
    return ("label",) if variant == "classification" else {"multilabel": MULTILABEL_NAMES, "va": VA_NAMES}[variant]


@dataclasses.dataclass(frozen=True)
class Subject:
    """Nuisance parameters shared by all clips of one subject (pixels at the spec's size)."""

    cx: float
    cy: float
    rx: float
    ry: float
    skin: np.ndarray
    background: np.ndarray
    eye_gap: float
    mouth_width: float
    pitch: float
    gain: float
