"""Strict readers of YAML fields for the reported-numbers and expected-results files.

Each names the file and key of a bad value: mappings with a known key set, non-empty strings,
quoted table ids, label lists, per-column maps, decimals, and numbers as the paper printed them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from bench.errors import DataError, unknown


def strict_mapping(data: Any, keys: Mapping[str, bool], where: str) -> dict[str, Any]:
    """``data`` as a dict with every required key (``keys[k]`` True) and no key outside ``keys``."""
    if not isinstance(data, Mapping):
        raise DataError(f"{where}: expected a mapping with keys {', '.join(keys)}")
    for key, required in keys.items():
        if required and key not in data:
            raise DataError(f"{where}: key {key!r} is missing")
    extra = [k for k in data if k not in keys]
    if extra:
        raise DataError(f"{where}: " + unknown("key", str(extra[0]), keys))
    return dict(data)


def string(data: Mapping[str, Any], key: str, where: str) -> str:
    """``data[key]`` as a non-empty string."""
    value = data[key]
    if not isinstance(value, str) or not value.strip():
        raise DataError(f"{where}: {key}: expected a non-empty string, got {value!r}")
    return value


def quoted_id(data: Mapping[str, Any], key: str, where: str) -> str:
    """``data[key]`` as a table id written as a quoted string (``"1"``, ``"IV"``)."""
    value = data[key]
    if not isinstance(value, str) or not value.strip():
        raise DataError(f"{where}: {key}: expected a quoted string (e.g. \"1\" or \"IV\"), got {value!r}")
    return value


def labels(data: Mapping[str, Any], key: str, where: str) -> tuple[str, ...]:
    """``data[key]`` as a non-empty list of distinct, non-empty labels."""
    value = data[key]
    if not isinstance(value, list) or not value or not all(isinstance(v, str) and v for v in value):
        raise DataError(f"{where}: {key}: expected a non-empty list of quoted labels, got {value!r}")
    dupes = sorted({v for v in value if value.count(v) > 1})
    if dupes:
        raise DataError(f"{where}: {key}: {dupes[0]!r} is listed twice")
    return tuple(value)


def label_map(data: Mapping[str, Any], key: str, columns: Sequence[str], where: str) -> dict[str, Any]:
    """``data[key]`` (optional) as a mapping whose keys are among ``columns``."""
    value = data.get(key) or {}
    if not isinstance(value, Mapping):
        raise DataError(f"{where}: {key}: expected a mapping keyed by column label")
    for column in value:
        if column not in columns:
            raise DataError(f"{where}: {key}: " + unknown("column", str(column), columns))
    return dict(value)


def decimals(value: Any, where: str) -> int:
    """``value`` as a number of printed decimals, 0 to 6."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 6:
        raise DataError(f"{where}: expected an integer number of decimals (0-6), got {value!r}")
    return value


def printed_value(value: Any, unit: str, where: str) -> tuple[float | None, int | None]:
    """The number and how many decimals the paper printed (``66.70`` -> 2, ``58`` -> 0)."""
    if value is None:
        return None, None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise DataError(f"{where}: value: expected a number as printed or null, got {value!r}")
    printed = 0 if isinstance(value, int) else getattr(value, "decimals", None)
    if printed is None:
        raise DataError(f"{where}: value: write {value!r} in plain decimal notation, as the paper prints it")
    if unit == "percent" and not 0.0 <= value <= 100.0:
        raise DataError(f"{where}: value: {value} is not a percentage in [0, 100]")
    if unit == "fraction" and not -1.0 <= value <= 1.0:
        raise DataError(f"{where}: value: {value} is not a fraction in [-1, 1]")
    return float(value), printed
