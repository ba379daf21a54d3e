"""Reader of the CMU-MultimodalSDK's computational sequences (``.csd`` files, HDF5).

A computational sequence, as the SDK's ``computational_sequence/file_ops.py`` writes and
reads it, is one top-level HDF5 group named after the sequence's root name, holding
``data/<video_id>/features`` ([N, D]) and ``data/<video_id>/intervals`` ([N, 2], start and
end in seconds), and ``metadata/<key>`` (JSON strings; not needed here). Interval ``i`` of a
video is row ``i`` of its arrays (0-based, in the file's order). Reading needs h5py (bench's
``full`` extra).
"""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path
from typing import Any

import numpy as np

from bench.errors import ConfigError, DataError


def _h5py() -> Any:
    try:
        import h5py
    except ImportError as error:
        raise ConfigError("mosei: reading CMU-MultimodalSDK .csd files needs h5py (pip install h5py; it is in "
                          "bench's 'full' extra), or convert them to the plain layout (labels.csv, words/)") from error
    return h5py


def read_sequence(path: Path, width: int, *, words: bool = False,
                  videos: Collection[str] | None = None) -> tuple[str, dict[str, tuple[np.ndarray, np.ndarray]]]:
    """Read a CMU-MultimodalSDK computational sequence: ``(root name, {video_id: (features, intervals)})``.

    ``features`` is ``[N, width]`` — float64 for a numeric sequence, or, with ``words``, an
    object array of ``str`` decoded from the byte strings the SDK stores — and ``intervals``
    ``[N, 2]`` float64; videos come in the file's (HDF5 link) order, the order the SDK's
    ``read_CSD`` gives. ``videos`` restricts which are read (absent ones are skipped). A file
    that is not HDF5, lacks ``<root>/data`` or a video's ``features`` / ``intervals``, has a
    wrong feature width or dtype, feature and interval counts that differ, or a non-finite
    number is a DataError naming the file, the video and what was expected.
    """
    h5py = _h5py()
    path = Path(path)
    what = (f"features [N, {width}] of byte-string words" if words else f"features [N, {width}] of numbers") \
        + " and intervals [N, 2] (start, end in seconds)"
    if not path.is_file():
        raise DataError(f"{path}: computational sequence not found")
    if not h5py.is_hdf5(str(path)):
        raise DataError(f"{path}: not an HDF5 file; expected a CMU-MultimodalSDK computational sequence (.csd)")
    try:
        handle = h5py.File(path, "r")
    except OSError as error:
        raise DataError(f"{path}: cannot open the HDF5 file ({error})") from error
    try:
        with handle:
            return _read_root(path, handle, width, words, what, videos, h5py)
    except (OSError, KeyError, RuntimeError, ValueError) as error:
        raise DataError(f"{path}: cannot read the computational sequence ({error}); expected "
                        f"<root name>/data/<video_id>/ holding {what}") from error


def _read_root(path: Path, handle: Any, width: int, words: bool, what: str, videos: Collection[str] | None,
               h5py: Any) -> tuple[str, dict[str, tuple[np.ndarray, np.ndarray]]]:
    """The one top-level group's ``data`` videos (see :func:`read_sequence`)."""
    roots = list(handle.keys())
    if len(roots) != 1 or not isinstance(handle[roots[0]], h5py.Group):
        raise DataError(f"{path}: expected one top-level group named after the sequence (e.g. 'All Labels', "
                        f"'words'), found {roots}")
    root = roots[0]
    data = handle[root].get("data")
    if not isinstance(data, h5py.Group):
        raise DataError(f"{path}: group {root!r} has no 'data' group; expected {root}/data/<video_id>/ "
                        f"holding {what}")
    out: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for video in data.keys():
        if videos is not None and video not in videos:
            continue
        out[video] = _read_video(path, data[video], video, width, words, what, h5py)
    return root, out


def _read_video(path: Path, group: Any, video: str, width: int, words: bool, what: str,
                h5py: Any) -> tuple[np.ndarray, np.ndarray]:
    where = f"{path}, video {video}"
    arrays: dict[str, np.ndarray] = {}
    for name in ("features", "intervals"):
        item = group.get(name) if isinstance(group, h5py.Group) else None
        if not isinstance(item, h5py.Dataset):
            raise DataError(f"{where}: no {name!r} dataset; expected {what}")
        try:
            arrays[name] = item[()]
        except (OSError, ValueError, TypeError) as error:
            raise DataError(f"{where}: cannot read {name!r} ({error}); expected {what}") from error
    features, intervals = arrays["features"], arrays["intervals"]
    if features.ndim != 2 or features.shape[1] != width:
        raise DataError(f"{where}: features have shape {list(features.shape)}; expected {what}")
    if intervals.ndim != 2 or intervals.shape[1] != 2:
        raise DataError(f"{where}: intervals have shape {list(intervals.shape)}; expected {what}")
    if features.shape[0] != intervals.shape[0]:
        raise DataError(f"{where}: {features.shape[0]} feature rows but {intervals.shape[0]} intervals; "
                        f"expected {what}")
    if intervals.dtype.kind not in "fiu":
        raise DataError(f"{where}: intervals have dtype {intervals.dtype}; expected {what}")
    intervals = intervals.astype(np.float64)
    _require_finite(intervals, where, "intervals", what)
    if words:
        if features.dtype.kind not in "SOU":
            raise DataError(f"{where}: features have dtype {features.dtype}; expected {what}")
        decoded = np.empty(features.shape, dtype=object)
        for i, item in enumerate(features[:, 0]):
            try:
                decoded[i, 0] = item.decode("utf-8") if isinstance(item, bytes) else str(item)
            except UnicodeDecodeError as error:
                raise DataError(f"{where}, interval {i}: word {item!r} is not UTF-8 ({error}); "
                                f"expected {what}") from error
        return decoded, intervals
    if features.dtype.kind not in "fiu":
        raise DataError(f"{where}: features have dtype {features.dtype}; expected {what}")
    features = features.astype(np.float64)
    _require_finite(features, where, "features", what)
    return features, intervals


def _require_finite(array: np.ndarray, where: str, name: str, what: str) -> None:
    bad = np.flatnonzero(~np.isfinite(array).all(axis=1))
    if bad.size:
        row = int(bad[0])
        raise DataError(f"{where}, interval {row}: {name} {array[row].tolist()} hold a non-finite number; "
                        f"expected {what}")
