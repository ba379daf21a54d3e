"""The reported-numbers database: every numeric cell of the papers' tables, and their layouts.

``results/reported/<paper>.yaml`` holds each printed number with its table, row, column,
metric id, unit, protocol, modalities and whether the row is the paper's own method;
``results/tables/<paper>-<table>.yaml`` holds a table's layout (row and column order, how
its numbers are printed) and the internal consistency checks the table allows. The schema
is documented in ``results/README.md`` (with the keys this module adds to the agreed schema);
this module validates it strictly and names the file, line and key of every problem. The
database is found beside the package (``<repo>/results``) or under ``$BENCH_REPORTED_ROOT``.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import bench
from bench.api import MODALITIES
from bench.errors import BenchError, DataError, did_you_mean, unknown
from bench.files import loader, yamlfields

UNITS: tuple[str, ...] = ("percent", "fraction", "raw")
LOCAL_PATH = "<path>"
"""A ``reproduce.set`` value meaning "a local file the user must give" (e.g. pretrained weights)."""
STATUSES: tuple[str, ...] = ("unreadable",)
CHECKS: tuple[str, ...] = ("mean_of", "equal_columns", "same_as")
_SNAKE = re.compile(r"^[a-z][a-z0-9_]*$")
_PAPER_KEYS = {"paper": True, "title": True, "venue": True, "text": True, "tables": True,
               "descriptive_metrics": False}
_TABLE_KEYS = {"id": True, "caption": True, "cells": True}
_CELL_KEYS = {"row": True, "column": True, "metric": True, "value": True, "unit": True, "protocol": True,
              "modalities": True, "runs": True, "own": True, "reproduce": False, "note": False, "status": False}
_REPRODUCE_KEYS = {"method": True, "preset": True, "set": False, "folds": False, "seeds": False}
_SPEC_KEYS = {"paper": True, "table": True, "title": True, "rows": True, "columns": True, "decimals": True,
              "row_header": False, "column_decimals": False, "notes": False, "mixed_metrics": False,
              "mean_of": False, "equal_columns": False, "same_as": False, "exceptions": False}
_SAME_AS_KEYS = {"row": True, "column": True, "table": True, "other_row": True, "other_column": True}
_EXCEPTION_KEYS = {"check": True, "row": True, "column": True, "note": True}


def results_root() -> Path:
    """``$BENCH_REPORTED_ROOT``, else the ``results/`` folder beside the ``bench`` package."""
    override = os.environ.get("BENCH_REPORTED_ROOT")
    return Path(override).expanduser() if override else Path(bench.__file__).resolve().parents[1] / "results"


@dataclasses.dataclass(frozen=True)
class Reproduce:
    """How bench reruns a reported cell: a method, the preset that produced it, overrides, folds (None: all),
    seeds (None: the protocol's; ConCluGen's code fixes 127: ``configs/defaults.yaml`` ``seed_everything``)."""

    method: str
    preset: str
    overrides: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    folds: tuple[int, ...] | None = None
    seeds: tuple[int, ...] | None = None


@dataclasses.dataclass(frozen=True)
class Cell:
    """One printed number of a paper table (``value`` None: an empty, "-" or unreadable cell)."""

    paper: str
    table: str
    row: str
    column: str
    metric: str
    value: float | None
    printed_decimals: int | None
    unit: str
    protocol: str | None
    modalities: tuple[str, ...]
    runs: int | None
    own: bool
    reproduce: Reproduce | None
    note: str | None
    status: str | None
    where: str


@dataclasses.dataclass(frozen=True)
class ReportedTable:
    """The cells of one table of one paper."""

    paper: str
    id: str
    caption: str
    cells: tuple[Cell, ...]

    def cell(self, row: str, column: str) -> Cell | None:
        """The cell at (row, column), or None where the table has none."""
        return next((c for c in self.cells if c.row == row and c.column == column), None)


@dataclasses.dataclass(frozen=True)
class Paper:
    """A paper's reported numbers, as typed from ``text`` (a file of shared/papers)."""

    key: str
    title: str
    venue: str
    text: str
    descriptive_metrics: Mapping[str, str]
    tables: Mapping[str, ReportedTable]
    path: Path


@dataclasses.dataclass(frozen=True)
class SameAs:
    """A cell of this table that the paper prints again in another table."""

    row: str
    column: str
    table: str
    other_row: str
    other_column: str


@dataclasses.dataclass(frozen=True)
class KnownException:
    """A documented place where the paper's own numbers fail one of the table's checks."""

    check: str
    row: str
    column: str
    note: str


@dataclasses.dataclass(frozen=True)
class TableSpec:
    """The layout of one paper table and the internal consistency checks it declares."""

    paper: str
    table: str
    title: str
    rows: tuple[str, ...]
    columns: tuple[str, ...]
    decimals: int
    row_header: str
    column_decimals: Mapping[str, int]
    notes: tuple[str, ...]
    mixed_metrics: Mapping[str, str]
    mean_of: Mapping[str, tuple[str, ...]]
    equal_columns: tuple[tuple[str, ...], ...]
    same_as: tuple[SameAs, ...]
    exceptions: tuple[KnownException, ...]
    path: Path

    @property
    def table_id(self) -> str:
        """``paper:table``, as given to ``bench table``."""
        return f"{self.paper}:{self.table}"

    def decimals_for(self, column: str) -> int:
        """How many decimals the paper prints in ``column``."""
        return self.column_decimals.get(column, self.decimals)


@dataclasses.dataclass(frozen=True)
class Database:
    """Every paper file and table spec under one results root, cross-validated."""

    papers: Mapping[str, Paper]
    specs: Mapping[tuple[str, str], TableSpec]

    def table(self, table_id: str) -> tuple[TableSpec, ReportedTable]:
        """The spec and cells of ``paper:table``; a clear error for an unknown id."""
        paper, sep, table = table_id.partition(":")
        if not sep or not paper or not table:
            raise BenchError(f"table id {table_id!r}: expected PAPER:TABLE, e.g. mma_dfer:1")
        if paper not in self.papers:
            raise BenchError(unknown("paper", paper, self.papers))
        if (paper, table) not in self.specs:
            raise BenchError(unknown(f"table of {paper}", table, [t for p, t in self.specs if p == paper]))
        return self.specs[(paper, table)], self.papers[paper].tables[table]


def rounding(cell: Cell) -> float:
    """Half a unit of the last digit the paper printed (``66.70`` -> 0.005, ``58`` -> 0.5)."""
    return 0.0 if cell.printed_decimals is None else 0.5 * 10.0 ** -cell.printed_decimals


# --------------------------------------------------------------------------- loading


def load_all(root: Path | None = None) -> Database:
    """Load and validate every ``reported/*.yaml`` and ``tables/*.yaml`` under ``root``."""
    root = Path(root) if root is not None else results_root()
    reported_dir, tables_dir = root / "reported", root / "tables"
    if not reported_dir.is_dir():
        raise DataError(f"{reported_dir}: no reported-numbers folder (set BENCH_REPORTED_ROOT to a folder "
                        f"holding reported/ and tables/)")
    papers: dict[str, Paper] = {}
    for path in sorted(reported_dir.glob("*.yaml")):
        paper = load_paper(path)
        papers[paper.key] = paper
    specs: dict[tuple[str, str], TableSpec] = {}
    for path in sorted(tables_dir.glob("*.yaml")) if tables_dir.is_dir() else []:
        spec = load_spec(path)
        key = (spec.paper, spec.table)
        if key in specs:
            raise DataError(f"{path}: table {spec.table_id} is already laid out by {specs[key].path}")
        specs[key] = spec
    db = Database(papers, specs)
    _cross_validate(db)
    return db


def load_paper(path: Path) -> Paper:
    """Read and validate one ``results/reported/<paper>.yaml``; messages name the file and line."""
    path = Path(path)
    doc = loader.read(path, DataError, printed=True)

    def at(*loc: str | int) -> str:
        return doc.where(loc)

    data = yamlfields.strict_mapping(doc.data, _PAPER_KEYS, at())
    key = yamlfields.string(data, "paper", at("paper"))
    if key != path.stem:
        raise DataError(f"{at('paper')}: paper: {key!r} must equal the file name {path.stem!r}")
    descriptive = data.get("descriptive_metrics") or {}
    if not isinstance(descriptive, Mapping):
        raise DataError(f"{at('descriptive_metrics')}: descriptive_metrics: expected a mapping of metric id to its "
                        f"definition")
    for name, definition in descriptive.items():
        here = at("descriptive_metrics", str(name))
        if not isinstance(name, str) or not _SNAKE.match(name):
            raise DataError(f"{here}: descriptive_metrics: {name!r} is not a snake_case id")
        if not isinstance(definition, str) or not definition.strip():
            raise DataError(f"{here}: descriptive_metrics.{name}: expected its definition as text")
        if _is_bench_metric(name):
            raise DataError(f"{here}: descriptive_metrics.{name}: already a bench metric; do not redeclare it")
    tables_raw = data["tables"]
    if not isinstance(tables_raw, list) or not tables_raw:
        raise DataError(f"{at('tables')}: tables: expected a non-empty list of tables")
    tables: dict[str, ReportedTable] = {}
    for i, raw in enumerate(tables_raw):
        table = _table(raw, key, dict(descriptive), doc, i)
        if table.id in tables:
            raise DataError(f"{at('tables', i)}: tables[{i}]: table id {table.id!r} appears twice")
        tables[table.id] = table
    return Paper(key, yamlfields.string(data, "title", at("title")), yamlfields.string(data, "venue", at("venue")),
                 yamlfields.string(data, "text", at("text")), dict(descriptive), tables, path)


def load_spec(path: Path) -> TableSpec:
    """Read and validate one ``results/tables/<paper>-<table>.yaml`` on its own."""
    path = Path(path)
    doc = loader.read(path, DataError, printed=True)

    def at(*loc: str | int) -> str:
        return doc.where(loc)

    data = yamlfields.strict_mapping(doc.data, _SPEC_KEYS, at())
    paper, table = yamlfields.string(data, "paper", at("paper")), yamlfields.quoted_id(data, "table", at("table"))
    if path.stem != f"{paper}-{table}":
        raise DataError(f"{at('table')}: a table spec of {paper}:{table} must be named {paper}-{table}.yaml")
    rows, columns = yamlfields.labels(data, "rows", at("rows")), yamlfields.labels(data, "columns", at("columns"))
    decimals = yamlfields.decimals(data["decimals"], f"{at('decimals')}: decimals")
    column_decimals = {c: yamlfields.decimals(d, f"{at('column_decimals', c)}: column_decimals.{c}")
                       for c, d in yamlfields.label_map(data, "column_decimals", columns,
                                                        at("column_decimals")).items()}
    notes = data.get("notes") or []
    if not isinstance(notes, list) or not all(isinstance(n, str) and n.strip() for n in notes):
        raise DataError(f"{at('notes')}: notes: expected a list of non-empty strings")
    mixed = yamlfields.label_map(data, "mixed_metrics", columns, at("mixed_metrics"))
    if not all(isinstance(v, str) and v.strip() for v in mixed.values()):
        raise DataError(f"{at('mixed_metrics')}: mixed_metrics: each column needs the reason the paper mixes metrics")
    mean_of = {}
    for column, parts in yamlfields.label_map(data, "mean_of", columns, at("mean_of")).items():
        if not isinstance(parts, list) or len(parts) < 2 or any(p not in columns or p == column for p in parts):
            raise DataError(f"{at('mean_of', column)}: mean_of.{column}: expected a list of at least two other "
                            f"columns of this table, got {parts!r}")
        mean_of[column] = tuple(parts)
    equal_columns = []
    for i, group in enumerate(data.get("equal_columns") or []):
        if not isinstance(group, list) or len(group) < 2 or any(c not in columns for c in group):
            raise DataError(f"{at('equal_columns', i)}: equal_columns[{i}]: expected a list of at least two "
                            f"columns of this table, got {group!r}")
        equal_columns.append(tuple(group))
    same_as = []
    for i, raw in enumerate(data.get("same_as") or []):
        item = yamlfields.strict_mapping(raw, _SAME_AS_KEYS, f"{at('same_as', i)}: same_as[{i}]")
        entry = SameAs(*(yamlfields.quoted_id(item, k, f"{at('same_as', i)}: same_as[{i}]") for k in _SAME_AS_KEYS))
        if entry.row not in rows or entry.column not in columns:
            raise DataError(f"{at('same_as', i)}: same_as[{i}]: ({entry.row!r}, {entry.column!r}) is not a cell of "
                            f"this table")
        same_as.append(entry)
    exceptions = []
    for i, raw in enumerate(data.get("exceptions") or []):
        item = yamlfields.strict_mapping(raw, _EXCEPTION_KEYS, f"{at('exceptions', i)}: exceptions[{i}]")
        exc = KnownException(*(yamlfields.string(item, k, f"{at('exceptions', i)}: exceptions[{i}]")
                               for k in _EXCEPTION_KEYS))
        if exc.check not in CHECKS:
            raise DataError(f"{at('exceptions', i)}: exceptions[{i}].check: " + unknown("check", exc.check, CHECKS))
        exceptions.append(exc)
    return TableSpec(paper, table, yamlfields.string(data, "title", at("title")), rows, columns, decimals,
                     str(data.get("row_header") or "Method"), column_decimals, tuple(notes), mixed, mean_of,
                     tuple(equal_columns), tuple(same_as), tuple(exceptions), path)


def _table(raw: Any, paper: str, descriptive: Mapping[str, str], doc: loader.Document,
           index: int) -> ReportedTable:
    where = f"{doc.where(('tables', index))}: tables[{index}]"
    data = yamlfields.strict_mapping(raw, _TABLE_KEYS, where)
    table_id = yamlfields.quoted_id(data, "id", where)
    where = f"{where} (table {table_id})"
    cells_raw = data["cells"]
    if not isinstance(cells_raw, list) or not cells_raw:
        raise DataError(f"{where}: cells: expected a non-empty list of cells")
    cells: list[Cell] = []
    seen: dict[tuple[str, str], int] = {}
    for j, item in enumerate(cells_raw):
        cell = _cell(item, paper, table_id, descriptive,
                     f"{doc.where(('tables', index, 'cells', j))}: tables[{index}] (table {table_id}).cells[{j}]")
        if (cell.row, cell.column) in seen:
            raise DataError(f"{cell.where}: duplicate (row, column) ({cell.row!r}, {cell.column!r}): "
                            f"already given by cells[{seen[(cell.row, cell.column)]}]")
        seen[(cell.row, cell.column)] = j
        cells.append(cell)
    return ReportedTable(paper, table_id, yamlfields.string(data, "caption", where), tuple(cells))


def _cell(raw: Any, paper: str, table: str, descriptive: Mapping[str, str], where: str) -> Cell:
    if isinstance(raw, Mapping) and "row" in raw and "column" in raw:
        where = f"{where} (row {raw['row']!r}, column {raw['column']!r})"
    data = yamlfields.strict_mapping(raw, _CELL_KEYS, where)
    row, column = yamlfields.string(data, "row", where), yamlfields.string(data, "column", where)
    unit = data["unit"]
    if unit not in UNITS:
        raise DataError(f"{where}: unit: " + unknown("unit", str(unit), UNITS))
    protocol = data["protocol"]
    if protocol is not None:
        known = _protocol_names()
        if protocol not in known:
            raise DataError(f"{where}: protocol: " + unknown("protocol", str(protocol), known))
    metric = yamlfields.string(data, "metric", where)
    _check_metric(metric, protocol, descriptive, where)
    value, printed = yamlfields.printed_value(data["value"], unit, where)
    modalities = data["modalities"]
    if not isinstance(modalities, list) or any(m not in MODALITIES for m in modalities):
        raise DataError(f"{where}: modalities: expected a list of {', '.join(MODALITIES)} (or []), got {modalities!r}")
    runs = data["runs"]
    if runs is not None and (isinstance(runs, bool) or not isinstance(runs, int) or runs < 1):
        raise DataError(f"{where}: runs: expected a positive integer or null, got {runs!r}")
    own = data["own"]
    if not isinstance(own, bool):
        raise DataError(f"{where}: own: expected true (this paper's method) or false (a cited one), got {own!r}")
    note = data.get("note")
    if note is not None and (not isinstance(note, str) or not note.strip()):
        raise DataError(f"{where}: note: expected a non-empty string")
    status = data.get("status")
    if status is not None:
        if status not in STATUSES:
            raise DataError(f"{where}: status: " + unknown("status", str(status), STATUSES))
        if value is not None or note is None:
            raise DataError(f"{where}: status unreadable needs value: null and a note saying why")
    reproduce = None
    if data.get("reproduce") is not None:
        if protocol is None:
            raise DataError(f"{where}: reproduce: only rows with a protocol can be reproduced")
        reproduce = _reproduce(data["reproduce"], f"{where}: reproduce")
    return Cell(paper, table, row, column, metric, value, printed, unit, protocol, tuple(modalities), runs, own,
                reproduce, note, status, where)


def _reproduce(raw: Any, where: str) -> Reproduce:
    if isinstance(raw, Mapping) and "preset" not in raw:
        raise DataError(f"{where}: key 'preset' is missing: name the preset that produced the number (code: the "
                        f"official code's replay; paper: the paper as written)")
    data = yamlfields.strict_mapping(raw, _REPRODUCE_KEYS, where)
    method = yamlfields.string(data, "method", where)
    overrides = data.get("set") or {}
    if not isinstance(overrides, Mapping) or not all(isinstance(k, str) for k in overrides):
        raise DataError(f"{where}.set: expected a mapping of config key to value")
    folds = data.get("folds")
    if folds is not None and (not isinstance(folds, list) or not folds
                              or any(isinstance(f, bool) or not isinstance(f, int) or f < 1 for f in folds)):
        raise DataError(f"{where}.folds: expected a non-empty list of fold numbers (1-based), got {folds!r}")
    seeds = data.get("seeds")
    if seeds is not None and (not isinstance(seeds, list) or not seeds
                              or any(isinstance(x, bool) or not isinstance(x, int) or x < 0 for x in seeds)):
        raise DataError(f"{where}.seeds: expected a non-empty list of seeds (integers >= 0), got {seeds!r}")
    preset = data["preset"]
    if not isinstance(preset, str) or not preset:
        raise DataError(f"{where}.preset: expected the name of the preset that produced the number "
                        f"(code: the official code; paper: the paper as written), got {preset!r}")
    plain = {k: float(v) if isinstance(v, float) else v for k, v in overrides.items()}  # no printed precision
    return Reproduce(method, preset, plain, tuple(folds) if folds else None, tuple(seeds) if seeds else None)


def _check_metric(metric: str, protocol: str | None, descriptive: Mapping[str, str], where: str) -> None:
    from bench import metrics

    if metric in descriptive:
        return
    base = _bench_metric_of(metric, protocol)
    if base is None:
        raise DataError(
            f"{where}: metric: {metric!r} is neither a bench metric (bench list metrics), a per-label one "
            f"(<metric>_<label> with a label of the protocol's dataset) nor declared under "
            f"descriptive_metrics:{did_you_mean(metric, [*metrics.names(), *descriptive])}")
    if protocol is not None:
        task = _protocol_task(protocol)
        kinds = metrics.get(base).kinds
        if task not in kinds:
            raise DataError(f"{where}: metric {metric!r} applies to {', '.join(kinds)} tasks but protocol "
                            f"{protocol!r} is a {task} task")


def _bench_metric_of(metric: str, protocol: str | None) -> str | None:
    """The bench metric ``metric`` reports: itself, or ``m`` for a per-label ``m_<label>``."""
    if _is_bench_metric(metric):
        return metric
    if protocol is None:
        return None
    for label in _protocol_labels(protocol):
        suffix = f"_{label}"
        if metric.endswith(suffix) and _is_bench_metric(metric[: -len(suffix)]):
            return metric[: -len(suffix)]
    return None


def is_bench_metric(cell: Cell) -> bool:
    """Whether a cell's metric is one bench computes (so run records can reproduce it)."""
    return _bench_metric_of(cell.metric, cell.protocol) is not None


def _is_bench_metric(name: str) -> bool:
    from bench import metrics

    return name in metrics.names()


@functools.lru_cache(maxsize=None)
def _protocol_names() -> tuple[str, ...]:
    from bench import protocols

    return tuple(protocols.available())


@functools.lru_cache(maxsize=None)
def _protocol_task(name: str) -> str:
    from bench import protocols

    return protocols.load(name).task


@functools.lru_cache(maxsize=None)
def _protocol_labels(name: str) -> tuple[str, ...]:
    from bench import protocols, registry

    dataset = protocols.load(name).dataset
    if dataset not in registry.datasets.names():
        return ()
    return tuple(registry.datasets.get(dataset).label_names)


def _cross_validate(db: Database) -> None:
    for (paper_key, table_id), spec in db.specs.items():
        if paper_key not in db.papers:
            raise DataError(f"{spec.path}: paper: " + unknown("paper", paper_key, db.papers))
        paper = db.papers[paper_key]
        if table_id not in paper.tables:
            raise DataError(f"{spec.path}: table: " + unknown(f"table of {paper.path}", table_id, paper.tables))
        table = paper.tables[table_id]
        for cell in table.cells:
            if cell.row not in spec.rows:
                raise DataError(f"{cell.where}: row {cell.row!r} is not in the rows of {spec.path}")
            if cell.column not in spec.columns:
                raise DataError(f"{cell.where}: column {cell.column!r} is not in the columns of {spec.path}")
        for row in spec.rows:
            if not any(c.row == row for c in table.cells):
                raise DataError(f"{spec.path}: rows: {row!r} has no cells in {paper.path} table {table_id}")
        for column in spec.columns:
            if not any(c.column == column for c in table.cells):
                raise DataError(f"{spec.path}: columns: {column!r} has no cells in {paper.path} table {table_id}")
        for i, link in enumerate(spec.same_as):
            other = paper.tables.get(link.table)
            if other is None or other.cell(link.other_row, link.other_column) is None:
                raise DataError(f"{spec.path}: same_as[{i}]: {paper_key} table {link.table} has no cell "
                                f"({link.other_row!r}, {link.other_column!r})")
    for paper in db.papers.values():
        for table_id in paper.tables:
            if (paper.key, table_id) not in db.specs:
                raise DataError(f"{paper.path}: table {table_id} has no layout tables/{paper.key}-{table_id}.yaml")
