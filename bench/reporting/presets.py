"""Resolved presets: the configurations the reported and expected numbers ask for, kept as data.

A table matches records by their resolved configuration (a method's defaults, its preset, the
``set:`` overrides). Resolving it means importing the method's plugin, and with it torch and the
model code; ``results/resolved_presets.json`` holds the resolution of every (method, preset,
overrides) that ``results/reported/*.yaml`` and ``results/expected/*.yaml`` name (with the
paper-side twin of each code-side preset), so ``bench table`` and ``bench check`` read them
without importing any plugin. A query the file does not hold (a third-party method, an edited
reported file) is resolved through the plugin as before.

The file is written by ``python -m bench.reporting.presets_writer`` from the installed plugins; the test
suite checks it against them, so it cannot silently disagree with the code.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from bench.reporting import reported

FILE_NAME = "resolved_presets.json"


def key(method: str, preset: str, overrides: Mapping[str, Any]) -> str:
    """The row key of one (method, preset, overrides)."""
    return json.dumps([method, preset, dict(overrides)], sort_keys=True)


@functools.lru_cache(maxsize=None)
def _entries(path: Path) -> dict[str, dict[str, Any]]:
    if not path.is_file():
        return {}
    rows = json.loads(path.read_text())
    return {key(row["method"], row["preset"], row["set"]): row for row in rows}


def stored_path() -> Path:
    """Where the resolved presets of the reported-numbers root live."""
    return reported.results_root() / FILE_NAME


def lookup(method: str, preset: str, overrides: Mapping[str, Any]) -> tuple[str, dict[str, Any]] | None:
    """``(preset name with aliases followed, resolved config)`` as stored, or None when not stored."""
    row = _entries(stored_path()).get(key(method, preset, overrides))
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
