"""Confusion-matrix figures of run records (the kind of MMA-DFER Fig. 2 and ConCluGen Fig. 3).

Per record: ``fold<k>-seed<s>.confusion.png`` beside ``fold<k>-seed<s>.json``. Per aggregated
protocol cell (one method × protocol × configuration folder): ``confusion.png`` in that
folder, the counts summed over every (fold, seed) record in it. Both are row-normalised
(each true class sums to 1; the cell text is the percentage of that class) with the class
names from the records' ``label_names``. Only classification records have a class confusion
matrix; the functions return None for others. Figures are drawn with matplotlib's Agg canvas
(no display, no global backend switch) and written atomically.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from bench.errors import DataError
from bench.files import io as bench_io
from bench.records import store

AGGREGATE_NAME = "confusion.png"


def normalise_rows(counts: np.ndarray) -> np.ndarray:
    """Each row divided by its sum (rows without samples stay zero)."""
    counts = np.asarray(counts, dtype=np.float64)
    totals = counts.sum(axis=1, keepdims=True)
    return np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)


def confusion_png(counts: np.ndarray, label_names: Sequence[str], title: str) -> bytes:
    """A PNG of the row-normalised confusion matrix (rows: true class, columns: predicted)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    counts = np.asarray(counts)
    if counts.ndim != 2 or counts.shape[0] != counts.shape[1] or counts.shape[0] != len(label_names):
        raise DataError(f"confusion matrix of shape {counts.shape} does not match {len(label_names)} class names")
    share = normalise_rows(counts)
    size = 1.6 + 0.7 * len(label_names)
    fig = Figure(figsize=(size + 1.2, size), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    image = ax.imshow(share, vmin=0.0, vmax=1.0, cmap="Blues")
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    ticks = np.arange(len(label_names))
    ax.set_xticks(ticks, labels=list(label_names), rotation=45, ha="right")
    ax.set_yticks(ticks, labels=list(label_names))
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title, fontsize=9)
    for i in range(share.shape[0]):
        for j in range(share.shape[1]):
            ax.text(j, i, f"{100 * share[i, j]:.0f}", ha="center", va="center", fontsize=8,
                    color="white" if share[i, j] > 0.5 else "black")
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()


def record_png_path(record_file: Path) -> Path:
    """Where a record's own figure goes: beside it, ``<record>.confusion.png``."""
    record_file = Path(record_file)
    return record_file.with_name(record_file.name.removesuffix(".json") + ".confusion.png")


def plot_record(record_file: Path, record: Mapping[str, Any] | None = None) -> Path | None:
    """Write the confusion matrix of one record (read from ``record_file`` unless given) beside it; None for a
    non-classification record."""
    record = store.read(record_file) if record is None else record
    counts, names = _classification(record, record_file)
    if counts is None:
        return None
    title = f"{record['method']} × {record['protocol']['name']}, {record['fold']} seed {record['seed']} " \
            f"(n={int(counts.sum())})"
    path = record_png_path(record_file)
    bench_io.write_bytes(path, confusion_png(counts, names, title))
    return path


def plot_cell(cell_dir: Path, records: Sequence[tuple[Path, Mapping[str, Any]]] | None = None) -> Path | None:
    """Write the confusion matrix summed over the records of one configuration folder (``records``: those
    to sum, by default every record there).

    None when the folder has no classification records. Records with different class names
    cannot be summed: that is a DataError naming the folder.
    """
    cell_dir = Path(cell_dir)
    total: np.ndarray | None = None
    names: tuple[str, ...] = ()
    runs = []
    if records is None:
        records = [(path, store.read(path)) for path in sorted(cell_dir.glob("*.json"))]
    for record_file, record in records:
        counts, labels = _classification(record, record_file)
        if counts is None:
            continue
        if total is None:
            total, names = np.zeros_like(counts), labels
        elif labels != names:
            raise DataError(f"{record_file}: class names {list(labels)} differ from {list(names)} of the other "
                            f"records in {cell_dir}")
        total = total + counts
        runs.append(record)
    if total is None:
        return None
    first = runs[0]
    title = f"{first['method']} × {first['protocol']['name']}, summed over {len(runs)} run(s) (n={int(total.sum())})"
    path = cell_dir / AGGREGATE_NAME
    bench_io.write_bytes(path, confusion_png(total, names, title))
    return path


def plot_store(found: Sequence[tuple[Path, Mapping[str, Any]]]) -> list[Path]:
    """Every record's figure and every configuration folder's summed figure of the records ``found`` (those
    of a results store that prove themselves: :func:`bench.reporting.verify.scan`)."""
    written = []
    folders: dict[Path, list[tuple[Path, Mapping[str, Any]]]] = {}
    for record_file, record in sorted(found, key=lambda pair: str(pair[0])):
        folders.setdefault(record_file.parent, []).append((record_file, record))
    for folder, records in sorted(folders.items()):
        for record_file, record in records:
            path = plot_record(record_file, record)
            if path is not None:
                written.append(path)
        aggregate = plot_cell(folder, records)
        if aggregate is not None:
            written.append(aggregate)
    return written


def _classification(record: Mapping[str, Any], where: Path) -> tuple[np.ndarray | None, tuple[str, ...]]:
    """The record's C × C counts and class names, or (None, ()) when it is not classification."""
    confusion = record.get("confusion")
    names = tuple(record.get("label_names") or ())
    if confusion is None or not names:
        return None, ()
    counts = np.asarray(confusion)
    if counts.ndim != 2:  # multilabel records hold one 2 x 2 table per label
        return None, ()
    if counts.shape != (len(names), len(names)):
        raise DataError(f"{where}: confusion of shape {counts.shape} does not match its {len(names)} label_names")
    return counts.astype(np.int64), names
