"""Method configurations: presets, ``--set key=value`` overrides, strict validation, hashing.

A method's ``Config`` is a frozen dataclass whose defaults are its paper's values. A run's
configuration is the defaults, then a preset's overrides, then the user's ``--set`` pairs;
an unknown key anywhere is an error naming the key and the valid ones, and every value is
checked against the field's type so that ``--set lr=fast`` fails before training starts.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import types
import typing
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import yaml

from bench.errors import ConfigError, did_you_mean, unknown


_NUMBER = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+$")


def parse_overrides(pairs: Iterable[str]) -> dict[str, Any]:
    """Parse ``key=value`` strings; values are read as YAML scalars (``1e-3``, ``true``, ``[1, 2]``).

    YAML 1.1 reads ``1e-4`` (no dot) as a string; such exponent numbers are read as floats here.
    """
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set {pair!r}: expected key=value")
        try:
            value = yaml.safe_load(raw) if raw.strip() else ""
        except yaml.YAMLError as exc:
            raise ConfigError(f"--set {pair!r}: value is not valid YAML: {exc}") from exc
        out[key.strip()] = float(value) if isinstance(value, str) and _NUMBER.match(value) else value
    return out


def resolve(config_cls: type, presets: Mapping[str, Mapping[str, Any]], preset: str,
            overrides: Mapping[str, Any], owner: str) -> Any:
    """Build ``config_cls`` from its defaults, the named preset and ``overrides``.

    ``owner`` (the method name) appears in every error message.
    """
    if preset not in presets:
        raise ConfigError(f"method {owner!r}: " + unknown("preset", preset, presets))
    fields = {f.name: f for f in dataclasses.fields(config_cls)}
    values: dict[str, Any] = {}
    for origin, layer in ((f"preset {preset!r}", presets[preset]), ("--set", overrides)):
        for key, value in layer.items():
            if key not in fields:
                raise ConfigError(
                    f"method {owner!r}, {origin}: unknown config key {key!r}{did_you_mean(key, fields)}; "
                    f"valid keys: {', '.join(sorted(fields))}"
                )
            values[key] = _coerce(value, _field_type(config_cls, key), f"method {owner!r}, {origin}: {key}")
    try:
        return config_cls(**values)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"method {owner!r}: invalid configuration: {exc}") from exc


def to_dict(cfg: Any) -> dict[str, Any]:
    """A JSON-ready dict of a config dataclass (tuples become lists)."""
    return json.loads(json.dumps(dataclasses.asdict(cfg)))


def config_hash(cfg: Any, modalities: Sequence[str]) -> str:
    """The configuration part of a cell's key: 12 hex digits of the sha256 of the resolved
    configuration and the modalities the method reads (the store's ``<config-hash>`` folder)."""
    return stable_hash({"config": to_dict(cfg), "modalities": list(modalities)})[:12]


def stable_hash(obj: Any) -> str:
    """sha256 hex of the canonical JSON of ``obj``."""
    return hashlib.sha256(json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def _field_type(config_cls: type, key: str) -> Any:
    return typing.get_type_hints(config_cls)[key]


def _coerce(value: Any, annotation: Any, where: str) -> Any:
    """Check ``value`` against a field annotation, converting where it is lossless (int -> float, list -> tuple)."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        for option in args:
            try:
                return _coerce(value, option, where)
            except ConfigError:
                continue
        raise ConfigError(f"{where}: {value!r} is not one of {_name(annotation)}")
    if origin is typing.Literal:
        if value in args:
            return value
        raise ConfigError(f"{where}: {value!r} is not one of {', '.join(map(repr, args))}")
    if annotation is type(None):
        if value is None:
            return None
        raise ConfigError(f"{where}: expected null, got {value!r}")
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_coerce(v, args[0], where) for v in value)
        if len(args) != len(value):
            raise ConfigError(f"{where}: expected {len(args)} items, got {len(value)}")
        return tuple(_coerce(v, a, where) for v, a in zip(value, args, strict=True))
    if annotation is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(f"{where}: expected true or false, got {value!r}")
    if annotation is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise ConfigError(f"{where}: expected an integer, got {value!r}")
    if annotation is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        raise ConfigError(f"{where}: expected a number, got {value!r}")
    if annotation is str:
        if isinstance(value, str):
            return value
        raise ConfigError(f"{where}: expected a string, got {value!r}")
    raise ConfigError(f"{where}: fields of type {_name(annotation)} cannot be set from the command line")


def _name(annotation: Any) -> str:
    return getattr(annotation, "__name__", None) or str(annotation).replace("typing.", "")
