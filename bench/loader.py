"""The one reader of the YAML and JSON files the harness takes as input.

:func:`read` parses a file strictly — a key given twice in one mapping is refused, with the line
of both — and remembers the line of every key and list item, so that later checks can name the
file and line of what they refuse.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from bench.errors import BenchError, DataError

Loc = tuple[str | int, ...]

_BASE_LOADER: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class StrictLoader(_BASE_LOADER):  # type: ignore[misc, valid-type]
    """A safe YAML loader that refuses a key given twice in one mapping (YAML keeps the last one)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        first: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            try:
                hash(key)
            except TypeError:
                continue  # the base class refuses an unhashable key with its own message
            if key in first:
                raise yaml.constructor.ConstructorError(
                    None, None, f"key {key!r} is given twice (first on line {first[key]})", key_node.start_mark)
            first[key] = key_node.start_mark.line + 1
        return super().construct_mapping(node, deep=deep)


class Printed(float):
    """A float that remembers how many decimals it was written with (None: not plain notation)."""

    decimals: int | None


_PLAIN_DECIMAL = re.compile(r"^[-+]?[0-9]*\.([0-9]+)$")


class PrintedLoader(StrictLoader):
    """:class:`StrictLoader` whose floats are :class:`Printed` (``60.0`` and ``60`` print differently)."""

    def construct_printed_float(self, node: yaml.ScalarNode) -> Printed:
        number = Printed(self.construct_yaml_float(node))
        match = _PLAIN_DECIMAL.match(str(node.value).replace("_", ""))
        number.decimals = len(match.group(1)) if match else None
        return number


PrintedLoader.add_constructor("tag:yaml.org,2002:float", PrintedLoader.construct_printed_float)


@dataclasses.dataclass(frozen=True)
class Document:
    """A parsed file: its data and, per key path, the file and line it was written on."""

    path: Path
    data: Any
    lines: Mapping[Loc, tuple[Path, int]]

    def where(self, loc: Loc = ()) -> str:
        """``FILE:LINE`` of ``loc`` (or of its nearest ancestor with a known line), else ``FILE``."""
        loc = tuple(loc)
        while True:
            for candidate in (loc, tuple(str(p) for p in loc)):
                if candidate in self.lines:
                    path, line = self.lines[candidate]
                    return f"{path}:{line}"
            if not loc:
                return str(self.path)
            loc = loc[:-1]

    def merged_over(self, base: Document) -> Document:
        """This document's data deep-merged over ``base``'s (mappings merge, anything else replaces)."""
        return Document(self.path, _deep_merge(base.data, self.data), {**base.lines, **self.lines})


def read(path: Path, error: type[BenchError] = DataError, printed: bool = False) -> Document:
    """Parse the YAML (or JSON, a subset of it) file ``path``; a problem is an ``error`` naming file and line.

    ``printed`` keeps the printed precision of floats (:class:`Printed`), as the reported-numbers
    database needs.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise error(f"{path}: cannot read: {exc}") from None
    loader = (PrintedLoader if printed else StrictLoader)(text)
    try:
        node = loader.get_single_node()
        data = None if node is None else loader.construct_document(node)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        kind = "JSON" if path.suffix == ".json" else "YAML"
        raise error(f"{where}: invalid {kind}: {getattr(exc, 'problem', None) or exc}") from None
    finally:
        loader.dispose()
    lines: dict[Loc, tuple[Path, int]] = {}
    if node is not None:
        _collect_lines(node, (), path, lines)
    return Document(path, data, lines)


def _collect_lines(node: yaml.Node, loc: Loc, path: Path, out: dict[Loc, tuple[Path, int]]) -> None:
    out[loc] = (path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            if isinstance(key_node, yaml.ScalarNode):
                _collect_lines(value_node, (*loc, key_node.value), path, out)
                out[(*loc, key_node.value)] = (path, key_node.start_mark.line + 1)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _collect_lines(item, (*loc, index), path, out)


def _deep_merge(base: Any, over: Any) -> Any:
    if not (isinstance(base, Mapping) and isinstance(over, Mapping)):
        return over
    out = dict(base)
    for key, value in over.items():
        out[key] = _deep_merge(out[key], value) if key in out else value
    return out
