"""The results store: one JSON record per cell, predictions beside it, queried as a DataFrame.

Layout: ``<root>/runs/<protocol>/<method>/<config-hash>/fold<k>-seed<s>.json`` with
``fold<k>-seed<s>.predictions.npz`` beside it. The predictions are written first and the
record last, both atomically, so an existing record always has its predictions and a cell
killed at any moment leaves no record: one file per cell is safe for many SLURM array tasks
writing to a shared filesystem at once, where a single database file is not.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bench import io
from bench.cells import SCHEMA_VERSION, CellKey, RunRecord
from bench.errors import DataError

__all__ = ["SCHEMA_VERSION", "cell_dir", "finished", "frame", "iter_records", "iter_run_records", "key_path",
           "predictions_path", "read", "record_path", "write"]


def cell_dir(root: Path, protocol: str, method: str, config_hash: str) -> Path:
    """The folder holding every (fold, seed) record of one method × protocol × configuration."""
    return Path(root) / "runs" / protocol / method / config_hash


def record_path(root: Path, protocol: str, method: str, config_hash: str, fold: str, seed: int) -> Path:
    """Where the record of one cell lives."""
    return cell_dir(root, protocol, method, config_hash) / f"{fold}-seed{seed}.json"


def key_path(root: Path, key: CellKey) -> Path:
    """Where the record of the cell ``key`` lives."""
    return record_path(root, key.protocol, key.method, key.config_hash, key.fold, key.seed)


def predictions_path(record: Path) -> Path:
    """The predictions file that belongs to a record."""
    return record.with_name(record.name.removesuffix(".json") + ".predictions.npz")


def write(record_file: Path, record: Mapping[str, Any], predictions: Mapping[str, np.ndarray]) -> None:
    """Write predictions, then the record (the record's appearance marks the cell finished)."""
    preds = predictions_path(record_file)
    io.write_npz(preds, predictions)
    io.write_json(record_file, {**record, "predictions": preds.name})


def read(record_file: Path) -> dict[str, Any]:
    """Read one record; a damaged file is a DataError naming it."""
    try:
        record = json.loads(Path(record_file).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise DataError(f"{record_file}: not a readable run record: {exc}") from exc
    if not isinstance(record, dict) or record.get("schema_version") != SCHEMA_VERSION:
        raise DataError(f"{record_file}: not a bench run record of schema version {SCHEMA_VERSION}")
    return record


def finished(record_file: Path, protocol_hash: str) -> dict[str, Any] | None:
    """The record of a finished cell, or None when it must (re)run.

    A cell is finished when its record is readable, its predictions file exists and it was
    produced under the same protocol hash (a changed protocol invalidates old records).
    """
    if not record_file.is_file() or not predictions_path(record_file).is_file():
        return None
    try:
        record = read(record_file)
    except DataError:
        return None
    return record if record.get("protocol", {}).get("hash") == protocol_hash else None


def iter_records(root: Path) -> Iterator[tuple[Path, dict[str, Any]]]:
    """Every readable record under ``root``; unreadable ones are skipped."""
    for path in sorted((Path(root) / "runs").glob("*/*/*/*.json")):
        try:
            yield path, read(path)
        except DataError:
            continue


def iter_run_records(root: Path) -> Iterator[tuple[Path, RunRecord]]:
    """Every readable record under ``root``, typed; unreadable or incomplete ones are skipped."""
    for path, data in iter_records(root):
        try:
            yield path, RunRecord.from_dict(data, str(path))
        except DataError:
            continue


def frame(root: Path) -> pd.DataFrame:
    """All records as one row each: identity columns plus one ``metric.<name>`` column per metric."""
    rows = []
    for path, rec in iter_run_records(root):
        row = {
            "protocol": rec.protocol.name, "method": rec.method, "preset": rec.preset,
            "config_hash": rec.config_hash, "fold": rec.fold, "seed": rec.seed,
            "on_test": rec.selection.on_test, "path": str(path),
        }
        row.update({f"metric.{k}": v for k, v in rec.metrics.items()})
        rows.append(row)
    return pd.DataFrame(rows)
