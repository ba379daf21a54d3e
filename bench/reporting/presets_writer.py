"""Writes ``results/resolved_presets.json`` (see :mod:`bench.reporting.presets`) from the installed
plugins: ``python -m bench.reporting.presets_writer``. Imports every method plugin named, with torch."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Mapping
from typing import Any

from bench.errors import PluginError
from bench.files import io
from bench.reporting import check, presets, reported, tables


def wanted() -> list[tuple[str, str, dict[str, Any]]]:
    """Every (method, preset, overrides) the reported and expected numbers of the results root name."""
    db = reported.load_all()
    queries = [(cell.reproduce.method, cell.reproduce.preset, dict(cell.reproduce.overrides))
               for paper in db.papers.values() for table in paper.tables.values() for cell in table.cells
               if cell.reproduce is not None]
    expected = reported.results_root() / "expected"
    for golden in check.load_expected(expected) if expected.exists() else []:
        queries += [(gold.query.method, gold.query.preset, dict(gold.query.overrides)) for gold in golden.cells]
    return queries


def build(queries: Iterable[tuple[str, str, Mapping[str, Any]]]) -> list[dict[str, Any]]:
    """The file's rows for ``queries``, each also under its resolved preset name and with the paper-side
    twin of a code-side preset, resolved by the installed plugins (uninstalled methods left out)."""
    rows: dict[str, dict[str, Any]] = {}
    todo = [(m, p, dict(o)) for m, p, o in queries]
    while todo:
        method, preset, overrides = todo.pop()
        if presets.key(method, preset, overrides) in rows:
            continue
        try:
            name, config = presets.resolve_with_plugin(method, preset, overrides)
        except PluginError:
            continue
        rows[presets.key(method, preset, overrides)] = {"method": method, "preset": preset, "set": overrides,
                                                 "resolved_preset": name, "config": config}
        paper = tables.paper_side(name)
        todo += [(method, other, overrides) for other in (name, paper) if other is not None]
    return [rows[k] for k in sorted(rows)]


def render(rows: list[dict[str, Any]]) -> str:
    """The file's text: one row per line, so a change shows as a one-line diff."""
    return "[\n" + ",\n".join(json.dumps(row, sort_keys=True) for row in rows) + "\n]\n"


def main() -> int:
    """Write ``results/resolved_presets.json`` from the installed plugins."""
    path = presets.stored_path()
    text = render(build(wanted()))
    io.write_text(path, text)
    print(f"wrote {path} ({text.count(chr(10)) - 2} resolved presets)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
