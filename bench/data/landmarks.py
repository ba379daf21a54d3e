"""Facial landmarks from OpenFace-style per-frame CSVs.

An OpenFace 2 CSV (``FeatureExtraction`` output, e.g. the RAVDESS Facial Landmark Tracking
release) has a header naming every column; the 2-D landmarks are ``x_0 .. x_67`` and
``y_0 .. y_67``. Columns are found by header name (leading spaces, as OpenFace writes them,
are ignored), never by position: MPUC slices fixed positions (``[297:365]``/``[365:433]``
for RAVDESS, ``data/RAVDESS.py`` L86-87; ``[299:367]``/``[367:435]`` for MOSEI,
``data/CMU_MOSEI.py`` L87), which is the same data
only for the exact column layout it was written for.
"""

from __future__ import annotations

import csv
import dataclasses
import math
from pathlib import Path

import numpy as np

from bench.data.transforms import (Output, Transform, crop_fallbacks, crop_indices, file_source, positive, register,
                                   tsn_indices)
from bench.errors import DataError


def read_columns(path: Path, wanted: list[str], expected: str) -> np.ndarray:
    """The ``wanted`` columns of every data row of a CSV, float64 ``[rows, len(wanted)]``.

    A missing column, a ragged or non-numeric row, or no data rows is a DataError naming the
    file (and line); ``expected`` describes the header the caller needs.
    """
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.reader(handle, skipinitialspace=True)
            header = [h.strip() for h in next(reader, [])]
            missing = [w for w in wanted if w not in header]
            if missing:
                raise DataError(
                    f"{path}: landmark CSV lacks column(s) {', '.join(missing[:4])}"
                    f"{' ...' if len(missing) > 4 else ''}; expected a header with {expected}"
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


def min_max(values: np.ndarray) -> np.ndarray:
    """``(v - min) / ptp`` over the whole array; a constant array becomes 0."""
    span = np.ptp(values)
    return (values - values.min()) / span if span > 0 else np.zeros_like(values)


def _xy_columns(points: range) -> list[str]:
    return [f"x_{i}" for i in points] + [f"y_{i}" for i in points]


@register
class LandmarksCsv(Transform):
    """TSN-sampled 2-D facial landmarks from a per-frame CSV, normalised per clip.

    The CSV (OpenFace style) has a header with ``x_0 .. x_{P-1}`` and ``y_0 .. y_{P-1}``;
    other columns (``frame``, confidences, ...) are ignored. Keeps ``num_frames`` rows by
    :func:`~bench.data.transforms.tsn_indices` (centre mode), then min-max normalises all x
    values of those rows to [0, 1] and all y values likewise (a constant coordinate becomes 0).
    Output float32 ``[T, 2P]`` laid out ``x_0 .. x_{P-1}, y_0 .. y_{P-1}``.
    """

    name = "landmarks_csv"
    version = 1
    modality = "landmarks"

    @dataclasses.dataclass(frozen=True)
    class Params:
        num_frames: int = 8
        num_points: int = 68

        def __post_init__(self) -> None:
            positive("landmarks_csv", num_frames=self.num_frames, num_points=self.num_points)

    def run(self, source: Path | str) -> Output:
        p = self.params.num_points
        table = read_columns(file_source(source, self.name), _xy_columns(range(p)),
                             f"x_0..x_{p - 1}, y_0..y_{p - 1}")
        table = table[tsn_indices(len(table), self.params.num_frames, "centre")]
        out = np.concatenate([min_max(table[:, :p]), min_max(table[:, p:])], axis=1)
        return Output(out.astype(np.float32))


OPENFACE_POINTS = 68
MPUC_FIRST_POINT = 17
"""MPUC drops the 17 jaw-line points 0-16 and keeps 51 (``[17:]``, ``data/RAVDESS.py`` L171,
``data/CMU_MOSEI.py`` L233)."""


@register
class LandmarksOpenFaceMPUC(Transform):
    """MPUC's landmark input: 51 OpenFace points per frame, normalised per utterance (ICPR'22).

    Reads ``x_0 .. x_67``/``y_0 .. y_67`` of every frame (by header name), drops the jaw points
    0-16, and min-max normalises all x values of the utterance (every frame and point) to
    [0, 1] and all y values likewise (a constant coordinate becomes 0, MPUC's MOSEI guard).
    Stored: float32 ``[T, 51, 2]`` (x, y). Items: ``num_frames`` consecutive frames by
    :func:`~bench.data.transforms.crop_indices` (random start in training, start 0 in
    evaluation; shorter utterances wrap around, counted per clip as the fallback
    ``shorter_than_crop_wrapped``), MPUC's temporal crop (RAVDESS 90, MOSEI 30).
    MPUC crops every modality with the same steps; bench's per-item sampling seeds are the
    same for every modality of a sample, so equally long sequences with the same
    ``num_frames`` get the same crop.
    """

    name = "landmarks_openface_mpuc"
    version = 1
    modality = "landmarks"
    variable_length = True
    sampling_params = ("num_frames", "crops")

    @dataclasses.dataclass(frozen=True)
    class Params:
        num_frames: int = 90
        crops: int = 1

        def __post_init__(self) -> None:
            positive("landmarks_openface_mpuc", num_frames=self.num_frames, crops=self.crops)

    def run(self, source: Path | str) -> Output:
        table = read_columns(file_source(source, self.name), _xy_columns(range(OPENFACE_POINTS)),
                             "the OpenFace 2D landmark columns x_0..x_67, y_0..y_67")
        xs = table[:, MPUC_FIRST_POINT:OPENFACE_POINTS]
        ys = table[:, OPENFACE_POINTS + MPUC_FIRST_POINT:]
        return Output(np.stack([min_max(xs), min_max(ys)], axis=-1).astype(np.float32))

    def sample(self, array: np.ndarray, train: bool, rng: np.random.Generator | None) -> np.ndarray:
        return np.asarray(array[crop_indices(len(array), self.params.num_frames, train, rng, self.params.crops)])

    def item_fallbacks(self, array: np.ndarray) -> tuple[str, ...]:
        return crop_fallbacks(len(array), self.params.num_frames)
