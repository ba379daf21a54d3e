"""Where a dataset's files are, and opening its adapter there.

The root is the ``--data-root`` flag, then ``$BENCH_DATA_<NAME>``, then
``$BENCH_DATA_ROOT/<name>``, then the adapter's own default (only the built-in synthetic
data has one). Adapter options (a protocol's ``dataset_options``, or ``bench prepare
--option``) are keyword arguments of the adapter's constructor, checked by name.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from bench import registry
from bench.api import DatasetAdapter
from bench.errors import DataError, ProtocolError, did_you_mean


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


def adapter_options(adapter_cls: type[DatasetAdapter]) -> dict[str, Any]:
    """The keyword options an adapter's constructor takes, with their defaults."""
    params = inspect.signature(adapter_cls.__init__).parameters
    return {n: p.default for n, p in params.items() if p.kind is inspect.Parameter.KEYWORD_ONLY}


def open_adapter(dataset: str, given: Path | None, options: Mapping[str, Any] | None = None,
                 needed_by: str = "", flag: str = "--data-root") -> DatasetAdapter:
    """The adapter of ``dataset`` opened on its root, with ``options``; clear errors for each failure.

    ``flag`` is the command-line option the message tells the user to pass the root with.
    """
    adapter_cls = registry.datasets.get(dataset)
    valid = adapter_options(adapter_cls)  # before the root: a default root may be generated (synthetic)
    for key in options or {}:
        if key not in valid:
            listed = ", ".join(f"{k} (default {v!r})" for k, v in valid.items()) or "none"
            raise ProtocolError(f"dataset {dataset!r} has no option {key!r}{did_you_mean(key, valid)}; "
                                f"its options: {listed}")
    root = resolve(dataset, adapter_cls, given)
    who = f"{needed_by} needs" if needed_by else "needs"
    if root is None:
        raise DataError(f"{who} the {dataset} dataset: pass {flag} DIR (or set BENCH_DATA_{dataset.upper()}) "
                        f"pointing at a copy laid out as:\n{adapter_cls.layout}")
    if not Path(root).is_dir():
        what = "is a file, not a folder" if Path(root).exists() else "does not exist"
        raise DataError(f"data root {root} {what}; {dataset} expects:\n{adapter_cls.layout}")
    try:
        return adapter_cls(Path(root), **dict(options or {}))
    except (TypeError, ValueError) as exc:
        raise ProtocolError(f"dataset {dataset!r}: invalid options {dict(options or {})}: {exc}") from exc
