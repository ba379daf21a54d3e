"""Every transform by name: the ones bench ships, listed here, and those a method declares.

A :class:`~bench.api.TransformSpec` names a transform; :func:`get_transform` finds it here and
checks its parameters (:func:`bench.data.transforms.instantiate`). The built-in transforms are
registered by the explicit list :data:`BUILTIN`; a method's own (``Method.transforms``) are
added with :func:`register` when the method is resolved — no module registers anything by
being imported.
"""

from __future__ import annotations

from collections.abc import Iterable

from bench.api import TransformSpec
from bench.data import audio, faces, frames, landmarks, text
from bench.data.transforms import Transform, instantiate
from bench.errors import ConfigError, unknown

BUILTIN: tuple[type[Transform], ...] = (
    frames.VideoFrames, faces.FaceFrames, faces.FaceImage,
    audio.AudioLogMel, audio.AudioFbankAudioMAE, audio.AudioLogMelMPUC, audio.AudioMelConCluGen,
    text.TextHash, text.TextTokens, text.TextGloVe,
    landmarks.LandmarksCsv, landmarks.LandmarksOpenFaceMPUC,
)

TRANSFORMS: dict[str, type[Transform]] = {}


def register(classes: Iterable[type[Transform]]) -> None:
    """Add transform classes under their ``name``; registering the same class again is a no-op,
    another class under a taken name a ValueError."""
    for cls in classes:
        if not (isinstance(cls, type) and issubclass(cls, Transform)):
            raise TypeError(f"{cls!r} is not a Transform subclass")
        if TRANSFORMS.get(cls.name, cls) is not cls:
            raise ValueError(f"transform {cls.name!r} is registered twice: {TRANSFORMS[cls.name]} and {cls}")
        TRANSFORMS[cls.name] = cls


def get_transform(spec: TransformSpec) -> Transform:
    """The transform ``spec`` names, with its parameters validated.

    An unknown name, an unknown parameter, a value of the wrong type or out of range is a
    :class:`~bench.errors.ConfigError`.
    """
    if spec.name not in TRANSFORMS:
        raise ConfigError(unknown("transform", spec.name, TRANSFORMS))
    return instantiate(TRANSFORMS[spec.name], spec.params)


register(BUILTIN)
