"""The one reader of the YAML and JSON files the harness takes as input, and their typed validation.

:func:`read` parses a file strictly — a key given twice in one mapping is refused, with the line
of both — and remembers the line of every key and list item. :func:`validate` checks the parsed
data against a pydantic model (a :class:`Model`: an unknown key is refused with a suggestion and
the valid keys) and turns the first problem into one line ``FILE:LINE: KEY: what is wrong``,
raised as the caller's :class:`~bench.errors.BenchError` subclass (exit 2). :func:`coerce` checks
one value against a type annotation (a method's config field, a transform's parameter).

The field types below (:func:`integer`, :func:`choice`, :data:`Text`...) carry their own
messages, which say what is allowed and what was given.
"""

from __future__ import annotations

import dataclasses
import functools
import re
import types
import typing
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Annotated, Any, TypeVar

import pydantic
import yaml
from pydantic import BaseModel, ConfigDict, PlainValidator, model_validator
from pydantic_core import PydanticCustomError

from bench.errors import BenchError, DataError, did_you_mean, unknown

Loc = tuple[str | int, ...]
M = TypeVar("M", bound=BaseModel)

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


# ------------------------------------------------------------------------------------- validation


class Model(BaseModel):
    """Base of the file schemas: frozen, and an unknown key is an error suggesting the closest valid one."""

    model_config = ConfigDict(frozen=True, strict=True)

    @model_validator(mode="before")
    @classmethod
    def _known_keys(cls, data: Any) -> Any:
        if isinstance(data, Mapping):
            valid = [field.alias or name for name, field in cls.model_fields.items()]
            for key in data:
                if key not in valid:
                    raise PydanticCustomError("bench", "{message}", {
                        "message": f"unknown key {key!r}{did_you_mean(str(key), valid)}; valid keys: "
                                   f"{', '.join(valid)}",
                        "key": str(key),
                    })
        return data


def fail(message: str, at: Loc = ()) -> PydanticCustomError:
    """An error for a validator to raise; ``at`` is the key path below the value being checked."""
    return PydanticCustomError("bench", "{message}", {"message": message, "at": tuple(at)})


def validate(doc: Document, model: type[M], error: type[BenchError], data: Any = None) -> M:
    """``doc.data`` (or ``data``) as a ``model``; the first problem is an ``error`` naming file, line and key."""
    try:
        return model.model_validate(doc.data if data is None else data)
    except pydantic.ValidationError as exc:
        problems = exc.errors()
        first = problems[0]
        if first["type"] == "missing":  # name every key missing from that mapping at once
            parent = first["loc"][:-1]
            keys = [str(p["loc"][-1]) for p in problems if p["type"] == "missing" and p["loc"][:-1] == parent]
            key = dotted(_plain(parent))
            raise error(f"{doc.where(_plain(parent))}: {key + ': ' if key else ''}missing required key(s): "
                        f"{', '.join(keys)}") from None
        raise error(describe(doc, first)) from None


def describe(doc: Document, problem: Mapping[str, Any]) -> str:
    """One line for a pydantic error: ``FILE:LINE: KEY: message``."""
    loc = _plain(problem["loc"])
    kind, ctx, given = problem["type"], problem.get("ctx") or {}, problem.get("input")
    if kind == "bench":
        loc, message = (*loc, *ctx.get("at", ())), ctx["message"]
        if "key" in ctx:  # an unknown key: the line is the key's, the message names the mapping
            return f"{doc.where((*loc, ctx['key']))}: {dotted(loc) + ': ' if loc else ''}{message}"
    elif kind == "missing":
        loc, message = loc[:-1], f"key {loc[-1]!r} is missing"
    elif kind in ("model_type", "dict_type", "model_attributes_type"):
        message = f"expected a mapping, got {given!r}"
    elif kind == "list_type":
        message = f"expected a list, got {given!r}"
    else:
        message = f"{problem['msg'][:1].lower()}{problem['msg'][1:]}, got {given!r}"
    key = dotted(loc)
    return f"{doc.where(loc)}: {key + ': ' if key else ''}{message}"


def _plain(loc: Loc) -> Loc:
    """``loc`` without the union-member tags pydantic inserts (``function-plain[...]``)."""
    return tuple(p for p in loc if not (isinstance(p, str) and p.startswith("function-")))


def dotted(loc: Loc) -> str:
    """``("split", "folds", 0)`` -> ``split.folds[0]``."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


# ------------------------------------------------------------------------------------- field types


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def integer(minimum: int | None = None, what: str | None = None, optional: bool = False) -> Any:
    """An integer (never a bool), >= ``minimum`` where given (or null when ``optional``)."""
    allowed = what or ("an integer" + (f" >= {minimum}" if minimum is not None else ""))

    def check(value: Any) -> int | None:
        if optional and value is None:
            return None
        if not _is_int(value) or (minimum is not None and value < minimum):
            raise fail(f"expected {allowed}, got {value!r}")
        return value

    return Annotated[int | None if optional else int, PlainValidator(check)]


def choice(kind: str, options: Collection[str]) -> Any:
    """One of ``options``; anything else is "unknown KIND 'x' (did you mean 'y'?); valid: ..."."""
    def check(value: Any) -> str:
        if not isinstance(value, str) or value not in options:
            raise fail(unknown(kind, str(value), options))
        return value

    return Annotated[str, PlainValidator(check)]


def _text(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise fail(f"expected a non-empty string, got {value!r}")
    return value


def _flag(value: Any) -> bool:
    if not isinstance(value, bool):
        raise fail(f"expected true or false, got {value!r}")
    return value


def _names(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not value or not all(isinstance(v, str) and v for v in value):
        raise fail(f"expected a non-empty list of names, got {value!r}")
    return tuple(value)


def _mapping(value: Any) -> dict[str, Any]:
    if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
        raise fail(f"expected a mapping of names to values, got {value!r}")
    return dict(value)


Text = Annotated[str, PlainValidator(_text)]
"""A non-empty string."""
Flag = Annotated[bool, PlainValidator(_flag)]
"""true or false."""
Names = Annotated[tuple[str, ...], PlainValidator(_names)]
"""A non-empty list of non-empty strings."""
Options = Annotated[dict[str, Any], PlainValidator(_mapping)]
"""A mapping with string keys and any values (adapter options, ``--set`` overrides)."""


# ------------------------------------------------------------------------------------- single values


_WANTED = {"float_type": "a number", "int_type": "an integer", "bool_type": "true or false",
           "string_type": "a string", "tuple_type": "a list", "list_type": "a list", "none_required": "null"}


def coerce(value: Any, annotation: Any) -> Any:
    """``value`` checked against a type annotation (a config field, a transform parameter), strictly.

    No string is read as a number and no number as a bool; an int is taken where a float is
    wanted, and a list where a tuple is. A mismatch is a ValueError whose message says what
    is allowed and what was given (``expected a number, got 'fast'``), for the caller to
    prefix with what it was checking.
    """
    try:
        return _adapter(annotation).validate_python(_tuples(value), strict=True)
    except pydantic.ValidationError as exc:
        members = typing.get_args(annotation) if typing.get_origin(annotation) in (typing.Union, types.UnionType) else ()
        if len([m for m in members if m is not type(None)]) > 1:
            raise ValueError(f"{value!r} is not one of {_type_name(annotation)}") from None
        raise ValueError(_wording(exc.errors()[0], value, type(None) in members)) from None


@functools.lru_cache(maxsize=None)
def _adapter(annotation: Any) -> pydantic.TypeAdapter[Any]:
    return pydantic.TypeAdapter(annotation)


def _tuples(value: Any) -> Any:
    return tuple(_tuples(v) for v in value) if isinstance(value, list | tuple) else value


def _wording(problem: Mapping[str, Any], value: Any, nullable: bool) -> str:
    kind, ctx, given = problem["type"], problem.get("ctx") or {}, problem.get("input")
    item = f"item {dotted(problem['loc'])}: " if problem["loc"] else ""
    null = " (or null)" if nullable and not item else ""
    if kind == "literal_error":
        return f"{item}{given!r} is not one of {ctx['expected'].replace(' or ', ', ')}{null}"
    if kind in ("too_long", "too_short"):
        return f"expected {ctx.get('max_length', ctx.get('min_length'))} items, got {len(value)}"
    if kind in _WANTED:
        return f"{item}expected {_WANTED[kind]}{null}, got {given!r}"
    return f"{item}{problem['msg'][:1].lower()}{problem['msg'][1:]}{null}, got {given!r}"


def _type_name(annotation: Any) -> str:
    return getattr(annotation, "__name__", None) or str(annotation).replace("typing.", "")
