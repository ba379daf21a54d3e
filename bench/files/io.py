"""Atomic file writes: a file appears whole under its final name or not at all.

Every writer puts its bytes in a temporary file in the destination folder, flushes it to
disk and renames it over the destination (``os.replace`` is atomic on POSIX within one
filesystem), so a crash, Ctrl-C or a second SLURM task writing the same path at the same
time never leaves a half-written file behind. A write the file system refuses (a full disk,
a read-only folder) is one :class:`~bench.errors.RunError` line naming the file and the reason.
:func:`sha256_file` is the digest of a file written or read (weights files, checkpoints).
"""

from __future__ import annotations

import contextlib
import errno
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

from bench.errors import BenchError, DataError, RunError


def new_file_mode() -> int:
    """The permissions ``open()`` would give a new file under the current umask (``0o666 & ~umask``).

    ``tempfile.mkstemp`` creates its file ``0o600``; an atomically written file is given this
    mode instead, so records and caches in a shared store stay as readable as plain writes make them.
    """
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


@contextlib.contextmanager
def atomic_open(path: Path, what: str = "the file") -> Iterator[BinaryIO]:
    """Open a temporary file beside ``path`` for binary writing; rename it to ``path`` on success.

    A file-system fault (a full disk, a read-only or unwritable folder) is a
    :class:`~bench.errors.RunError` of one line naming ``path``, ``what`` it is and the system's
    reason; also when it reaches the caller's writer first (torch's zip writer reports a full disk
    as ``RuntimeError: ... unexpected pos``, with the OSError as its context). The temporary file
    is removed: nothing is half-written.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as error:
        raise write_failed(path, what, error) from None
    os.fchmod(fd, new_file_mode())
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException as error:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        cause = os_error_of(error)
        if cause is not None and not isinstance(error, BenchError):
            raise write_failed(path, what, cause) from None
        raise


def os_error_of(error: BaseException) -> OSError | None:
    """The OSError that ``error`` is, or that it was raised while handling (its cause or context)."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        if isinstance(current, OSError):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


def write_failed(path: Path, what: str, error: OSError) -> RunError:
    """The one-line error of a write the file system refused."""
    reason = error.strerror or str(error)
    code = f", {errno.errorcode[error.errno]}" if error.errno in errno.errorcode else ""
    return RunError(f"{path}: cannot write {what} ({reason}{code}); nothing was half-written")


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
