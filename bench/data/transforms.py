"""Registered, versioned preprocessing variants: one source file (or text) in, one array out.

A method asks for a variant with a :class:`~bench.api.TransformSpec` (a registered name and
parameters); :func:`get_transform` checks the parameters against the transform's frozen
``Params`` dataclass. ``describe()`` (name, version, parameters) goes into the cache key and
the run record's data fingerprint, so a transform whose output changes must bump ``version``.

Every transform returns a fixed shape for fixed parameters, so a dataset's arrays stack.
All four are the inputs of the ``late_fusion`` reference baseline (the supervised late-fusion
baseline of MPUC and ConCluGen); where a paper's own pipeline fixes a rule, the transform
follows it and says so:

=================  =========  ========================================  ===============================
transform          modality   output                                    rule taken from
=================  =========  ========================================  ===============================
``video_frames``   video      uint8 ``[num_frames, size, size, 3]``     TSN test-time sampling of
                                                                        MMA-DFER / DFER-CLIP
``audio_logmel``   audio      float32 ``[max_frames, num_mel_bins]``    the Kaldi fbank call of the
                                                                        AST/AudioMAE audio front end
                                                                        (MMA-DFER's audio branch)
``text_hash``      text       int64 ``[max_tokens]`` (0 = padding)      bench's own (vocabulary-free)
``landmarks_csv``  landmarks  float32 ``[num_frames, 2 * num_points]``  TSN sampling as above
=================  =========  ========================================  ===============================
"""

from __future__ import annotations

import abc
import csv
import dataclasses
import math
import re
import typing
import zlib
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np
import torch
import torchaudio.compliance.kaldi as kaldi
import torchaudio.functional as audio_f

from bench.api import TransformSpec
from bench.data.media import read_audio, read_video
from bench.errors import ConfigError, DataError, unknown


def tsn_indices(
    num_available: int,
    num_segments: int,
    mode: Literal["centre", "random"],
    rng: np.random.Generator | None = None,
) -> np.ndarray:
    """TSN segment sampling: one index per equal segment of ``num_available`` frames.

    ``centre`` (test time) takes ``int(tick / 2 + tick * k)`` with ``tick = n / num_segments``;
    ``random`` (train time) takes a uniformly random frame inside each segment
    ``[floor(k n / T), floor((k + 1) n / T))`` and needs a seeded ``rng``. With fewer frames
    than segments both modes return ``0 .. n-1`` padded by repeating the last index, the rule
    of the MMA-DFER and DFER-CLIP data loaders. Returns int64 ``[num_segments]``.
    """
    n, t = int(num_available), int(num_segments)
    if n < 1 or t < 1:
        raise ValueError(f"tsn_indices needs at least one frame and one segment, got n={n}, T={t}")
    if mode not in ("centre", "random"):
        raise ValueError(f"tsn_indices mode must be 'centre' or 'random', got {mode!r}")
    if n < t:
        return np.concatenate([np.arange(n), np.full(t - n, n - 1)]).astype(np.int64)
    if mode == "centre":
        tick = n / t
        return np.array([int(tick / 2.0 + tick * k) for k in range(t)], dtype=np.int64)
    if rng is None:
        raise ValueError("tsn_indices in random mode needs an rng (seed it for reproducibility)")
    starts = (np.arange(t) * n) // t
    ends = (np.arange(1, t + 1) * n) // t
    return rng.integers(starts, ends).astype(np.int64)


def _file(source: Path | str, transform: str) -> Path:
    if not isinstance(source, Path):
        raise DataError(f"transform {transform!r} reads a file, but was given inline text")
    return source


class Transform(abc.ABC):
    """One preprocessing variant; subclasses set the class attributes and :meth:`apply`."""

    name: ClassVar[str]
    version: ClassVar[int]
    modality: ClassVar[str]
    Params: ClassVar[type]

    def __init__(self, params: Any) -> None:
        self.params = params

    @abc.abstractmethod
    def apply(self, source: Path | str) -> np.ndarray:
        """The array for one source; a bad source is a DataError naming the file."""

    def describe(self) -> dict[str, Any]:
        """``{"name", "version", "params"}``: this variant's identity in keys and records."""
        return {"name": self.name, "version": self.version, "params": dataclasses.asdict(self.params)}


TRANSFORMS: dict[str, type[Transform]] = {}


def register(cls: type[Transform]) -> type[Transform]:
    """Class decorator adding a transform to :data:`TRANSFORMS` under its ``name``."""
    if cls.name in TRANSFORMS:
        raise ValueError(f"transform {cls.name!r} is registered twice")
    TRANSFORMS[cls.name] = cls
    return cls


def _coerce(transform: str, param: str, value: Any, kind: Any) -> Any:
    """``value`` as a ``kind`` parameter (int, float, str or bool), or a ConfigError."""
    ok = {
        int: isinstance(value, int) and not isinstance(value, bool),
        float: isinstance(value, (int, float)) and not isinstance(value, bool),
        bool: isinstance(value, bool),
        str: isinstance(value, str),
    }.get(kind)
    if ok is None:
        raise TypeError(f"transform {transform!r} parameter {param!r} has unsupported type {kind}")
    if not ok:
        raise ConfigError(
            f"transform {transform!r} parameter {param!r} must be {kind.__name__}, "
            f"got {type(value).__name__} {value!r}"
        )
    return float(value) if kind is float else value


def get_transform(spec: TransformSpec) -> Transform:
    """Instantiate the transform ``spec`` names with its parameters, validated.

    An unknown name, an unknown parameter, a value of the wrong type or out of range is a
    :class:`~bench.errors.ConfigError`.
    """
    if spec.name not in TRANSFORMS:
        raise ConfigError(unknown("transform", spec.name, TRANSFORMS))
    cls = TRANSFORMS[spec.name]
    hints = typing.get_type_hints(cls.Params)
    fields = [f.name for f in dataclasses.fields(cls.Params)]
    extra = sorted(set(spec.params) - set(fields))
    if extra:
        raise ConfigError(
            f"transform {spec.name!r} has no parameter {', '.join(map(repr, extra))}; "
            f"valid: {', '.join(fields)}"
        )
    values = {k: _coerce(spec.name, k, v, hints[k]) for k, v in spec.params.items()}
    return cls(cls.Params(**values))


def _positive(transform: str, **values: float) -> None:
    for param, value in values.items():
        if not value > 0:
            raise ConfigError(f"transform {transform!r} parameter {param!r} must be > 0, got {value!r}")


@register
class VideoFrames(Transform):
    """TSN-sampled, resized RGB frames (the clip sampling of MMA-DFER and DFER-CLIP).

    Decodes the video, keeps ``num_frames`` frames by :func:`tsn_indices` (centre mode) and
    resizes each to ``size x size`` with :func:`torch.nn.functional.interpolate` (bilinear,
    ``antialias=True``, ``align_corners=False``), rounding back to uint8. Aspect ratio is not
    kept (the papers' face crops are square already). Output uint8 ``[T, size, size, 3]``.
    """

    name = "video_frames"
    version = 1
    modality = "video"

    @dataclasses.dataclass(frozen=True)
    class Params:
        num_frames: int = 8
        size: int = 32

        def __post_init__(self) -> None:
            _positive("video_frames", num_frames=self.num_frames, size=self.size)

    def apply(self, source: Path | str) -> np.ndarray:
        clip = read_video(_file(source, self.name))
        frames = clip.frames[tsn_indices(len(clip.frames), self.params.num_frames, "centre")]
        x = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).float()
        size = (self.params.size, self.params.size)
        x = torch.nn.functional.interpolate(x, size=size, mode="bilinear", align_corners=False, antialias=True)
        return x.round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).contiguous().numpy()


@register
class AudioLogMel(Transform):
    """Kaldi-compatible log-mel filterbank frames (the AST/AudioMAE front end of MMA-DFER's audio).

    Reads the audio (a sound file or a video's audio track, mixed to mono), resamples it to
    ``sample_rate`` with :func:`torchaudio.functional.resample` when needed, and computes
    :func:`torchaudio.compliance.kaldi.fbank` (Hanning window, no dither, ``htk_compat``,
    no energy) on the waveform as read (float in [-1, 1]). The frames are cut to the first
    ``max_frames`` or zero-padded at the end. Output float32 ``[max_frames, num_mel_bins]``.
    """

    name = "audio_logmel"
    version = 1
    modality = "audio"

    @dataclasses.dataclass(frozen=True)
    class Params:
        sample_rate: int = 16000
        num_mel_bins: int = 64
        frame_shift_ms: float = 10.0
        frame_length_ms: float = 25.0
        max_frames: int = 100

        def __post_init__(self) -> None:
            _positive(
                "audio_logmel",
                sample_rate=self.sample_rate,
                num_mel_bins=self.num_mel_bins,
                frame_shift_ms=self.frame_shift_ms,
                frame_length_ms=self.frame_length_ms,
                max_frames=self.max_frames,
            )

    def apply(self, source: Path | str) -> np.ndarray:
        path = _file(source, self.name)
        clip = read_audio(path)
        p = self.params
        wave = torch.from_numpy(np.ascontiguousarray(clip.samples, dtype=np.float32))
        if clip.sample_rate != p.sample_rate:
            wave = audio_f.resample(wave, clip.sample_rate, p.sample_rate)
        frame_length = int(p.sample_rate * p.frame_length_ms / 1000.0)
        if wave.numel() < frame_length:
            raise DataError(
                f"{path}: audio is {wave.numel()} samples at {p.sample_rate} Hz, "
                f"shorter than one {p.frame_length_ms} ms frame ({frame_length} samples)"
            )
        feats = kaldi.fbank(
            wave[None],
            sample_frequency=float(p.sample_rate),
            num_mel_bins=p.num_mel_bins,
            frame_shift=p.frame_shift_ms,
            frame_length=p.frame_length_ms,
            dither=0.0,
            window_type="hanning",
            htk_compat=True,
            use_energy=False,
        ).numpy()
        out = np.zeros((p.max_frames, p.num_mel_bins), dtype=np.float32)
        kept = min(p.max_frames, len(feats))
        out[:kept] = feats[:kept]
        return out


_WORD = re.compile(r"[^\W_]+")


@register
class TextHash(Transform):
    """Hashed word ids, the vocabulary-free text input of the late-fusion baseline.

    Lower-cases the text, splits it into words on every non-alphanumeric character (Unicode
    aware), maps each word to ``1 + crc32(utf8(word)) % (vocab_size - 1)`` (stable across runs
    and processes, unlike ``hash()``; 0 is padding) and truncates or zero-pads to
    ``max_tokens``. Takes inline text or a UTF-8 text file. Output int64 ``[max_tokens]``.
    """

    name = "text_hash"
    version = 1
    modality = "text"

    @dataclasses.dataclass(frozen=True)
    class Params:
        vocab_size: int = 4096
        max_tokens: int = 32

        def __post_init__(self) -> None:
            _positive("text_hash", max_tokens=self.max_tokens)
            if self.vocab_size < 2:
                raise ConfigError(f"transform 'text_hash' parameter 'vocab_size' must be >= 2, got {self.vocab_size}")

    def apply(self, source: Path | str) -> np.ndarray:
        if isinstance(source, Path):
            try:
                text = source.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as error:
                raise DataError(f"{source}: cannot read text ({error})") from error
        else:
            text = source
        words = _WORD.findall(text.lower())[: self.params.max_tokens]
        out = np.zeros(self.params.max_tokens, dtype=np.int64)
        for i, word in enumerate(words):
            out[i] = 1 + zlib.crc32(word.encode("utf-8")) % (self.params.vocab_size - 1)
        return out


@register
class LandmarksCsv(Transform):
    """TSN-sampled 2-D facial landmarks from a per-frame CSV, normalised per clip.

    The CSV (OpenFace style) has a header with ``x_0 .. x_{P-1}`` and ``y_0 .. y_{P-1}``;
    other columns (``frame``, confidences, ...) are ignored. Keeps ``num_frames`` rows by
    :func:`tsn_indices` (centre mode), then min-max normalises all x values of those rows to
    [0, 1] and all y values likewise (a constant coordinate becomes 0). Output float32
    ``[T, 2P]`` laid out ``x_0 .. x_{P-1}, y_0 .. y_{P-1}``.
    """

    name = "landmarks_csv"
    version = 1
    modality = "landmarks"

    @dataclasses.dataclass(frozen=True)
    class Params:
        num_frames: int = 8
        num_points: int = 68

        def __post_init__(self) -> None:
            _positive("landmarks_csv", num_frames=self.num_frames, num_points=self.num_points)

    def _read(self, path: Path) -> np.ndarray:
        """All rows of the x and y columns, float64 ``[rows, 2P]``."""
        points = range(self.params.num_points)
        wanted = [f"x_{i}" for i in points] + [f"y_{i}" for i in points]
        try:
            with path.open(newline="", encoding="utf-8") as handle:
                reader = csv.reader(handle, skipinitialspace=True)
                header = [h.strip() for h in next(reader, [])]
                missing = [w for w in wanted if w not in header]
                if missing:
                    p = self.params.num_points - 1
                    raise DataError(
                        f"{path}: landmark CSV lacks column(s) {', '.join(missing[:4])}"
                        f"{' ...' if len(missing) > 4 else ''}; expected a header with "
                        f"x_0..x_{p}, y_0..y_{p}"
                    )
                columns = [header.index(w) for w in wanted]
                rows = []
                for row in reader:
                    if not row:
                        continue
                    if len(row) != len(header):
                        raise DataError(
                            f"{path}: line {reader.line_num} has {len(row)} cells, the header has {len(header)}"
                        )
                    values = []
                    for col in columns:
                        try:
                            value = float(row[col])
                        except ValueError:
                            value = math.nan
                        if not math.isfinite(value):
                            raise DataError(
                                f"{path}: line {reader.line_num}, column {header[col]!r}: "
                                f"{row[col]!r} is not a finite number"
                            )
                        values.append(value)
                    rows.append(values)
        except (OSError, UnicodeDecodeError, csv.Error) as error:
            raise DataError(f"{path}: cannot read landmark CSV ({error})") from error
        if not rows:
            raise DataError(f"{path}: landmark CSV has no data rows")
        return np.asarray(rows, dtype=np.float64)

    def apply(self, source: Path | str) -> np.ndarray:
        table = self._read(_file(source, self.name))
        table = table[tsn_indices(len(table), self.params.num_frames, "centre")]
        p = self.params.num_points
        out = np.empty_like(table)
        for part in (slice(0, p), slice(p, 2 * p)):
            values = table[:, part]
            low, span = values.min(), np.ptp(values)
            out[:, part] = (values - low) / span if span > 0 else 0.0
        return out.astype(np.float32)

