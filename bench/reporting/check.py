"""``bench check``: regressions of the results store against expected and reported numbers.

Two comparisons, each per (cell, metric), on the mean over every matching (fold, seed)
record (matching as in :mod:`bench.reporting.tables`):

* **expected** — the committed golden files ``results/expected/*.yaml``: one entry per grid
  cell (method, protocol, preset, overrides, folds, seeds) with, per metric, the mean, the
  sample std over folds × seeds and n measured when the file was produced. Tolerance =
  max(k·σ/√n, the rounding of the stored mean): k standard errors of the golden mean, so a
  noisy metric is allowed its noise and a stable one is held tight. A cell
  whose records are missing (fewer than n) is a regression too.
* **reported** — every reproducible cell of the reported database with a reproduction in the
  store or in the committed records of ``results/reproduced/`` (:mod:`bench.reporting.reproduced`):
  tolerance = max(k·σ/√n over the reproduction, half a unit of the paper's last printed
  digit, and for a percentage 2 points: the paper's number is itself one draw of its
  protocol, with a spread of its own that the paper rarely prints). With one record no
  spread is measured, so the cell is listed as unverifiable. A cell reproduced only by the
  committed records and still outside its tolerance is a known gap (``GAP``, described in
  REPRODUCE.md): listed, but not a regression of the store being checked.

One line per compared number: which cell, expected, got, tolerance; first one line per corrupt
record of the store or of ``results/reproduced/`` (``corrupt record FILE: reason``: unreadable,
a key missing or mistyped, its predictions missing, truncated or swapped, a number that is not
its predictions', :mod:`bench.reporting.verify`). A corrupt record counts in no mean: a tampered
number can neither pass nor fail a check. Exit status: 1 when a number regressed (whatever else
is found), else 3 when records are missing or corrupt (nothing to compare is not a regression:
a fresh clone has no records), else 0.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from bench.errors import BenchError, DataError, PluginError
from bench.files import loader, yamlfields
from bench.records import store
from bench.reporting import reported, reproduced, tables, verify

EXIT_REGRESSION = 1
EXIT_MISSING = 3
"""``bench check``'s exit status when no number regressed but records are missing or corrupt."""

DEFAULT_K = 3.0
"""Standard errors allowed by default (≈ 99.7 % of a normal spread)."""
REPORTED_FLOOR_POINTS = 2.0
"""The least tolerance of a reported percentage, in points."""

_FILE_KEYS = {"name": True, "description": True, "produced_by": True, "produced_on": True, "k": True,
              "decimals": True, "cells": True}
_CELL_KEYS = {"method": True, "protocol": True, "preset": True, "set": True, "folds": True, "seeds": True,
              "modalities": False, "metrics": True}
_METRIC_KEYS = {"mean": True, "std": True, "n": True}


@dataclasses.dataclass(frozen=True)
class Finding:
    """One compared number: where it is, expected vs got, the tolerance and the verdict."""

    source: str
    cell: str
    metric: str
    status: str  # ok | regression | gap | missing | unverifiable
    expected: float
    got: float | None = None
    tolerance: float | None = None
    detail: str = ""

    @property
    def failed(self) -> bool:
        return self.status in ("regression", "missing")

    def __str__(self) -> str:
        label = {"ok": "ok  ", "regression": "FAIL", "gap": "GAP ", "missing": "MISS", "unverifiable": "n/a "}[self.status]
        head = f"{label} {self.source}: {self.cell} {self.metric}: expected {self.expected:.6g}"
        if self.got is None:
            return f"{head}, got nothing; {self.detail}"
        verdict = ">" if self.status in ("regression", "gap") else "<="
        tol = "" if self.tolerance is None else f", |Δ| {abs(self.got - self.expected):.6g} {verdict} tolerance " \
                                                f"{self.tolerance:.6g}"
        return f"{head}, got {self.got:.6g}{tol} ({self.detail})"


@dataclasses.dataclass(frozen=True)
class ExpectedMetric:
    """A golden number: the mean of one metric over n records and their sample std."""

    mean: float
    std: float
    n: int


@dataclasses.dataclass(frozen=True)
class ExpectedCell:
    """One grid cell of a golden file and its golden metrics."""

    query: tables.Query
    metrics: Mapping[str, ExpectedMetric]
    where: str


@dataclasses.dataclass(frozen=True)
class ExpectedFile:
    """A golden file: its cells, the k of its tolerance and the decimals its means are stored to."""

    name: str
    path: Path
    k: float
    decimals: int
    cells: tuple[ExpectedCell, ...]


def tolerance(std: float, n: int, k: float, rounding: float) -> float:
    """max(k·σ/√n, rounding): k standard errors of a mean over n values, never below its rounding."""
    return max(k * std / math.sqrt(n), rounding)


def check_command(args: argparse.Namespace) -> int:
    """``bench check [--out STORE] [--expected DIR|FILE]``: print the report, 1 on any regression."""
    expected = Path(args.expected) if args.expected else reported.results_root() / "expected"
    local, committed = verify.scan(Path(args.out)), reproduced.scan()
    findings = run_check(Path(args.out), expected, reported.load_all(), local.found, committed.found)
    corrupt = local.corrupt + committed.corrupt
    print(report(findings, Path(args.out), corrupt))
    return exit_status(findings, corrupt)


def exit_status(findings: Sequence[Finding], corrupt: Sequence[tuple[Path, str]] = ()) -> int:
    """1 on any regression, else 3 when records are missing or corrupt, else 0."""
    if any(f.status == "regression" for f in findings):
        return EXIT_REGRESSION
    return EXIT_MISSING if corrupt or any(f.status == "missing" for f in findings) else 0


def run_check(store_root: Path, expected: Path, db: reported.Database, local: Sequence[verify.Found] | None = None,
              committed: Sequence[verify.Found] | None = None) -> list[Finding]:
    """Every finding of both comparisons against the records that prove themselves of the store under
    ``store_root`` (``local``) and of ``results/reproduced/`` (``committed``); each scanned here when not given."""
    found = verify.scan(store_root).found if local is None else list(local)
    records = [rec for _, rec in found]
    findings: list[Finding] = []
    for golden in load_expected(expected):
        findings += check_expected(golden, records, store_root)
    findings += check_reported(db, [rec for _, rec in reproduced.with_committed(found, committed)])
    return findings


def report(findings: Sequence[Finding], store_root: Path, corrupt: Sequence[tuple[Path, str]] = ()) -> str:
    """The readable report: corrupt records, regressions, missing records, the rest, then a one-line verdict."""
    lines = [f"bench check of the results store {store_root}"]
    lines += [store.describe_corrupt(path, why) for path, why in corrupt]
    for status in ("regression", "missing", "gap", "ok", "unverifiable"):
        lines += [str(f) for f in findings if f.status == status]
    if not findings:
        lines.append("nothing to compare: no expected numbers and no reproduced reported cells")
    count = {status: sum(1 for f in findings if f.status == status)
             for status in ("regression", "missing", "gap", "ok", "unverifiable")}
    gaps = f", {count['gap']} known gap(s) of results/reproduced/" if count["gap"] else ""
    lines.append(f"{count['regression']} regression(s), {count['ok']} within tolerance{gaps}, {count['unverifiable']} "
                 f"unverifiable, {count['missing']} with records missing, {len(corrupt)} corrupt record(s)")
    return "\n".join(lines)


# --------------------------------------------------------------------------- expected numbers


def load_expected(path: Path) -> list[ExpectedFile]:
    """The golden files at ``path`` (a file, or every ``*.yaml`` of a folder)."""
    path = Path(path)
    if path.is_file():
        return [_expected_file(path)]
    if not path.is_dir():
        raise DataError(f"{path}: no expected-numbers file or folder")
    return [_expected_file(p) for p in sorted(path.glob("*.yaml"))]


def _expected_file(path: Path) -> ExpectedFile:
    doc = loader.read(path, DataError, printed=True)
    data = yamlfields.strict_mapping(doc.data, _FILE_KEYS, doc.where())
    k, decimals = data["k"], data["decimals"]
    if isinstance(k, bool) or not isinstance(k, int | float) or k <= 0:
        raise DataError(f"{doc.where(('k',))}: k: expected a positive number of standard errors, got {k!r}")
    if isinstance(decimals, bool) or not isinstance(decimals, int) or not 0 <= decimals <= 12:
        raise DataError(f"{doc.where(('decimals',))}: decimals: expected the number of decimals the means are stored to, got {decimals!r}")
    if not isinstance(data["cells"], list) or not data["cells"]:
        raise DataError(f"{doc.where(('cells',))}: cells: expected a non-empty list")
    cells = tuple(_expected_cell(raw, f"{doc.where(('cells', i))}: cells[{i}]")
                  for i, raw in enumerate(data["cells"]))
    return ExpectedFile(str(data["name"]), path, float(k), decimals, cells)


def _expected_cell(raw: Any, where: str) -> ExpectedCell:
    data = yamlfields.strict_mapping(raw, _CELL_KEYS, where)
    for key in ("method", "protocol", "preset"):
        if not isinstance(data[key], str) or not data[key]:
            raise DataError(f"{where}: {key}: expected a name, got {data[key]!r}")
    if not isinstance(data["set"], Mapping):
        raise DataError(f"{where}: set: expected a mapping of config overrides ({{}} for none)")
    for key in ("folds", "seeds"):
        if not isinstance(data[key], list) or not data[key] or \
                any(isinstance(v, bool) or not isinstance(v, int) for v in data[key]):
            raise DataError(f"{where}: {key}: expected a non-empty list of integers, got {data[key]!r}")
    modalities = data.get("modalities") or []
    if not isinstance(modalities, list):
        raise DataError(f"{where}: modalities: expected a list")
    if not isinstance(data["metrics"], Mapping) or not data["metrics"]:
        raise DataError(f"{where}: metrics: expected a mapping of metric name to mean/std/n")
    metrics = {}
    for name, raw_metric in data["metrics"].items():
        m = yamlfields.strict_mapping(raw_metric, _METRIC_KEYS, f"{where}: metrics.{name}")
        if not all(isinstance(m[k], int | float) and not isinstance(m[k], bool) for k in _METRIC_KEYS) or \
                m["n"] < 1 or m["std"] < 0 or not isinstance(m["n"], int):
            raise DataError(f"{where}: metrics.{name}: expected numbers mean, std >= 0 and an integer n >= 1")
        metrics[str(name)] = ExpectedMetric(float(m["mean"]), float(m["std"]), int(m["n"]))
    query = tables.Query(data["method"], data["protocol"], data["preset"], dict(data["set"]), tuple(modalities),
                         tuple(data["folds"]), tuple(data["seeds"]))
    return ExpectedCell(query, metrics, where)


def check_expected(golden: ExpectedFile, records: Sequence[Mapping[str, Any]], store_root: Path) -> list[Finding]:
    """Compare each golden cell's metrics with the store's mean over the same cell."""
    findings: list[Finding] = []
    rounding = 0.5 * 10.0 ** -golden.decimals
    for cell in golden.cells:
        try:
            config = tables.resolved_config(cell.query)
        except BenchError as exc:
            raise type(exc)(f"{cell.where}: {exc}") from exc
        matched = tables.matching(records, cell.query, config)
        label = _describe(cell.query)
        for name, want in cell.metrics.items():
            agg = tables.aggregate(matched, name)
            if agg is None or agg.n < want.n:
                findings.append(Finding(
                    golden.name, label, name, "missing", want.mean,
                    detail=f"{0 if agg is None else agg.n} of {want.n} records in the store; produce them with "
                           f"{tables.run_command(cell.query, store_root)}"))
                continue
            tol = tolerance(want.std, want.n, golden.k, rounding)
            status = "regression" if abs(agg.mean - want.mean) > tol else "ok"
            findings.append(Finding(golden.name, label, name, status, want.mean, agg.mean, tol,
                                    f"{golden.k:g}·σ/√n with golden σ {want.std:.6g}, n {want.n}; store n {agg.n}"))
    return findings


# --------------------------------------------------------------------------- reported numbers


def check_reported(db: reported.Database, records: Sequence[Mapping[str, Any]], k: float = DEFAULT_K
                   ) -> list[Finding]:
    """Compare every reproduced own cell of the reported database with its printed value."""
    findings: list[Finding] = []
    for paper in db.papers.values():
        for table in paper.tables.values():
            for cell in table.cells:
                finding = _reported_finding(cell, records, k)
                if finding is not None:
                    findings.append(finding)
    return findings


def _reported_finding(cell: reported.Cell, records: Sequence[Mapping[str, Any]], k: float) -> Finding | None:
    if cell.reproduce is None or cell.protocol is None or cell.value is None or not reported.is_bench_metric(cell):
        return None
    query = tables.Query.for_cell(cell, cell.reproduce, cell.protocol)
    try:
        config = tables.resolved_config(query)
    except PluginError:
        return None
    matched = tables.matching(records, query, config)
    agg = tables.aggregate(matched, cell.metric)
    if agg is None:
        return None
    committed = sum(1 for rec in matched if reproduced.is_committed(rec))
    origin = f"; {committed} of {agg.n} records from results/reproduced/" if committed else ""
    scale = 100.0 if cell.unit == "percent" else 1.0
    got = agg.mean * scale
    source = f"{cell.paper}:{cell.table}"
    label = f"({cell.row!r}, {cell.column!r})"
    if agg.n < 2:
        return Finding(source, label, cell.metric, "unverifiable", cell.value, got,
                       detail="one record: no spread over folds and seeds to derive a tolerance from" + origin)
    floor = REPORTED_FLOOR_POINTS if cell.unit == "percent" else 0.0
    tol = max(tolerance(agg.std * scale, agg.n, k, reported.rounding(cell)), floor)
    status = "ok" if abs(got - cell.value) <= tol else "gap" if committed == agg.n else "regression"
    floor_text = f", {floor:g} points" if floor else ""
    return Finding(source, label, cell.metric, status, cell.value, got, tol,
                   f"max({k:g}·σ/√n, printed rounding {reported.rounding(cell):g}{floor_text}) with σ "
                   f"{agg.std * scale:.4g}, n {agg.n}, in {cell.unit}{origin}"
                   + ("; a known gap of the committed reproduction, see REPRODUCE.md" if status == "gap" else ""))


def _describe(query: tables.Query) -> str:
    overrides = ", ".join(f"{k}={v}" for k, v in query.overrides.items()) or "no overrides"
    folds = ",".join(str(f) for f in query.folds or ()) or "all"
    seeds = ",".join(str(s) for s in query.seeds or ()) or "all"
    return (f"{query.method} × {query.protocol} (preset {query.preset}; {overrides}; folds {folds}; "
            f"seeds {seeds})")
