"""The results store: one JSON record per cell, predictions beside it, queried as a DataFrame.

Layout: ``<root>/runs/<protocol>/<method>/<config-hash>/fold<k>-seed<s>.json`` with
``fold<k>-seed<s>.predictions.npz`` and the kept weights ``fold<k>-seed<s>.safetensors`` beside
it. The predictions (and weights) are written first and the record last, both atomically, so an existing record always has its predictions and a cell
killed at any moment leaves no record: one file per cell is safe for many SLURM array tasks
writing to a shared filesystem at once, where a single database file is not.

Every record bench writes carries its ``integrity`` block (:mod:`bench.records.integrity`). A
record that exists but cannot be used (damaged JSON, another schema, a missing or mistyped key,
its predictions gone, its content or predictions changed since bench wrote them: :func:`checked`;
its numbers not those of its predictions: :mod:`bench.reporting.verify`) is *corrupt*: every
command names it (:func:`describe_corrupt`), and a rerun of its cell first moves it aside as
``*.json.corrupt`` rather than overwrite it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from bench.errors import DataError
from bench.files import io
from bench.records import integrity
from bench.records.cells import SCHEMA_VERSION, CellKey, RunRecord

if TYPE_CHECKING:
    import pandas as pd


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


def weights_path(record: Path) -> Path:
    """The kept-weights file of a record: ``fold<k>-seed<s>.safetensors`` beside it (:mod:`bench.running.kept_weights`)."""
    return Path(record).with_suffix(".safetensors")


def write(record_file: Path, record: Mapping[str, Any], predictions: Mapping[str, np.ndarray]) -> None:
    """Write predictions, then the record, sealed (the record's appearance marks the cell finished)."""
    preds = predictions_path(record_file)
    io.write_npz(preds, predictions)
    rewrite(record_file, {**record, "predictions": preds.name})


def rewrite(record_file: Path, record: Mapping[str, Any]) -> None:
    """Write a record beside its predictions file, its ``integrity`` block sealed for both (atomically)."""
    io.write_json(record_file, integrity.seal(record, predictions_path(record_file)))


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
    """Every readable record under ``root``, unverified; unreadable ones are skipped. The commands read a store
    through :func:`bench.reporting.verify.scan`, which also names the corrupt ones."""
    for path in record_files(root):
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


def record_files(root: Path) -> list[Path]:
    """Every record file under ``root``, readable or not, in path order."""
    return sorted((Path(root) / "runs").glob("*/*/*/*.json"))


def checked(record_file: Path) -> tuple[dict[str, Any] | None, str | None]:
    """(the record, None) when nothing is wrong with the files, else (None, why the record cannot be used):
    unreadable, not a record, a key missing or mistyped, its predictions gone, or either file changed since
    bench wrote it (:mod:`bench.records.integrity`). Its numbers are checked by :mod:`bench.reporting.verify`."""
    try:
        record = read(record_file)
        RunRecord.from_dict(record, str(record_file))
    except DataError as exc:
        return None, str(exc).removeprefix(f"{record_file}: ")
    preds = predictions_path(record_file)
    if not preds.is_file():
        return None, f"its predictions file {preds.name} is missing"
    why = integrity.problem(record, preds)
    return (None, why) if why is not None else (record, None)


def describe_corrupt(record_file: Path, why: str) -> str:
    """The one line every command prints for a corrupt record."""
    return f"corrupt record {record_file}: {why}"


def set_aside(record_file: Path, why: str = "corrupt") -> Path:
    """Rename a record (and its predictions and kept weights, if any) to ``*.<why>``, never overwriting; the new name."""
    target = Path(f"{record_file}.{why}")
    n = 1
    while target.exists():
        n += 1
        target = Path(f"{record_file}.{why}{n}")
    for beside in (predictions_path(record_file), weights_path(record_file)):
        if beside.is_file():
            beside.rename(target.with_name(beside.name + target.name.removeprefix(record_file.name)))
    Path(record_file).rename(target)
    return target


def frame(root: Path) -> pd.DataFrame:
    """All records as one row each: identity columns plus one ``metric.<name>`` column per metric."""
    import pandas as pd  # here, not above: reading records (bench table, check, plot) needs no pandas

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
