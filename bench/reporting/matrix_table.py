"""The methods × protocols table of a matrix: one metric per protocol column, from stored records.

Each cell is one method under one protocol: mean ± std of the column's metric over the
cell's (fold, seed) records (×100 for classification and multilabel, as every bench table),
``n`` records; a pair that cannot run shows "n/a" with a footnote giving its one-line reason;
a pair that can but has no record yet shows "—". A metric a record lacks is computed from
its stored predictions (:func:`bench.reporting.rescore.metric_value`). Formats: markdown, LaTeX, CSV;
and the heat-map PNG of :mod:`bench.reporting.heatmap`.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from bench import metrics
from bench.reporting import rescore, scored
from bench.reporting.heatmap import NOT_RUN, heatmap_png
from bench.reporting.summary import scale
from bench.reporting.tables import latex_escape

FORMATS = ("markdown", "latex", "csv")


@dataclasses.dataclass(frozen=True)
class Column:
    """One protocol column: its name, task kind and the metric shown."""

    protocol: str
    task: str
    metric: str


@dataclasses.dataclass(frozen=True)
class Entry:
    """One method × protocol cell: why it does not run (``reason``), or its records."""

    method: str
    protocol: str
    reason: str | None = None
    records: tuple[tuple[Path, Mapping[str, Any]], ...] = ()


@dataclasses.dataclass(frozen=True)
class Summary:
    """A cell's numbers: mean and std (ddof=1, 0 for one) of the column's metric, n records."""

    mean: float
    std: float
    n: int


def summarise(entry: Entry, metric: str) -> Summary | None:
    """Mean ± std of ``metric`` over the entry's records that have (or can derive) it; None if none."""
    values = [v for path, rec in entry.records if (v := rescore.metric_value(path, rec, metric)) is not None]
    if not values:
        return None
    mean = math.fsum(values) / len(values)
    std = math.sqrt(math.fsum((v - mean) ** 2 for v in values) / (len(values) - 1)) if len(values) > 1 else 0.0
    return Summary(mean, std, len(values))


@dataclasses.dataclass
class Grid:
    """The rendered matrix: row and column labels, cell texts, values for the heat-map, footnotes."""

    methods: list[str]
    columns: list[Column]
    texts: list[list[str]]
    values: np.ndarray
    notes: list[str]


def build(methods: Sequence[str], columns: Sequence[Column], entries: Mapping[tuple[str, str], Entry]) -> Grid:
    """The matrix of ``entries`` keyed by (method, protocol); a missing key is a pair not asked for."""
    reasons: dict[str, int] = {}
    texts: list[list[str]] = []
    values = np.full((len(methods), len(columns)), np.nan)
    for i, method in enumerate(methods):
        row = []
        for j, column in enumerate(columns):
            entry = entries.get((method, column.protocol))
            if entry is None:
                row.append("")
            elif entry.reason is not None:
                number = reasons.setdefault(entry.reason, len(reasons) + 1)
                row.append(f"{NOT_RUN} ({number})")
            else:
                summary = summarise(entry, column.metric)
                if summary is None:
                    row.append("—")
                else:
                    factor = scale(column.task)
                    values[i, j] = summary.mean * factor
                    row.append(f"{summary.mean * factor:.2f} ± {summary.std * factor:.2f} (n={summary.n})")
        texts.append(row)
    notes = [f"({n}) {reason}" for reason, n in reasons.items()]
    return Grid(list(methods), list(columns), texts, values, notes)


def _header(grid: Grid) -> list[str]:
    return ["method", *(f"{c.protocol} ({c.metric}{'' if scale(c.task) == 1.0 else ', %'})" for c in grid.columns)]


def to_markdown(grid: Grid) -> str:
    """A GitHub markdown table, the reasons of the n/a cells as a list below it."""
    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"

    out = [line(_header(grid)), "|" + "|".join([":--"] + ["--:"] * len(grid.columns)) + "|"]
    out += [line([method, *row]) for method, row in zip(grid.methods, grid.texts, strict=True)]
    if grid.notes:
        out += ["", *(f"- {note}" for note in grid.notes)]
    return "\n".join(out)


def to_latex(grid: Grid) -> str:
    """A ``tabular`` with the reasons in small type below it."""
    def line(cells: Sequence[str]) -> str:
        return " & ".join(latex_escape(c) for c in cells) + r" \\"

    out = [r"\begin{tabular}{l" + "c" * len(grid.columns) + "}", r"\hline", line(_header(grid)), r"\hline"]
    out += [line([method, *row]) for method, row in zip(grid.methods, grid.texts, strict=True)]
    out += [r"\hline", r"\end{tabular}"]
    if grid.notes:
        out += [r"\par\smallskip\footnotesize", *(latex_escape(note) + r"\\" for note in grid.notes)]
    return "\n".join(out)


def to_csv(grid: Grid) -> str:
    """One line per method; the reasons follow as lines of one field."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(_header(grid))
    for method, row in zip(grid.methods, grid.texts, strict=True):
        writer.writerow([method, *row])
    for note in grid.notes:
        writer.writerow([note])
    return buffer.getvalue()


def render(grid: Grid, fmt: str) -> str:
    """``grid`` as markdown, latex or csv."""
    return {"markdown": to_markdown, "latex": to_latex, "csv": to_csv}[fmt](grid)


def png(grid: Grid, title: str) -> bytes:
    """The heat-map of ``grid``; "n/a" cells show only that."""
    texts = [[NOT_RUN if text.startswith(NOT_RUN) else text.split(" ± ")[0] for text in row] for row in grid.texts]
    higher = [metrics.get(scored.base_metric(c.metric) or c.metric).higher_is_better for c in grid.columns]
    ranges = [(0.0, 100.0) if c.task != "regression" else (-1.0, 1.0) if up else None
              for c, up in zip(grid.columns, higher, strict=True)]
    return heatmap_png(grid.methods, [f"{c.protocol}\n{c.metric}" for c in grid.columns], grid.values, texts,
                       higher, ranges, title)
