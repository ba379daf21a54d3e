"""Conversion of a CMU-MOSEI root's ``.csd`` labels and words to the adapter's plain CSV layout."""

from __future__ import annotations

import argparse
import csv
import io as _stdio
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

from bench.data.adapters import _lists
from bench.data.adapters.mosei_files import (
    LABEL_COLUMNS,
    LABELS_CSD,
    LAYOUT,
    WORD_COLUMNS,
    WORDS_CSD,
    _csd_label_rows,
    _csd_words,
)
from bench.errors import BenchError, DataError
from bench.files import io


def _csv_text(header: Sequence[str], rows: Iterator[Sequence[object]]) -> str:
    buffer = _stdio.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()


def to_plain(root: Path, out: Path | None = None, *, force: bool = False) -> list[Path]:
    """Write ``labels.csv`` and ``words/<video_id>.csv`` under ``out`` (default ``root``) from the .csd files of ``root``.

    Numbers are written with ``repr`` (they read back bit-identical) in the .csd's order, so
    the plain layout gives the same samples as the .csd one. The words file is converted when
    present. Each file is written atomically; an existing ``labels.csv`` or ``words/`` is
    refused unless ``force``. Returns the files written.
    """
    root = Path(root)
    out = root if out is None else Path(out)
    labels_csd = _lists.require_file(root / LABELS_CSD, LAYOUT)
    words_csd = root / WORDS_CSD
    targets = [out / "labels.csv"] + ([out / "words"] if words_csd.is_file() else [])
    existing = [t for t in targets if t.exists()]
    if existing and not force:
        raise DataError(f"{', '.join(map(str, existing))}: already exist(s); pass --force to overwrite")
    rows = _csd_label_rows(labels_csd)
    words = _csd_words(words_csd) if words_csd.is_file() else {}
    written = []
    for video, items in words.items():
        path = out / "words" / f"{video}.csv"
        io.write_text(path, _csv_text(WORD_COLUMNS, ((repr(s), repr(e), w) for s, e, w in items)))
        written.append(path)
    io.write_text(out / "labels.csv", _csv_text(LABEL_COLUMNS, (
        (r.video, r.interval, repr(r.start), repr(r.end), repr(r.sentiment), *map(repr, r.intensities))
        for r in rows)))
    written.append(out / "labels.csv")
    return written


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m bench.data.adapters.mosei_convert --to-plain ROOT [--out DIR] [--force]``."""
    parser = argparse.ArgumentParser(prog="python -m bench.data.adapters.mosei_convert",
                                     description="Convert the CMU-MultimodalSDK .csd labels and words of a "
                                                 "CMU-MOSEI root to the adapter's plain layout.")
    parser.add_argument("--to-plain", metavar="ROOT", type=Path, required=True,
                        help=f"folder holding {LABELS_CSD} (and optionally {WORDS_CSD})")
    parser.add_argument("--out", metavar="DIR", type=Path, default=None, help="where to write (default ROOT)")
    parser.add_argument("--force", action="store_true", help="overwrite an existing labels.csv / words/")
    args = parser.parse_args(argv)
    try:
        written = to_plain(args.to_plain, args.out, force=args.force)
    except BenchError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"wrote {len(written)} files under {args.out or args.to_plain}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
