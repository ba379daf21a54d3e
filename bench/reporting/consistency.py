"""Internal consistency checks of the papers' printed tables (``mean_of``, ``equal_columns``, ``same_as``)."""

from __future__ import annotations

import dataclasses
import math

from bench.reporting.reported import Database, TableSpec, rounding


@dataclasses.dataclass(frozen=True)
class Violation:
    """A cell that fails a consistency check: which check, where, and the numbers."""

    check: str
    table_id: str
    row: str
    column: str
    detail: str

    def __str__(self) -> str:
        return f"{self.table_id} {self.check} at ({self.row!r}, {self.column!r}): {self.detail}"


def violations(db: Database, spec: TableSpec) -> list[Violation]:
    """Every cell of ``spec``'s table that fails one of its declared checks (exceptions included).

    Printed numbers are rounded, each by half a unit of its last printed digit
    (:func:`rounding`): a printed mean may differ from the mean of its printed parts by its
    own rounding plus the mean rounding of the parts; equal columns and a cell printed again
    in another table may differ by the coarser rounding of the two.
    """
    table = db.papers[spec.paper].tables[spec.table]
    found: list[Violation] = []
    for column, parts in spec.mean_of.items():
        for row in spec.rows:
            mean_cell = table.cell(row, column)
            cells = [table.cell(row, p) for p in parts]
            if mean_cell is None or mean_cell.value is None or any(c is None or c.value is None for c in cells):
                continue
            expected = math.fsum(c.value for c in cells) / len(cells)
            tol = rounding(mean_cell) + math.fsum(rounding(c) for c in cells) / len(cells) + 1e-9
            if abs(mean_cell.value - expected) > tol:
                found.append(Violation("mean_of", spec.table_id, row, column,
                                       f"printed {mean_cell.value} but the mean of {', '.join(parts)} is "
                                       f"{expected:.4f} (tolerance {tol:.4g})"))
    for group in spec.equal_columns:
        for row in spec.rows:
            cells = [table.cell(row, c) for c in group]
            if any(c is None or c.value is None for c in cells):
                continue
            tol = max(rounding(c) for c in cells) + 1e-9
            if max(c.value for c in cells) - min(c.value for c in cells) > tol:
                listed = ", ".join(f"{c.column} {c.value}" for c in cells)
                found.append(Violation("equal_columns", spec.table_id, row, group[0], f"{listed} differ"))
    for link in spec.same_as:
        here = table.cell(link.row, link.column)
        there = db.papers[spec.paper].tables[link.table].cell(link.other_row, link.other_column)
        if here is None or there is None or here.value is None or there.value is None:
            continue
        if abs(here.value - there.value) > max(rounding(here), rounding(there)) + 1e-9:
            found.append(Violation("same_as", spec.table_id, link.row, link.column,
                                   f"printed {here.value} here but {there.value} in table {link.table} "
                                   f"({link.other_row!r}, {link.other_column!r})"))
    return found


def consistency_report(db: Database) -> list[str]:
    """Problems with the declared checks: undocumented violations, and exceptions that no longer fail."""
    problems: list[str] = []
    for spec in db.specs.values():
        found = violations(db, spec)
        keys = {(v.check, v.row, v.column) for v in found}
        documented = {(e.check, e.row, e.column) for e in spec.exceptions}
        problems += [f"{spec.path}: {v} (not listed under exceptions:)" for v in found
                     if (v.check, v.row, v.column) not in documented]
        problems += [f"{spec.path}: exception {e.check} at ({e.row!r}, {e.column!r}) is listed but the check passes"
                     for e in spec.exceptions if (e.check, e.row, e.column) not in keys]
    return problems
