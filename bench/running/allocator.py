"""The C allocator's settings for training on a CPU: freed memory is kept for reuse, not returned.

A training step allocates and frees the same large buffers (activations, gradients, batches) again
and again. glibc's malloc serves blocks above its ``mmap`` threshold with fresh mappings and gives
free space at the top of its heap back to the system once it exceeds the trim threshold, so each
step touches tens of megabytes of new pages and pays a page fault per 4 KiB. With the ``mmap``
threshold at its 64-bit maximum (32 MiB) and a trim threshold of 1 GiB, freed blocks stay in the
heap and the next step reuses them. Results are unchanged (the same arithmetic on other
addresses); the process keeps its peak heap until it exits. Only glibc has these knobs
(``mallopt(3)``); elsewhere, and where the user set glibc's own ``MALLOC_*_THRESHOLD_`` variables or
malloc tunables, nothing is changed.
"""

from __future__ import annotations

import ctypes
import os
import platform

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
"""``mallopt`` parameter numbers (glibc ``malloc.h``)."""

MMAP_THRESHOLD_BYTES = 32 * 1024 * 1024
"""Blocks at least this large are still mapped afresh: glibc refuses a higher threshold on 64-bit."""
TRIM_THRESHOLD_BYTES = 1024 * 1024 * 1024

_USER_SETTINGS = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_")

_applied: bool | None = None


def keep_freed_memory() -> bool:
    """Apply the settings once per process; True when they are in force (applied now or before)."""
    global _applied
    if _applied is None:
        _applied = _apply()
    return _applied


def _apply() -> bool:
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    if any(name in os.environ for name in _USER_SETTINGS) or "glibc.malloc" in os.environ.get("GLIBC_TUNABLES", ""):
        return False
    mallopt = getattr(ctypes.CDLL(None), "mallopt", None)
    if mallopt is None:
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES)) and bool(mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES))
