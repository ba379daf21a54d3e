"""Registered, versioned preprocessing variants: one source file (or text) in, one array out.

A method asks for a variant with a :class:`~bench.api.TransformSpec` (a registered name and
parameters, looked up in :mod:`bench.data.catalog`); :func:`instantiate` checks the parameters
against the transform's frozen ``Params`` dataclass (``int``/``float``/``str``/``bool`` fields, ``Literal[...]`` choices and
``X | None``). ``describe()`` (name, version, parameters) goes into the run record's data
fingerprint, so a transform whose output changes must bump ``version``.

How a transform declares the way its output is stored and fed (see :mod:`bench.data.prepare`):

* ``variable_length = False`` (default): every source gives the same shape, the outputs are
  stacked in memory ``[N, ...]`` and a batch is a slice of that stack.
* ``variable_length = True``: the cached array is a whole clip of any length (e.g. every
  decoded frame). Entries stay on disk and are memory-mapped one sample at a time, and
  :meth:`Transform.sample` turns one stored array into a fixed-shape item at batch time, in
  train mode (random, seeded) or eval mode (deterministic). Parameters that only steer
  ``sample`` are listed in ``sampling_params``: they are part of ``describe()`` but not of
  the cache key, so changing them never re-decodes a dataset.
* ``runtime_params`` (device, batch size) change speed, not output: they are left out of
  ``describe()`` and of the cache key.

A transform that had to fall back (no face found, no audio track) says so in
:attr:`Output.fallbacks`; the reasons are stored with the cache entry and counted per clip
in :attr:`~bench.data.prepare.Prepared.fallbacks`.

The transforms live in :mod:`bench.data.frames`, :mod:`~bench.data.faces`,
:mod:`~bench.data.audio`, :mod:`~bench.data.text` and :mod:`~bench.data.landmarks`, and are
registered by name in :mod:`bench.data.catalog`; this module holds their base class, the
parameter checks and the sampling rules they share.
"""

from __future__ import annotations

import abc
import dataclasses
import typing
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np

from bench.errors import ConfigError, DataError
from bench.files import loader

Ordering = Literal["numeric", "lexicographic"]
"""How the frame images of a clip directory are ordered (see :mod:`bench.data.frames`)."""


def tsn_indices(
    num_available: int,
    num_segments: int,
    mode: Literal["centre", "random"],
    rng: np.random.Generator | None = None,
) -> np.ndarray:
    """TSN segment sampling as in MMA-DFER's (and DFER-CLIP's) data loader, ``duration = 1``.

    With ``n > T`` frames (``n >= T`` for ``random``): ``centre`` (``_get_test_indices``) takes
    ``int(tick / 2 + tick * k)`` with ``tick = n / T``; ``random`` (``_get_train_indices``) takes
    ``k * avg + randint(avg)`` with ``avg = n // T``, so the last ``n - T * avg`` frames are
    never drawn, as in the official code (needs a seeded ``rng``). Otherwise both return
    ``0 .. n-1`` edge-padded by repeating the last index. Returns int64 ``[T]``.
    """
    n, t = int(num_available), int(num_segments)
    if n < 1 or t < 1:
        raise ValueError(f"tsn_indices needs at least one frame and one segment, got n={n}, T={t}")
    if mode not in ("centre", "random"):
        raise ValueError(f"tsn_indices mode must be 'centre' or 'random', got {mode!r}")
    if mode == "random" and rng is None:
        raise ValueError("tsn_indices in random mode needs an rng (seed it for reproducibility)")
    if mode == "centre":
        return tsn_clip_indices(n, t, 1)[0]
    avg = n // t
    if avg == 0:
        return _edge_padded(n, t)
    return (np.arange(t) * avg + rng.integers(0, avg, size=t)).astype(np.int64)


def tsn_clip_indices(num_available: int, num_segments: int, num_clips: int) -> np.ndarray:
    """``num_clips`` TSN clips placed uniformly inside each segment: int64 ``[K, T]``.

    Clip ``k`` takes ``int(tick * (k + 1/2) / K + tick * s)`` for segment ``s`` (``tick = n / T``),
    so ``K = 1`` is MMA-DFER's centre rule (``_get_test_indices``). The multi-clip average of
    MMA-DFER's Table 1 "*" rows is not in its code (one clip per video, ``video_dataloader.py``
    ``_get_test_indices``); this even placement is
    bench's reading of it. Clips with ``n <= T`` frames are the edge-padded ``0 .. n-1``.
    """
    n, t, k = int(num_available), int(num_segments), int(num_clips)
    if k < 1:
        raise ValueError(f"tsn_clip_indices needs at least one clip, got {k}")
    if n <= t:
        return np.tile(_edge_padded(n, t), (k, 1))
    tick = n / t
    return np.array(
        [[int(tick * (c + 0.5) / k + tick * s) for s in range(t)] for c in range(k)], dtype=np.int64
    )


def _edge_padded(n: int, t: int) -> np.ndarray:
    return np.concatenate([np.arange(n), np.full(t - n, n - 1)]).astype(np.int64)


def crop_indices(num_available: int, length: int, train: bool, rng: np.random.Generator | None,
                 crops: int = 1) -> np.ndarray:
    """``crops`` windows of ``length`` consecutive steps, one after the other: int64 ``[crops * length]``.

    MPUC's temporal crop (``data/CMU_MOSEI.py`` L205-235, ``data/RAVDESS.py`` L151-172 of
    ricfrr/mpuc-mer). Train: each window's start uniformly random in ``[0, n - length]``,
    drawn in turn from ``rng``; eval: start 0 (MPUC's first view). A sequence shorter than
    ``length`` wraps around, i.e. is padded with its own first rows, as MPUC's RAVDESS loader does.
    """
    n = int(num_available)
    if n < 1:
        raise ValueError("crop_indices needs at least one step")
    starts = draw_starts(0, n - length, rng, crops, "crop_indices") if train else [0] * crops
    return window_indices(n, length, starts)


def draw_starts(low: int, high: int, rng: np.random.Generator | None, crops: int, who: str) -> list[int]:
    """``crops`` window starts drawn in turn, each uniform in ``[low, high]``; ``low`` each when ``high <= low``."""
    if high <= low:
        return [low] * crops
    if rng is None:
        raise ValueError(f"{who} in train mode needs an rng")
    return [int(rng.integers(low, high + 1)) for _ in range(crops)]


def window_indices(n: int, length: int, starts: Sequence[int]) -> np.ndarray:
    """The windows of ``length`` steps at ``starts`` of an ``n``-step sequence, one after the other, each
    wrapping past the end: int64 ``[len(starts) * length]``."""
    return np.concatenate([(start + np.arange(length)) % n for start in starts])


SHORT_WRAPPED = "shorter_than_crop_wrapped"
"""The fallback of a clip with fewer steps than its crop: :func:`crop_indices` wraps it around."""


def crop_fallbacks(num_available: int, length: int) -> tuple[str, ...]:
    """``(SHORT_WRAPPED,)`` when :func:`crop_indices` must pad a ``num_available``-step clip, else ``()``."""
    return (SHORT_WRAPPED,) if int(num_available) < length else ()


def file_source(source: Path | str, transform: str) -> Path:
    """``source`` as a path, or a DataError when a file transform was given inline text."""
    if not isinstance(source, Path):
        raise DataError(f"transform {transform!r} reads a file, but was given inline text")
    return source


@dataclasses.dataclass(frozen=True)
class Output:
    """What a transform made of one source: the array and the fallbacks it had to take."""

    array: np.ndarray
    fallbacks: tuple[str, ...] = ()


class Transform(abc.ABC):
    """One preprocessing variant; subclasses set the class attributes and :meth:`run`."""

    name: ClassVar[str]
    version: ClassVar[int]
    modality: ClassVar[str]
    Params: ClassVar[type]
    variable_length: ClassVar[bool] = False
    sampling_params: ClassVar[tuple[str, ...]] = ()
    runtime_params: ClassVar[tuple[str, ...]] = ()

    def __init__(self, params: Any) -> None:
        self.params = params

    @abc.abstractmethod
    def run(self, source: Path | str) -> Output:
        """The array for one source and its fallbacks; a bad source is a DataError naming the file."""

    def apply(self, source: Path | str) -> np.ndarray:
        """The array for one source (what the cache stores)."""
        return self.run(source).array

    def sample(self, array: np.ndarray, train: bool, rng: np.random.Generator | None) -> np.ndarray:
        """One batch item from a stored array (variable-length transforms override this)."""
        return np.asarray(array)

    def item_fallbacks(self, array: np.ndarray) -> tuple[str, ...]:
        """Fallbacks :meth:`sample` takes on this stored array whatever the draw (e.g. a clip
        shorter than its crop); :func:`~bench.data.prepare.prepare` counts them per clip."""
        return ()

    def describe(self) -> dict[str, Any]:
        """``{"name", "version", "params"}``: this variant's identity in records."""
        params = {k: v for k, v in dataclasses.asdict(self.params).items() if k not in self.runtime_params}
        return {"name": self.name, "version": self.version, "params": params}

    def cache_identity(self) -> dict[str, Any]:
        """``describe()`` without the sampling parameters: what the stored array depends on."""
        described = self.describe()
        described["params"] = {k: v for k, v in described["params"].items() if k not in self.sampling_params}
        return described


def _coerce(transform: str, param: str, value: Any, kind: Any) -> Any:
    """``value`` as a ``kind`` parameter, or a ConfigError naming transform, parameter and value."""
    try:
        return loader.coerce(value, kind)
    except ValueError as exc:
        raise ConfigError(f"transform {transform!r} parameter {param!r}: {exc}") from None


def instantiate(cls: type[Transform], params: Mapping[str, Any]) -> Transform:
    """``cls`` with ``params`` checked against its ``Params``: an unknown parameter, a value of the
    wrong type or out of range is a :class:`~bench.errors.ConfigError`."""
    hints = typing.get_type_hints(cls.Params)
    fields = [f.name for f in dataclasses.fields(cls.Params)]
    extra = sorted(set(params) - set(fields))
    if extra:
        raise ConfigError(
            f"transform {cls.name!r} has no parameter {', '.join(map(repr, extra))}; "
            f"valid: {', '.join(fields)}"
        )
    values = {k: _coerce(cls.name, k, v, hints[k]) for k, v in params.items()}
    return cls(cls.Params(**values))


def positive(transform: str, **values: float | None) -> None:
    """ConfigError unless every given value (None = unset) is > 0."""
    for param, value in values.items():
        if value is not None and not value > 0:
            raise ConfigError(f"transform {transform!r} parameter {param!r} must be > 0, got {value!r}")
