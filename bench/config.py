"""Method configurations: presets, ``--set key=value`` overrides, strict validation, hashing.

A method's ``Config`` is a frozen dataclass whose defaults are its paper's values. A run's
configuration is the defaults, then a preset's overrides, then the user's ``--set`` pairs;
an unknown key anywhere is an error naming the key and the valid ones, and every value is
checked against the field's type so that ``--set lr=fast`` fails before training starts.
A preset whose value is a string is an alias: it names another preset (e.g. MMA-DFER's old
``official`` for ``code``), resolves to exactly its configuration and is recorded under the
name it points to (:func:`preset_name`).

A switch added to a ``Config`` after records of it exist is named in the class's
``recorded_when_set`` (a ``ClassVar`` tuple of field names): at its default it is left out of the
resolved configuration (:func:`to_dict`: the record's ``config`` and the cell's hash), so the cells
and records made before it existed keep their hash and still match; set to another value, it
enters both. Its default must be what the method computed before the switch existed.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import typing
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import yaml

from bench.errors import ConfigError, did_you_mean, unknown
from bench.files import loader

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
            problem = getattr(exc, "problem", None) or type(exc).__name__
            raise ConfigError(f"--set {pair!r}: value is not valid YAML ({problem}); quote it to pass a string") \
                from exc
        out[key.strip()] = float(value) if isinstance(value, str) and _NUMBER.match(value) else value
    return out


def preset_name(presets: Mapping[str, Mapping[str, Any] | str], preset: str, owner: str) -> str:
    """The preset ``preset`` stands for: itself, or the preset an alias (a string value) names.

    An unknown name, and an alias that names an unknown preset or another alias, are
    ConfigErrors naming ``owner`` (the method).
    """
    return _preset(presets, preset, owner)[0]


def _preset(presets: Mapping[str, Mapping[str, Any] | str], preset: str, owner: str) -> tuple[str, Mapping[str, Any]]:
    if preset not in presets:
        raise ConfigError(f"method {owner!r}: " + unknown("preset", preset, presets))
    layer = presets[preset]
    if not isinstance(layer, str):
        return preset, layer
    target = presets.get(layer)
    if not isinstance(target, Mapping):
        raise ConfigError(f"method {owner!r}: preset {preset!r} is an alias of {layer!r}, which is not a preset "
                          f"of overrides (an alias must name one directly)")
    return layer, target


def resolve(config_cls: type, presets: Mapping[str, Mapping[str, Any] | str], preset: str,
            overrides: Mapping[str, Any], owner: str) -> Any:
    """Build ``config_cls`` from its defaults, the named preset (aliases followed) and ``overrides``.

    ``owner`` (the method name) appears in every error message.
    """
    preset, preset_layer = _preset(presets, preset, owner)
    fields = {f.name: f for f in dataclasses.fields(config_cls)}
    values: dict[str, Any] = {}
    for origin, layer in ((f"preset {preset!r}", preset_layer), ("--set", overrides)):
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
    """A JSON-ready dict of a config dataclass (tuples become lists), without the fields of its
    ``recorded_when_set`` that hold their default (see the module docstring)."""
    values = json.loads(json.dumps(dataclasses.asdict(cfg)))
    defaults = {f.name: f.default for f in dataclasses.fields(cfg)}
    for name in getattr(type(cfg), "recorded_when_set", ()):
        if getattr(cfg, name) == defaults[name]:
            del values[name]
    return values


def config_hash(cfg: Any, modalities: Sequence[str], regime: Mapping[str, Any] | None = None,
                numerics: Mapping[str, Any] | None = None) -> str:
    """The configuration part of a cell's key (the store's ``<config-hash>`` folder): 12 hex digits
    of the sha256 of the resolved configuration, the modalities the method reads and, when the
    cell does not train under its protocol's own regime, that regime (see :mod:`bench.running.choices`);
    ``numerics`` (precision, fast kernels) only when not the default (:mod:`bench.running.numerics`)."""
    content: dict[str, Any] = {"config": to_dict(cfg), "modalities": list(modalities)}
    if regime is not None:
        content["regime"] = regime
    if numerics is not None:
        content["numerics"] = dict(numerics)
    return stable_hash(content)[:12]


def stable_hash(obj: Any) -> str:
    """sha256 hex of the canonical JSON of ``obj``."""
    return hashlib.sha256(json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def _field_type(config_cls: type, key: str) -> Any:
    return typing.get_type_hints(config_cls)[key]


def _coerce(value: Any, annotation: Any, where: str) -> Any:
    """Check ``value`` against a field annotation, converting where it is lossless (int -> float, list -> tuple)."""
    try:
        return loader.coerce(value, annotation)
    except ValueError as exc:
        raise ConfigError(f"{where}: {exc}") from None
