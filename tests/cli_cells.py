"""One cell run through the ``bench`` command line in this process, for tests of what a cell leaves behind."""

from __future__ import annotations

from pathlib import Path

from bench import cli
from bench.records import store


def run_one_cell(argv: list[str]) -> Path:
    """Run ``bench`` with ``argv`` (a ``bench run`` of one cell into the store its ``--out`` names); its record."""
    out = Path(argv[argv.index("--out") + 1])
    assert cli.main(argv) == 0
    (record,) = (path for path, _ in store.iter_records(out))
    return record
