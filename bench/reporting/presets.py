"""Resolved presets: the configurations the reported and expected numbers ask for, kept as data.

A table matches records by their resolved configuration (a method's defaults, its preset, the
``set:`` overrides). Resolving it means importing the method's plugin, and with it torch and the
model code; ``results/resolved_presets.json`` holds the resolution of every (method, preset,
overrides) that ``results/reported/*.yaml`` and ``results/expected/*.yaml`` name (with the
paper-side twin of each code-side preset), so ``bench table`` and ``bench check`` read them
without importing any plugin. A query the file does not hold (a third-party method, an edited
reported file) is resolved through the plugin as before.

The file is written by ``python -m bench.reporting.presets`` from the installed plugins; the test
suite checks it against them, so it cannot silently disagree with the code.
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from bench.files import io

FILE_NAME = "resolved_presets.json"


def _key(method: str, preset: str, overrides: Mapping[str, Any]) -> str:
    return json.dumps([method, preset, dict(overrides)], sort_keys=True)


@functools.lru_cache(maxsize=None)
def _entries(path: Path) -> dict[str, dict[str, Any]]:
    if not path.is_file():
        return {}
    rows = json.loads(path.read_text())
    return {_key(row["method"], row["preset"], row["set"]): row for row in rows}


def stored_path() -> Path:
    """Where the resolved presets of the reported-numbers root live."""
    from bench.reporting import reported

    return reported.results_root() / FILE_NAME


def lookup(method: str, preset: str, overrides: Mapping[str, Any]) -> tuple[str, dict[str, Any]] | None:
    """``(preset name with aliases followed, resolved config)`` as stored, or None when not stored."""
    row = _entries(stored_path()).get(_key(method, preset, overrides))
    return None if row is None else (row["resolved_preset"], row["config"])


def resolve_with_plugin(method: str, preset: str, overrides: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """The same pair, computed by the installed method plugin (PluginError when it is not installed)."""
    from bench import config as config_mod
    from bench import registry

    method_cls = registry.methods.get(method)
    name = config_mod.preset_name(method_cls.presets, preset, method_cls.name)
    cfg = config_mod.resolve(method_cls.Config, method_cls.presets, preset, overrides, method_cls.name)
    return name, config_mod.to_dict(cfg)


def resolve(method: str, preset: str, overrides: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """The stored resolution where there is one, else the plugin's."""
    return lookup(method, preset, overrides) or resolve_with_plugin(method, preset, overrides)


def wanted() -> list[tuple[str, str, dict[str, Any]]]:
    """Every (method, preset, overrides) the reported and expected numbers of the results root name."""
    from bench.reporting import check, reported

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
    from bench.errors import PluginError
    from bench.reporting import tables

    rows: dict[str, dict[str, Any]] = {}
    todo = [(m, p, dict(o)) for m, p, o in queries]
    while todo:
        method, preset, overrides = todo.pop()
        if _key(method, preset, overrides) in rows:
            continue
        try:
            name, config = resolve_with_plugin(method, preset, overrides)
        except PluginError:
            continue
        rows[_key(method, preset, overrides)] = {"method": method, "preset": preset, "set": overrides,
                                                 "resolved_preset": name, "config": config}
        paper = tables.paper_side(name)
        todo += [(method, other, overrides) for other in (name, paper) if other is not None]
    return [rows[k] for k in sorted(rows)]


def render(rows: list[dict[str, Any]]) -> str:
    """The file's text: one row per line, so a change shows as a one-line diff."""
    return "[\n" + ",\n".join(json.dumps(row, sort_keys=True) for row in rows) + "\n]\n"


def main() -> int:
    """Write ``results/resolved_presets.json`` from the installed plugins."""
    path = stored_path()
    text = render(build(wanted()))
    io.write_text(path, text)
    print(f"wrote {path} ({text.count(chr(10)) - 2} resolved presets)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
