"""A content-addressed cache of preprocessed arrays.

An entry is named by the sha256 of the canonical JSON of what produced it (the transform's
``describe()`` and the source's identity, see :func:`source_identity`), so a new transform
version, a new parameter or a changed source file all land on a new entry and stale arrays
are never read back. Entries live at ``<root>/<key[:2]>/<key>.npz`` and hold the array, its
dtype, its shape, the sha256 of its bytes and a JSON ``meta`` record (e.g. the fallbacks a
transform took for that source, so a cache hit reports them too); they are written
atomically (:mod:`bench.files.io`) and verified on every read, so a truncated or corrupted entry is
rebuilt rather than used.

An entry can also be read *mapped* (:meth:`Cache.entry` with ``mapped=True``): the npz is
uncompressed, so its array member is a contiguous ``.npy`` inside the zip file, and
:class:`MappedArray` memory-maps it in place. The bytes are still checksummed once when the
entry is looked up; afterwards only the pages a batch touches are read. This is how datasets
too large for memory (DFEW's 11,697 decoded clips) are fed.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import struct
import zipfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from bench.errors import DataError
from bench.files.io import write_npz
from bench.files.paths import cache_root


def _array_digest(array: np.ndarray) -> str:
    data = array if array.flags.c_contiguous else np.ascontiguousarray(array)
    return hashlib.sha256(memoryview(data).cast("B") if data.size else b"").hexdigest()


_LOCAL_HEADER = struct.Struct("<IHHHHHIIIHH")
_LOCAL_SIGNATURE = 0x04034B50


@dataclasses.dataclass(frozen=True)
class MappedArray:
    """Where an entry's array lies inside its file: opened as a read-only memory map on demand.

    Holds no open file, so it pickles cheaply (to DataLoader workers) and thousands of them
    cost no file handles.
    """

    path: str
    offset: int
    dtype: str
    shape: tuple[int, ...]

    def open(self) -> np.ndarray:
        """The array, memory-mapped read-only (a plain empty array when it has no elements)."""
        if 0 in self.shape:
            return np.zeros(self.shape, dtype=self.dtype)
        return np.memmap(self.path, dtype=np.dtype(self.dtype), mode="r", offset=self.offset, shape=self.shape)

    @property
    def nbytes(self) -> int:
        """The array's size in bytes."""
        return int(np.prod(self.shape, dtype=np.int64)) * np.dtype(self.dtype).itemsize

    def read(self) -> np.ndarray:
        """The array read into memory whole (read-only, like :meth:`open`'s), keeping no file open."""
        count = int(np.prod(self.shape, dtype=np.int64))
        with open(self.path, "rb") as handle:
            array = np.fromfile(handle, dtype=np.dtype(self.dtype), count=count, offset=self.offset)
        if array.size != count:
            raise OSError(f"{self.path}: {array.size} of {count} values at offset {self.offset}")
        array = array.reshape(self.shape)
        array.flags.writeable = False
        return array


def _locate_member(path: Path, member: str) -> MappedArray:
    """The data offset, dtype and shape of the uncompressed ``.npy`` member of a zip file."""
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo(member)
    if info.compress_type != zipfile.ZIP_STORED:
        raise ValueError(f"{member} is compressed")
    with open(path, "rb") as handle:
        handle.seek(info.header_offset)
        fields = _LOCAL_HEADER.unpack(handle.read(_LOCAL_HEADER.size))
        if fields[0] != _LOCAL_SIGNATURE:
            raise ValueError("bad local file header")
        handle.seek(info.header_offset + _LOCAL_HEADER.size + fields[-2] + fields[-1])
        version = np.lib.format.read_magic(handle)
        read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, fortran, dtype = read_header(handle)
        if fortran and len(shape) > 1:
            raise ValueError("Fortran-ordered array")
        return MappedArray(str(path), handle.tell(), dtype.str, tuple(int(n) for n in shape))


@dataclasses.dataclass(frozen=True)
class Entry:
    """One verified cache entry: its array (a read-only memory map when ``mapped``) and its meta."""

    array: np.ndarray
    meta: dict[str, Any]
    mapped: MappedArray | None = None


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

    def _read(self, path: Path, mapped: bool) -> Entry | None:
        """The verified entry at ``path``, or None when it is unreadable or corrupt."""
        try:
            with np.load(path, allow_pickle=False) as stored:
                digest = str(stored["sha256"])
                dtype = str(stored["dtype"])
                shape = tuple(int(n) for n in stored["shape"])
                meta = json.loads(str(stored["meta"])) if "meta" in stored.files else {}
                array = None if mapped else stored["array"]
            where = _locate_member(path, "array.npy") if mapped else None
            if where is not None:
                array = where.open()
        except Exception:  # any failure to parse the entry means it cannot be trusted
            return None
        if str(array.dtype) != dtype or array.shape != shape or _array_digest(array) != digest:
            return None
        return Entry(array, meta, where)

    def entry(
        self,
        parts: Mapping[str, Any],
        build: Callable[[], tuple[np.ndarray, Mapping[str, Any]]],
        mapped: bool = False,
    ) -> tuple[Entry, bool]:
        """Return ``(entry, hit)``: the cached entry for ``parts``, or the ``(array, meta)`` that
        ``build()`` makes, stored first. ``mapped`` reads the array as a memory map of the file.

        A failing ``build`` leaves no entry and no temporary file behind.
        """
        path = self.path(self.key(parts))
        existed = path.exists()
        if existed:
            found = self._read(path, mapped)
            if found is not None:
                self.hits += 1
                return found, True
        array, meta = build()
        array = np.asarray(array)
        if array.dtype == object:
            raise TypeError("a cached build must return a numeric array, not an object array")
        array = np.ascontiguousarray(array)
        meta = dict(meta)
        write_npz(
            path,
            {
                "array": array,
                "sha256": np.array(_array_digest(array)),
                "dtype": np.array(str(array.dtype)),
                "shape": np.array(array.shape, dtype=np.int64),
                "meta": np.array(json.dumps(meta, sort_keys=True)),
            },
        )
        self.misses += 1
        if existed:
            self.rebuilt += 1
        if mapped:
            where = _locate_member(path, "array.npy")
            return Entry(where.open(), meta, where), False
        return Entry(array, meta), False

    def get_or_build(
        self, parts: Mapping[str, Any], build: Callable[[], np.ndarray]
    ) -> tuple[np.ndarray, bool]:
        """Return ``(array, hit)``: the cached array for ``parts``, or ``build()``'s, stored."""
        found, hit = self.entry(parts, lambda: (build(), {}))
        return found.array, hit

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
