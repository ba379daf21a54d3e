"""The committed store of reproduced records: ``results/reproduced/``.

Run records (and their predictions) of real-data runs made by the maintainers, committed so that
``bench table`` and ``bench check`` show and test a reproduction without rerunning it. The layout
is the results store's (``runs/<protocol>/<method>/<config-hash>/fold<k>-seed<s>.json``, see
:mod:`bench.records.store`); each record carries a ``reproduced`` block naming the ``machine``, the
``device`` and the ``date`` (UTC, ISO 8601) of the run, written by :func:`add`. A record there
without that block is a DataError naming the file. Committed records are verified like any other
(:mod:`bench.reporting.verify`): one edited after it was committed, or whose predictions were
truncated or swapped, is corrupt (:func:`scan` names it) and counts in no table or check.

:func:`with_committed` merges these records with a local store's: a (protocol, method,
configuration, modalities, fold, seed) cell present in both is taken from the local store, so a
fresh local run replaces the committed one in tables and checks.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from bench.errors import DataError
from bench.records import store
from bench.reporting import reported, verify

KEY = "reproduced"
FIELDS = ("machine", "device", "date")


def root() -> Path:
    """``results/reproduced`` beside the reported numbers (``$BENCH_REPORTED_ROOT/reproduced`` when set)."""
    return reported.results_root() / "reproduced"


Found = tuple[Path, dict[str, Any]]
"""A record and the path it was read from (its predictions lie beside it)."""


def scan(folder: Path | None = None) -> verify.Scan:
    """The committed records under ``folder`` (default :func:`root`), verified; each must carry its ``reproduced``
    block."""
    found = verify.scan(root() if folder is None else Path(folder))
    for path, record in found.found:
        block = record.get(KEY)
        if not isinstance(block, Mapping) or any(not isinstance(block.get(f), str) or not block[f] for f in FIELDS):
            raise DataError(f"{path}: a committed reproduced record needs '{KEY}: {{machine, device, date}}' "
                            "(non-empty strings); add records with bench.reporting.reproduced.add")
    return found


def records(folder: Path | None = None) -> list[Found]:
    """The committed records under ``folder`` (default :func:`root`) that prove themselves (:func:`scan`)."""
    return scan(folder).found


def is_committed(record: Mapping[str, Any]) -> bool:
    """Whether a record came from the committed store (it carries the ``reproduced`` block)."""
    return isinstance(record.get(KEY), Mapping)


def _cell(record: Mapping[str, Any]) -> tuple[Any, ...]:
    return (record["protocol"]["name"], record["protocol"]["hash"], record["method"], record["config_hash"],
            tuple(sorted(record["modalities"])), record["fold"], record["seed"])


def with_committed(local: Iterable[Found], committed: Sequence[Found] | None = None) -> list[Found]:
    """The local (path, record) pairs plus the committed ones whose cell the local store does not hold."""
    mine = list(local)
    held = {_cell(r) for _, r in mine}
    extra = records() if committed is None else committed
    return mine + [(p, r) for p, r in extra if _cell(r) not in held]


def add(record_file: Path, machine: str, device: str, folder: Path | None = None) -> Path:
    """Copy a finished local record that proves itself and its predictions into the committed store, stamping
    machine, device and the run's finishing date (the integrity block sealed again); returns the new record's path."""
    record, why = verify.check(record_file)
    if record is None:
        raise DataError(store.describe_corrupt(record_file, str(why)))
    predictions = store.predictions_path(record_file)
    if not machine or not device:
        raise DataError("bench.reporting.reproduced.add: machine and device must be named")
    target = store.record_path(root() if folder is None else Path(folder), record["protocol"]["name"],
                               record["method"], record["config_hash"], record["fold"], record["seed"])
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(predictions, store.predictions_path(target))
    stamped = {**record, KEY: {"machine": machine, "device": device, "date": str(record["finished"])}}
    store.rewrite(target, stamped)
    return target
