"""A content-addressed cache of preprocessed arrays.

An entry is named by the sha256 of the canonical JSON of what produced it (the transform's
``describe()`` and the source's identity, see :func:`source_identity`), so a new transform
version, a new parameter or a changed source file all land on a new entry and stale arrays
are never read back. Entries live at ``<root>/<key[:2]>/<key>.npz`` and hold the array, its
dtype, its shape and the sha256 of its bytes; they are written atomically (:mod:`bench.io`)
and verified on every read, so a truncated or corrupted entry is rebuilt rather than used.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from bench.errors import DataError
from bench.io import write_npz
from bench.paths import cache_root


def _array_digest(array: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()


def source_identity(source: Path | str) -> dict[str, Any]:
    """What identifies a source in a cache key.

    A file (:class:`~pathlib.Path`) is its resolved path, size and ``mtime_ns``, so editing or
    replacing it yields a new key; an inline ``str`` (an utterance) is the sha256 of its UTF-8
    bytes. A missing file is a :class:`~bench.errors.DataError`.
    """
    if isinstance(source, Path):
        try:
            stat = source.stat()
        except OSError as error:
            raise DataError(f"{source}: cannot read source file ({error.strerror or error})") from error
        return {"path": str(source.resolve()), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
    return {"text_sha256": hashlib.sha256(source.encode("utf-8")).hexdigest()}


class Cache:
    """Arrays keyed by what produced them, with hit/miss/rebuilt counters.

    ``misses`` counts every build (an absent entry or a bad one); ``rebuilt`` counts the
    subset of those builds that replaced an unreadable, truncated or checksum-mismatching
    entry.
    """

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.hits = 0
        self.misses = 0
        self.rebuilt = 0

    @staticmethod
    def key(parts: Mapping[str, Any]) -> str:
        """The sha256 of the canonical (key-sorted, compact) JSON of ``parts``."""
        try:
            text = json.dumps(dict(parts), sort_keys=True, separators=(",", ":"), allow_nan=False)
        except (TypeError, ValueError) as error:
            raise ValueError(f"cache key parts must be plain JSON data: {error}") from error
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    def path(self, key: str) -> Path:
        """Where the entry of ``key`` lives."""
        return self.root / key[:2] / f"{key}.npz"

    def _read(self, path: Path) -> np.ndarray | None:
        """The verified array at ``path``, or None when the entry is unreadable or corrupt."""
        try:
            with np.load(path, allow_pickle=False) as entry:
                array = entry["array"]
                digest = str(entry["sha256"])
                dtype = str(entry["dtype"])
                shape = tuple(int(n) for n in entry["shape"])
        except Exception:  # any failure to parse the entry means it cannot be trusted
            return None
        if str(array.dtype) != dtype or array.shape != shape or _array_digest(array) != digest:
            return None
        return array

    def get_or_build(
        self, parts: Mapping[str, Any], build: Callable[[], np.ndarray]
    ) -> tuple[np.ndarray, bool]:
        """Return ``(array, hit)``: the cached array for ``parts``, or ``build()``'s, stored.

        A failing ``build`` leaves no entry and no temporary file behind.
        """
        path = self.path(self.key(parts))
        existed = path.exists()
        if existed:
            array = self._read(path)
            if array is not None:
                self.hits += 1
                return array, True
        array = np.asarray(build())
        if array.dtype == object:
            raise TypeError("a cached build must return a numeric array, not an object array")
        write_npz(
            path,
            {
                "array": array,
                "sha256": np.array(_array_digest(array)),
                "dtype": np.array(str(array.dtype)),
                "shape": np.array(array.shape, dtype=np.int64),
            },
        )
        self.misses += 1
        if existed:
            self.rebuilt += 1
        return array, False

    def _entries(self) -> list[Path]:
        if not self.root.is_dir():
            return []
        return sorted(self.root.glob("??/*.npz"))

    def info(self) -> dict[str, Any]:
        """The root, the number of entries and their total size in bytes."""
        entries = self._entries()
        return {
            "root": str(self.root),
            "entries": len(entries),
            "bytes": sum(p.stat().st_size for p in entries),
        }

    def clean(self) -> int:
        """Remove every entry (and any temporary file a killed writer left); return how many entries."""
        entries = self._entries()
        for entry in entries:
            entry.unlink(missing_ok=True)
        if self.root.is_dir():
            for leftover in self.root.glob("??/.*.npz.*.tmp"):
                leftover.unlink(missing_ok=True)
            for folder in self.root.glob("??"):
                if folder.is_dir() and not any(folder.iterdir()):
                    folder.rmdir()
        return len(entries)


def default_cache() -> Cache:
    """The cache under ``cache_root() / "preprocessed"``."""
    return Cache(cache_root() / "preprocessed")
