"""``bench plot``: the figures of a results store, drawn from its records alone.

* per record and per configuration folder, the confusion matrices of :mod:`bench.reporting.confusion_figures`;
* ``<STORE>/matrix.png``: the heat-map of every method × protocol in the store (the
  protocol's primary metric, or ``--metric``), as :mod:`bench.reporting.matrix_table` draws it.

A method run under one protocol with several configurations shows the configuration folder
with the most records (the newest on a tie); a preset other than ``paper`` is its own row,
``method (preset)``.
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.errors import DataError
from bench.files import io
from bench.records import store
from bench.reporting import confusion_figures, matrix_table, scored, verify

HEATMAP_NAME = "matrix.png"


def store_entries(root: Path, methods: Sequence[str] | None = None, protocols: Sequence[str] | None = None,
                  found: Sequence[verify.Found] | None = None
                  ) -> tuple[list[str], list[matrix_table.Column], dict[tuple[str, str], matrix_table.Entry]]:
    """Rows, columns and entries of the store's method × protocol matrix (optionally restricted), from its
    records that prove themselves (``found``, scanned here when not given)."""
    folders: dict[tuple[str, str], dict[Path, list[tuple[Path, dict[str, Any]]]]] = defaultdict(lambda: defaultdict(list))
    columns: dict[str, matrix_table.Column] = {}
    for path, record in (verify.scan(root).found if found is None else found):
        protocol = record["protocol"]["name"]
        if (methods and record["method"] not in methods) or (protocols and protocol not in protocols):
            continue
        label = record["method"] if record["preset"] == "paper" else f"{record['method']} ({record['preset']})"
        folders[(label, protocol)][path.parent].append((path, record))
        if protocol not in columns:
            columns[protocol] = matrix_table.Column(protocol, scored.task_of(record, path).kind, record["primary"])
    entries = {}
    for (label, protocol), by_folder in folders.items():
        chosen = max(by_folder.values(), key=lambda recs: (len(recs), max(r["finished"] for _, r in recs)))
        entries[(label, protocol)] = matrix_table.Entry(label, protocol, records=tuple(chosen))
    rows = sorted({label for label, _ in entries})
    ordered = [columns[p] for p in (protocols or sorted(columns)) if p in columns]
    return rows, ordered, entries


def plot_command(args: argparse.Namespace) -> int:
    """``bench plot [--out STORE] [--metric ID] [--method M ...] [--protocol P ...]``."""
    root = Path(args.out)
    scan = verify.scan(root)
    for path, why in scan.corrupt:
        print(store.describe_corrupt(path, why), file=sys.stderr)
    rows, columns, entries = store_entries(root, args.method, args.protocol, scan.found)
    if not entries:
        raise DataError(f"{root}: no run records to plot (under {root / 'runs'}; {verify.counted(scan.corrupt)})")
    if args.metric:
        columns = [matrix_table.Column(c.protocol, c.task, args.metric) for c in columns]
    written = confusion_figures.plot_store(scan.found) if not (args.method or args.protocol) else [
        p for _, entry in entries.items() for p in _confusions(entry)]
    grid = matrix_table.build(rows, columns, entries)
    heatmap = root / HEATMAP_NAME
    io.write_bytes(heatmap, matrix_table.png(grid, f"{root}: method × protocol"))
    print(matrix_table.render(grid, "markdown"))
    print()
    for path in [*written, heatmap]:
        print(path)
    if scan.corrupt:
        print(verify.counted(scan.corrupt), file=sys.stderr)
    return 0


def _confusions(entry: matrix_table.Entry) -> list[Path]:
    out = [p for path, record in entry.records if (p := confusion_figures.plot_record(path, record)) is not None]
    if entry.records:
        aggregate = confusion_figures.plot_cell(entry.records[0][0].parent, entry.records)
        out += [aggregate] if aggregate is not None else []
    return out
