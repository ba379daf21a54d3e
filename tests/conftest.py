"""Test-wide settings: nothing may reach a model hub, and caches stay inside the test's temp folder.

Modules of tiny models take ``pytestmark = pytest.mark.usefixtures("one_thread")``; ``data_root`` is a
small synthetic dataset per module (a module that needs another size defines its own).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
# The resume tests stop cells after chosen epochs of tiny models (well under a second each): they need the
# checkpoint of every epoch, not one per 30 s (tests/test_checkpoint_interval.py covers the interval itself).
os.environ["BENCH_CHECKPOINT_EVERY_S"] = "0"


@pytest.fixture(autouse=True)
def _private_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Point BENCH_CACHE at a per-session folder so tests never touch the user's cache."""
    monkeypatch.setenv("BENCH_CACHE", str(tmp_path_factory.getbasetemp() / "bench-cache"))


@pytest.fixture(scope="module")
def one_thread() -> Iterator[None]:
    """One intra-op thread for a module of tiny models: they gain nothing from more, and idle
    OpenMP threads spin on cores shared with other jobs. The previous count is restored after."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def data_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The synthetic classification dataset of 5 subjects × 4 clips, written afresh for the module."""
    from bench.data.synthetic_generator import SyntheticSpec, generate

    root = tmp_path_factory.mktemp("synthetic") / "data"
    generate(root, SyntheticSpec(variant="classification", num_subjects=5, clips_per_subject=4))
    return root
