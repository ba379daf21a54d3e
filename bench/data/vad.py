"""Where the speech is in a clip, from its log-mel frames, and the crop windows placed by it.

An energy-based voice-activity detector: a frame is speech when its energy (the mean of its mel
powers, in dB) lies at most ``threshold_db`` below the loudest frame of the clip; the speech
region runs from the first to the last such frame. On studio recordings (RAVDESS) the frames
outside it are the silence before and after the utterance.

Crop policies (``CropPolicy``) for a window of ``length`` frames out of ``n``:

* ``start``: evaluation takes the first ``length`` frames, training a uniformly random window
  anywhere in the clip (MPUC's code: view 1 starts at 0);
* ``speech``: evaluation centres the window on the speech region; training draws the start
  uniformly among the windows that hold the whole region (region shorter than the window) or lie
  inside it (region longer), so train and test see the same part of the utterance;
* ``mean``: evaluation averages the model's outputs over ``windows`` windows spread evenly from
  the first to the last possible start; training as ``start``.

Windows never run past the clip when it is at least ``length`` frames long; a shorter clip
wraps around (start 0), as MPUC's loader pads it with its own first rows
(:func:`bench.data.transforms.window_indices`).
"""

from __future__ import annotations

from typing import Literal

import numpy as np

CropPolicy = Literal["start", "speech", "mean"]


def frame_energy_db(logmel_db: np.ndarray) -> np.ndarray:
    """Each frame's energy in dB, ``10 log10(mean_f 10^(x_f / 10))``, of ``[T, F]`` dB frames."""
    db = np.asarray(logmel_db, dtype=np.float64)
    peak = db.max(axis=1, keepdims=True)  # factored out for range: the mean of 10^(x/10) underflows at -80 dB
    return (peak[:, 0] + 10.0 * np.log10(np.mean(10.0 ** ((db - peak) / 10.0), axis=1))).astype(np.float64)


def speech_region(logmel_db: np.ndarray, threshold_db: float) -> tuple[int, int]:
    """``(first, last)`` frame (inclusive) whose energy is within ``threshold_db`` of the loudest frame."""
    energy = frame_energy_db(logmel_db)
    speech = np.flatnonzero(energy >= energy.max() - threshold_db)
    return int(speech[0]), int(speech[-1])


def start_range(n: int, length: int, region: tuple[int, int] | None) -> tuple[int, int]:
    """The inclusive range of window starts training may draw from (``region`` None: the whole clip)."""
    top = max(n - length, 0)
    if region is None:
        return 0, top
    first, last = region
    end = last + 1  # exclusive
    low, high = sorted((first, end - length))
    return min(max(low, 0), top), min(max(high, 0), top)


def centred_start(n: int, length: int, region: tuple[int, int]) -> int:
    """The start of the window centred on ``region`` (rounded down), kept inside the clip."""
    first, last = region
    start = (first + last + 1 - length) // 2
    return min(max(start, 0), max(n - length, 0))


def spread_starts(n: int, length: int, windows: int) -> np.ndarray:
    """``windows`` starts from 0 to ``n - length``, evenly spread and rounded to frames: int64 ``[windows]``."""
    return np.rint(np.linspace(0, max(n - length, 0), windows)).astype(np.int64)
