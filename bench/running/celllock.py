"""A lock per cell, so that two processes never train the same (fold, seed) cell at once.

The lock is a POSIX record lock (``fcntl.lockf``, which NFS clients forward to the server's
lock manager) on ``fold<k>-seed<s>.lock`` beside the cell's record. The holder writes its
process id, host and start time into the file, so that a refused process can say who holds
it. The kernel drops the lock of a process that dies, however it dies, so a stale lock file
left by a killed run is simply taken over; the holder removes the file when it is done.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import os
import socket
from collections.abc import Iterator
from pathlib import Path

from bench.errors import RunError


class CellBusy(RunError):
    """Another live process holds the cell's lock."""


def lock_path(record: Path) -> Path:
    """The lock file of the cell whose record is ``record``."""
    return record.with_suffix(".lock")


@contextlib.contextmanager
def hold(record: Path, cell: str) -> Iterator[None]:
    """Hold the cell's lock for the block; CellBusy (one line naming the holder) when another process has it."""
    path = lock_path(record)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = _acquire(path, cell)
    except OSError as error:  # a read-only or unwritable store: found before any training
        raise RunError(f"{path}: cannot create the lock of {cell} ({error.strerror or error}); the cell's folder "
                       f"must be writable for its record; nothing was trained") from None
    try:
        os.ftruncate(fd, 0)
        os.write(fd, json.dumps({"pid": os.getpid(), "host": socket.gethostname(),
                                 "since": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")}).encode())
        yield
    finally:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()  # while still locked: a process waiting on this file retries on the new one
        os.close(fd)


def _acquire(path: Path, cell: str) -> int:
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = _holder(path)
            os.close(fd)
            raise CellBusy(f"{cell} is being trained by {holder} (lock {path}); wait for it to finish, or stop it "
                           "and run again: its checkpoint is resumed") from None
        try:
            same = os.fstat(fd).st_ino == os.stat(path).st_ino
        except FileNotFoundError:
            same = False
        if same:
            return fd
        os.close(fd)  # the holder removed the file between our open and our lock: lock the new one


def _holder(path: Path) -> str:
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
        return f"process {info['pid']} on {info['host']} since {info['since']}"
    except (OSError, ValueError, KeyError, TypeError):
        return "another process"
