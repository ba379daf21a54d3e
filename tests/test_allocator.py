"""bench.running.allocator: after keep_freed_memory, a loop that frees and reallocates large arrays
faults no new pages; without it glibc hands the freed memory back and faults it in again.

Each case runs in a fresh interpreter: the allocator's settings are process-wide and this test
process may already have them (any test that trains a cell applies them).
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys

import pytest

glibc_only = pytest.mark.skipif(platform.system() != "Linux" or platform.libc_ver()[0] != "glibc",
                                reason="mallopt is glibc's")

_PROBE = r"""
import json, resource, sys
import numpy as np
from bench.running import allocator

applied = allocator.keep_freed_memory() if sys.argv[1] == "keep" else None

def step():
    held = [np.ones(n) for n in (500_000, 1_000_000, 2_000_000, 3_000_000)]  # 4, 8, 16 and 24 MB, freed together
    del held

step(); step()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(20):
    step()
faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
print(json.dumps({"applied": applied, "faults_per_step": faults / 20}))
"""


def _probe(mode: str, **env: str) -> dict:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_") and k != "GLIBC_TUNABLES"}
    done = subprocess.run([sys.executable, "-c", _PROBE, mode], capture_output=True, text=True, check=True,
                          env={**clean, **env})
    return json.loads(done.stdout)


@glibc_only
def test_freed_memory_is_reused_instead_of_faulted_in_again() -> None:
    default, kept = _probe("default"), _probe("keep")
    assert kept["applied"] is True
    # 52 MB freed per step: by default the heap top beyond the (dynamic) trim threshold goes back to the system
    assert default["faults_per_step"] > 500, default
    assert kept["faults_per_step"] < 5, kept


@glibc_only
@pytest.mark.parametrize("env", [{"MALLOC_TRIM_THRESHOLD_": "131072"}, {"MALLOC_MMAP_THRESHOLD_": "65536"},
                                 {"GLIBC_TUNABLES": "glibc.malloc.trim_threshold=131072"}])
def test_the_users_own_malloc_settings_are_left_alone(env: dict[str, str]) -> None:
    assert _probe("keep", **env)["applied"] is False
