"""Atomic file writes: a file appears whole under its final name or not at all.

Every writer puts its bytes in a temporary file in the destination folder, flushes it to
disk and renames it over the destination (``os.replace`` is atomic on POSIX within one
filesystem), so a crash, Ctrl-C or a second SLURM task writing the same path at the same
time never leaves a half-written file behind. :func:`sha256_file` is the digest of a file
written or read (weights files, checkpoints).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from bench.errors import DataError


def new_file_mode() -> int:
    """The permissions ``open()`` would give a new file under the current umask (``0o666 & ~umask``).

    ``tempfile.mkstemp`` creates its file ``0o600``; an atomically written file is given this
    mode instead, so records and caches in a shared store stay as readable as plain writes make them.
    """
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


@contextlib.contextmanager
def atomic_open(path: Path) -> Iterator[BinaryIO]:
    """Open a temporary file beside ``path`` for binary writing; rename it to ``path`` on success."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.fchmod(fd, new_file_mode())
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def atomic_directory(root: Path) -> Iterator[Path]:
    """Yield a new empty folder beside ``root``; when the block succeeds it is renamed to ``root``.

    ``root`` is therefore absent or whole. When a concurrent writer renamed its copy into place
    first (``root`` exists and is not empty), this copy is discarded and the caller should check
    what is there; any other failure to rename is a DataError. The temporary folder never
    outlives the block.
    """
    root = Path(root)
    root.parent.mkdir(parents=True, exist_ok=True)
    tmp = root.parent / f".{root.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        yield tmp
        try:
            os.rename(tmp, root)
        except OSError as error:
            if not (root.is_dir() and any(root.iterdir())):
                raise DataError(f"{root}: cannot move the finished folder into place ({error})") from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    with atomic_open(path) as handle:
        handle.write(data)


def write_text(path: Path, text: str) -> None:
    """Write UTF-8 ``text`` to ``path`` atomically."""
    write_bytes(path, text.encode("utf-8"))


def write_json(path: Path, obj: Any) -> None:
    """Write ``obj`` as indented, key-sorted JSON to ``path`` atomically."""
    write_text(path, json.dumps(obj, indent=2, sort_keys=True, allow_nan=True) + "\n")


def write_npz(path: Path, arrays: Mapping[str, np.ndarray]) -> None:
    """Write ``arrays`` as an uncompressed ``.npz`` to ``path`` atomically."""
    buffer = io.BytesIO()
    np.savez(buffer, **{k: np.asarray(v) for k, v in arrays.items()})
    write_bytes(path, buffer.getvalue())


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file's bytes, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
