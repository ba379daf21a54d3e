"""A grid's expanded cells, stored beside its job index so that ``bench status`` needs no plugin.

Expanding a grid (:func:`bench.launch.grid.expand`) resolves every configuration through its
method plugin and opens every dataset. ``bench grid`` does that anyway, and writes what it found
to ``<out>/grids/<grid name>/cells.json``: the sha256 of the grid file's bytes and every cell as
plain JSON (its :class:`~bench.records.cells.CellKey`, the protocol as the grid names it, the
overrides, modalities, resource hints, regime, budget and numerics). ``bench status`` rebuilds
the cells from that list, importing neither torch nor a plugin and reading no data, as long as
the grid file is byte for byte the one it was written for and each protocol still has the hash
the list names; otherwise (never run, grid or protocol edited since, list unreadable) the grid is
expanded as ``bench grid`` would.

The list is the grid's cells as of its last ``bench grid``: a method default changed since (a new
configuration hash) shows in ``bench status`` only after the next ``bench grid``, which rewrites it.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any

from pydantic import PlainValidator

from bench import protocols
from bench.api import ResourceHints
from bench.errors import BenchError, DataError
from bench.files import io, loader
from bench.launch.grid import Cell, Grid, expand
from bench.records.cells import CellKey

FILE_NAME = "cells.json"


def write(folder: Path, grid: Grid, cells: Sequence[Cell]) -> None:
    """Store ``cells``, the expansion of ``grid``, in ``folder`` (the grid's bookkeeping folder), atomically."""
    io.write_json(Path(folder) / FILE_NAME, {"grid": str(grid.path), "grid_sha256": io.sha256_file(grid.path),
                                             "cells": [_plain(cell) for cell in cells]})


def stored(folder: Path, grid: Grid, out: Path) -> tuple[list[Cell] | None, str | None]:
    """The stored cells of ``grid``, rebuilt with ``out`` as their store; else None and why (None: no list yet)."""
    path = Path(folder) / FILE_NAME
    if not path.is_file():
        return None, None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        return None, f"{path}: unreadable ({exc})"
    try:
        model = loader.validate(loader.Document(path, data, {}), _CellList, DataError)
    except DataError as exc:
        return None, str(exc)
    if model.grid_sha256 != io.sha256_file(grid.path):
        return None, f"{grid.path} was edited since {path} was written"
    for protocol, key in {cell.protocol: cell.id for cell in model.cells}.items():
        try:
            now = protocols.load(protocol)
        except BenchError:
            return None, f"protocol {protocol} no longer loads"
        if (now.name, now.hash) != (key.protocol, key.protocol_hash):
            return None, f"protocol {protocol} changed since {path} was written"
    return [Cell(out=Path(out), **{name: getattr(cell, name) for name in _StoredCell.model_fields})
            for cell in model.cells], None


def cells_of(grid: Grid, out: Path, folder: Path) -> list[Cell]:
    """The grid's cells from the stored list when it still describes the grid, else by expanding the grid."""
    cells, why = stored(folder, grid, out)
    if cells is not None:
        return cells
    if why is not None:
        print(f"note: {why}; expanding the grid instead (reads the method plugins and the data; the next "
              f"bench grid rewrites the list)", file=sys.stderr)
    return expand(grid, out)


def _plain(cell: Cell) -> dict[str, Any]:
    """Every field of ``cell`` but its store, as JSON values (json writes tuples and mappings as such)."""
    out: dict[str, Any] = {}
    for field in dataclasses.fields(cell):
        value = getattr(cell, field.name)
        if isinstance(value, Path):  # the store: the one that reads the list names it
            continue
        out[field.name] = dataclasses.asdict(value) if dataclasses.is_dataclass(value) else value
    return out


def _dataclass(cls: type, types: dict[str, type]) -> Any:
    """A validator building ``cls`` from a mapping of exactly its fields, each of the given type."""
    def check(value: Any) -> Any:
        if not (isinstance(value, dict) and set(value) == set(types)
                and all(isinstance(value[k], t) and not isinstance(value[k], bool) for k, t in types.items())):
            raise loader.fail(f"expected a mapping of {', '.join(f'{k} ({t.__name__})' for k, t in types.items())}, "
                              f"got {value!r}")
        return cls(**value)

    return PlainValidator(check)


def _modalities(value: Any) -> tuple[str, ...] | None:
    if value is not None and not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
        raise loader.fail(f"expected null or a list of modality names, got {value!r}")
    return None if value is None else tuple(value)


class _StoredCell(loader.Model):
    """One cell of the list: the fields of :class:`~bench.launch.grid.Cell` but ``out``."""

    id: Annotated[CellKey, _dataclass(CellKey, {f.name: int if f.name == "seed" else str
                                                for f in dataclasses.fields(CellKey)})]
    protocol: loader.Text
    overrides: loader.Options
    modalities: Annotated[tuple[str, ...] | None, PlainValidator(_modalities)]
    hints: Annotated[ResourceHints, _dataclass(ResourceHints, {f.name: int for f in dataclasses.fields(ResourceHints)})]
    regime: str | None
    budget: str | None
    precision: loader.Text
    fast: loader.Flag


class _CellList(loader.Model):
    """The keys of ``cells.json``."""

    grid: loader.Text
    grid_sha256: loader.Text
    cells: list[_StoredCell]
