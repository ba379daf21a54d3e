"""Records that prove themselves: every record a command reads is checked before it is used.

:func:`check` accepts a record only when

* :func:`bench.records.store.checked` finds nothing wrong: readable JSON of the schema, every
  identity key and metric of the typed :class:`~bench.records.cells.RunRecord` present and of its
  type, the predictions file there, and, for a record that carries it, the ``integrity`` block
  matching both files (:mod:`bench.records.integrity`);
* its predictions file reads as ``ids``, ``outputs`` and ``targets`` of one length, holding the
  test ids its ``data.split`` fingerprints (a file swapped in from another fold is named);
* each stored metric, and the confusion, equal those recomputed from the predictions (within
  float rounding). Metrics that score per video are recomputed when the predictions keep the
  samples' ``groups`` (records written since they do); in older records they rest on the
  integrity block.

Records written before the integrity block (the committed ``results/reproduced/`` among them) are
verified by the recomputation alone. A record that fails is *corrupt*: :func:`scan` returns it
with its reason (``bench check``, ``table``, ``rescore`` and ``plot`` name it and leave it out of
every number), and ``bench run`` moves it aside and recomputes its cell. numpy only: reading a
store imports neither torch nor a method plugin.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from bench import metrics
from bench.api import ids_fingerprint
from bench.errors import BenchError
from bench.records import store
from bench.reporting import scored

Found = tuple[Path, dict[str, Any]]
"""A verified record and the path it was read from."""

REL_TOLERANCE = 1e-9
"""How far a stored metric may sit from its recomputation: float rounding, not a different number."""


@dataclasses.dataclass(frozen=True)
class Scan:
    """A store's records: those verified and those corrupt, each with the reason."""

    found: list[Found]
    corrupt: list[tuple[Path, str]]


def scan(root: Path) -> Scan:
    """Every record under ``root``, verified (:func:`check`)."""
    found, corrupt = [], []
    for path in store.record_files(root):
        record, why = check(path)
        if record is not None:
            found.append((path, record))
        else:
            corrupt.append((path, str(why)))
    return Scan(found, corrupt)


def check(record_file: Path) -> tuple[dict[str, Any] | None, str | None]:
    """(the record, None) when it proves itself, else (None, why it is corrupt)."""
    record, why = store.checked(record_file)
    if record is None:
        return None, why
    why = against_predictions(record_file, record)
    return (None, why) if why is not None else (record, None)


def examined(record_file: Path, protocol_hash: str) -> tuple[dict[str, Any] | None, str | None]:
    """A cell's record file, verified once: (the record, None) when the cell is finished under
    ``protocol_hash`` and its record proves itself; (None, why) when a record is there but corrupt;
    (None, None) when there is none, or a sound one of another protocol version (the cell must run)."""
    if not Path(record_file).is_file():
        return None, None
    record, why = check(record_file)
    if record is None:
        return None, why
    return (record, None) if record["protocol"]["hash"] == protocol_hash else (None, None)


def finished(record_file: Path, protocol_hash: str) -> dict[str, Any] | None:
    """The record of a finished cell that proves itself, or None when the cell must (re)run."""
    return examined(record_file, protocol_hash)[0]


def against_predictions(record_file: Path, record: Mapping[str, Any]) -> str | None:
    """Why the record's numbers are not those of its predictions file; None when they are."""
    path = store.predictions_path(record_file)
    try:
        with np.load(path, allow_pickle=False) as arrays:
            loaded = {name: arrays[name] for name in arrays.files}
    except Exception as exc:  # a damaged zip fails in zipfile, zlib or numpy's format reader alike
        return f"its predictions file {path.name} is unreadable ({type(exc).__name__}: {exc})"
    lacking = [name for name in ("ids", "outputs", "targets") if name not in loaded]
    if lacking:
        return f"its predictions file {path.name} has no {', '.join(lacking)}"
    ids, outputs, targets = loaded["ids"], loaded["outputs"], loaded["targets"]
    groups = loaded.get("groups")
    rows = {array.shape[0] if array.ndim else -1 for array in (ids, outputs, targets, *([groups] if groups is not None
                                                                                        else []))}
    if len(rows) != 1 or -1 in rows:
        return f"its predictions file {path.name} holds ids, outputs and targets of different lengths"
    why = _test_ids(record, ids, path.name)
    if why is not None:
        return why
    try:
        task = scored.task_of(record, record_file)
        return _metrics(record, task, outputs, targets, groups, path.name) or \
            _confusion(record, task, outputs, targets, path.name)
    except (BenchError, ValueError) as exc:
        return f"its predictions file {path.name} does not score as its record says: " \
               f"{str(exc).removeprefix(f'{record_file}: ')}"


def _test_ids(record: Mapping[str, Any], ids: np.ndarray, name: str) -> str | None:
    split = record.get("data", {}).get("split", {}) if isinstance(record.get("data"), Mapping) else {}
    want = split.get("test") if isinstance(split, Mapping) else None
    if not isinstance(want, str):
        return None
    if ids_fingerprint(str(i) for i in ids) != want:
        return f"tampered: its predictions file {name} holds other test ids than its data.split.test fingerprint " \
               "(another cell's predictions?)"
    return None


def _metrics(record: Mapping[str, Any], task: Any, outputs: np.ndarray, targets: np.ndarray,
             groups: np.ndarray | None, name: str) -> str | None:
    stored: Mapping[str, float] = record["metrics"]
    bases = {key: scored.base_metric(key) for key in stored}
    unknown = [key for key, base in bases.items() if base is None]
    if unknown:
        return f"metrics.{unknown[0]} is no registered metric; it cannot be checked against {name}"
    names = [b for b in dict.fromkeys(bases.values()) if b is not None and (groups is not None
                                                                           or not metrics.get(b).grouped)]
    values = metrics.compute(names, task, outputs, targets, groups=None if groups is None else list(groups))
    for key, value in stored.items():
        if key not in values and not metrics.get(str(bases[key])).grouped:
            return f"metrics.{key} is not a value of metric {bases[key]} for this task; it cannot be checked"
        if key in values and not _same(float(value), values[key]):
            return (f"tampered: metrics.{key} is {float(value):.6g} in the record but {values[key]:.6g} "
                    f"recomputed from {name}")
    return None


def _confusion(record: Mapping[str, Any], task: Any, outputs: np.ndarray, targets: np.ndarray,
               name: str) -> str | None:
    stored = record.get("confusion")
    if stored is None or task.kind == "regression":
        return None
    if np.asarray(metrics.confusion(task, outputs, targets)).tolist() != stored:
        return f"tampered: its confusion is not the one recomputed from {name}"
    return None


def _same(stored: float, recomputed: float) -> bool:
    if math.isnan(stored) or math.isnan(recomputed):
        return math.isnan(stored) and math.isnan(recomputed)
    return math.isclose(stored, recomputed, rel_tol=REL_TOLERANCE, abs_tol=1e-12)


def counted(corrupt: Sequence[tuple[Path, str]]) -> str:
    """The closing count every reading command prints."""
    return f"{len(corrupt)} corrupt record(s) left out"
