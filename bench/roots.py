"""Where a dataset's files are: the flag, then the environment, then the adapter's own default."""

from __future__ import annotations

import os
from pathlib import Path

from bench.api import DatasetAdapter


def env_root(dataset: str) -> Path | None:
    """``$BENCH_DATA_<NAME>``, else ``$BENCH_DATA_ROOT/<name>`` when that folder exists."""
    specific = os.environ.get(f"BENCH_DATA_{dataset.upper()}")
    if specific:
        return Path(specific).expanduser()
    shared = os.environ.get("BENCH_DATA_ROOT")
    if shared and (Path(shared).expanduser() / dataset).is_dir():
        return Path(shared).expanduser() / dataset
    return None


def resolve(dataset: str, adapter_cls: type[DatasetAdapter], given: Path | None) -> Path | None:
    """The data root to use for ``dataset``: ``given``, the environment, or the adapter's default."""
    return given or env_root(dataset) or adapter_cls.default_root()
