"""A protocol's ``split:`` mapping parsed and checked into a plan (keys and schemes: :mod:`bench.protocols.splits`)."""

from __future__ import annotations

import dataclasses
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from bench.errors import ProtocolError, unknown

SCHEMES: tuple[str, ...] = (
    "official_folds",
    "official",
    "stratified_kfold",
    "subject_kfold",
    "subject_holdout",
    "ratio_cv",
    "stratified_holdout",
)
SUBJECT_MODES: tuple[str, ...] = ("disjoint", "shared", "unknown")
COMMON_KEYS: tuple[str, ...] = ("scheme", "subjects", "val")
SCHEME_KEYS: Mapping[str, tuple[str, ...]] = {
    "official_folds": ("folds",),
    "official": (),
    "stratified_kfold": ("k", "seed"),
    "subject_kfold": ("k", "seed", "folds"),
    "subject_holdout": ("test", "test_count", "val_count", "seed"),
    "ratio_cv": ("ratio", "folds", "seed", "by"),
    "stratified_holdout": ("pool", "val_share", "seed"),
}
VAL_KEYS: tuple[str, ...] = ("fraction", "by", "seed")
_MAX_SEED = 2**32  # the range sklearn's random_state accepts
_SHOWN = 5  # offending ids or subjects named in one message


@dataclasses.dataclass(frozen=True)
class _Carve:
    """A validated ``split.val`` mapping."""

    fraction: float
    by: str
    seed: int


@dataclasses.dataclass(frozen=True)
class _Plan:
    """A validated ``split:`` mapping: the scheme, its normalised parameters and defaults."""

    scheme: str
    subjects: str
    params: Mapping[str, Any]
    carve: _Carve | None


def _subject_key(subject: str | int) -> str:
    """A subject's comparison key: its string, minus leading zeros when purely numeric."""
    text = str(subject)
    return str(int(text)) if text.isascii() and text.isdigit() else text


def _natural(text: str) -> tuple[tuple[Any, ...], str]:
    """Sort key ordering digit runs by value ("2" < "10"), ties broken by the plain string."""
    parts = re.split(r"(\d+)", text)
    return tuple(int(p) if i % 2 else p for i, p in enumerate(parts)), text


def few(items: Sequence[str]) -> str:
    """Up to five items, comma-separated, then how many more."""
    shown = ", ".join(str(item) for item in items[:_SHOWN])
    return shown + (f", ... ({len(items) - _SHOWN} more)" if len(items) > _SHOWN else "")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _int(cfg: Mapping[str, Any], key: str, where: str, minimum: int, default: int | None = None) -> int:
    if key not in cfg:
        if default is None:
            raise ProtocolError(f"{where}: split.{key}: missing (an integer >= {minimum})")
        return default
    value = cfg[key]
    if not _is_int(value) or value < minimum:
        raise ProtocolError(f"{where}: split.{key}: must be an integer >= {minimum}, got {value!r}")
    return value


def _seed(cfg: Mapping[str, Any], key: str, where: str, default: int) -> int:
    value = cfg.get(key, default)
    if not _is_int(value) or not 0 <= value < _MAX_SEED:
        raise ProtocolError(f"{where}: split.{key}: must be an integer in [0, 2**32), got {value!r}")
    return value


def _subject_list(value: Any, key: str, where: str) -> tuple[str, ...]:
    """A YAML list of subjects (ints or strings), normalised with :func:`_subject_key`."""
    if not isinstance(value, list | tuple) or not value:
        raise ProtocolError(f"{where}: split.{key}: must be a non-empty list of subjects, got {value!r}")
    keys = []
    for item in value:
        if not (_is_int(item) or (isinstance(item, str) and item)):
            raise ProtocolError(f"{where}: split.{key}: subject {item!r} is not an integer or a non-empty string")
        keys.append(_subject_key(item))
    twice = sorted(k for k, n in Counter(keys).items() if n > 1)
    if twice:
        raise ProtocolError(f"{where}: split.{key}: subjects listed twice: {few(twice)}")
    return tuple(keys)


def _parse_val(value: Any, subjects: str, where: str) -> _Carve:
    if not isinstance(value, Mapping):
        raise ProtocolError(f"{where}: split.val: must be a mapping {{fraction, by, seed}}, got {value!r}")
    for key in value:
        if key not in VAL_KEYS:
            raise ProtocolError(f"{where}: split.val.{key}: {unknown('val key', str(key), VAL_KEYS)}")
    if "fraction" not in value:
        raise ProtocolError(f"{where}: split.val.fraction: missing (a number in (0, 1))")
    fraction = value["fraction"]
    if isinstance(fraction, bool) or not isinstance(fraction, int | float) or not 0 < fraction < 1:
        raise ProtocolError(f"{where}: split.val.fraction: must be a number in (0, 1), got {fraction!r}")
    by = value.get("by", "subject" if subjects == "disjoint" else "group")
    if by not in ("subject", "group"):
        raise ProtocolError(f"{where}: split.val.by: must be 'subject' or 'group', got {by!r}")
    if by == "group" and subjects == "disjoint":
        raise ProtocolError(
            f"{where}: split.val.by: 'group' can put one subject on train and val, "
            "but split.subjects is 'disjoint'; use by: subject"
        )
    seed = value.get("seed", 0)
    if not _is_int(seed) or not 0 <= seed < _MAX_SEED:
        raise ProtocolError(f"{where}: split.val.seed: must be an integer in [0, 2**32), got {seed!r}")
    return _Carve(float(fraction), by, seed)


def _exactly_one(cfg: Mapping[str, Any], first: str, second: str, where: str) -> str:
    if (first in cfg) == (second in cfg):
        state = "both given" if first in cfg else "missing"
        raise ProtocolError(f"{where}: split.{first}: give exactly one of split.{first} and split.{second} ({state})")
    return first if first in cfg else second


def _params(scheme: str, cfg: Mapping[str, Any], where: str) -> dict[str, Any]:
    """Check and normalise the scheme-specific keys (apart from a list-valued ``val``)."""
    if scheme == "official_folds":
        return {"folds": _int(cfg, "folds", where, 2)}
    if scheme == "official":
        return {}
    if scheme == "stratified_kfold":
        return {"k": _int(cfg, "k", where, 2), "seed": _seed(cfg, "seed", where, 0)}
    if scheme == "subject_kfold":
        if _exactly_one(cfg, "k", "folds", where) == "k":
            seed = cfg.get("seed")
            return {"k": _int(cfg, "k", where, 2), "seed": None if seed is None else _seed(cfg, "seed", where, 0)}
        if "seed" in cfg:
            raise ProtocolError(f"{where}: split.seed: only applies with split.k, not an explicit split.folds")
        folds = cfg["folds"]
        if not isinstance(folds, list | tuple) or len(folds) < 2:
            raise ProtocolError(f"{where}: split.folds: must be a list of at least 2 lists of test subjects")
        lists = [_subject_list(fold, f"folds[{i}]", where) for i, fold in enumerate(folds)]
        twice = sorted(k for k, n in Counter(s for fold in lists for s in fold).items() if n > 1)
        if twice:
            raise ProtocolError(f"{where}: split.folds: subjects tested in more than one fold: {few(twice)}")
        return {"folds": tuple(lists)}
    if scheme == "subject_holdout":
        if _exactly_one(cfg, "test", "test_count", where) == "test":
            for key in ("val_count", "seed"):
                if key in cfg:
                    raise ProtocolError(f"{where}: split.{key}: only applies with split.test_count, not split.test")
            return {"test": _subject_list(cfg["test"], "test", where)}
        if isinstance(cfg.get("val"), list | tuple):
            raise ProtocolError(f"{where}: split.val: a list of val subjects only goes with a split.test list")
        return {
            "test_count": _int(cfg, "test_count", where, 1),
            "val_count": _int(cfg, "val_count", where, 0, default=0),
            "seed": _seed(cfg, "seed", where, 0),
        }
    if scheme == "stratified_holdout":
        shares = {"pool": cfg.get("pool"), "val_share": cfg.get("val_share", 0.0)}
        for key, share in shares.items():
            low = 0.0 if key == "val_share" else 1e-12
            if not isinstance(share, int | float) or isinstance(share, bool) or not low <= share < 1:
                raise ProtocolError(f"{where}: split.{key}: must be a number in {'[0' if low == 0 else '(0'}, 1), "
                                    f"got {share!r}")
        return {**shares, "seed": _seed(cfg, "seed", where, 0)}
    # ratio_cv
    if "ratio" not in cfg:
        raise ProtocolError(f"{where}: split.ratio: missing (a list [train, test] of two positive numbers)")
    ratio = cfg["ratio"]
    if (
        not isinstance(ratio, list | tuple)
        or len(ratio) != 2
        or not all(isinstance(r, int | float) and not isinstance(r, bool) and r > 0 for r in ratio)
    ):
        raise ProtocolError(f"{where}: split.ratio: must be [train, test], two positive numbers, got {ratio!r}")
    by = cfg.get("by", "group")
    if by not in ("group", "subject"):
        raise ProtocolError(f"{where}: split.by: must be 'group' or 'subject', got {by!r}")
    return {
        "ratio": (float(ratio[0]), float(ratio[1])),
        "folds": _int(cfg, "folds", where, 1),
        "seed": _seed(cfg, "seed", where, 0),
        "by": by,
    }


def _parse(cfg: Any, where: str) -> _Plan:
    if not isinstance(cfg, Mapping):
        raise ProtocolError(f"{where}: split: must be a mapping with a 'scheme' key, got {cfg!r}")
    if "scheme" not in cfg:
        raise ProtocolError(f"{where}: split.scheme: missing; valid: {', '.join(sorted(SCHEMES))}")
    scheme = cfg["scheme"]
    if scheme not in SCHEMES:
        raise ProtocolError(f"{where}: split.scheme: {unknown('split scheme', str(scheme), SCHEMES)}")
    valid = COMMON_KEYS + SCHEME_KEYS[scheme]
    for key in cfg:
        if key not in valid:
            raise ProtocolError(f"{where}: split.{key}: {unknown(f'{scheme} key', str(key), valid)}")
    params = _params(scheme, cfg, where)

    if "subjects" in cfg:
        subjects = cfg["subjects"]
        if subjects not in SUBJECT_MODES:
            raise ProtocolError(f"{where}: split.subjects: {unknown('subjects setting', str(subjects), SUBJECT_MODES)}")
    elif scheme.startswith("subject_") or params.get("by") == "subject":
        subjects = "disjoint"
    elif scheme.startswith("official"):
        subjects = "unknown"
    else:
        subjects = "shared"

    carve = None
    val = cfg.get("val")
    if scheme == "subject_holdout" and isinstance(val, list | tuple):
        fixed = _subject_list(val, "val", where)
        both = sorted(set(fixed) & set(params["test"]))
        if both:
            raise ProtocolError(f"{where}: split.val: subjects also listed in split.test: {few(both)}")
        params["val"] = fixed
    elif val is not None:
        carve = _parse_val(val, subjects, where)
        if params.get("val_count"):
            raise ProtocolError(f"{where}: split.val: give either split.val_count or a split.val mapping, not both")
    return _Plan(scheme, subjects, params, carve)


def validate_scheme(cfg: Mapping[str, Any], where: str) -> None:
    """Check a protocol's ``split:`` mapping; raise :class:`ProtocolError` naming ``where``.

    Refuses an unknown scheme (with a suggestion and the valid list), a key the scheme does
    not take (with its valid keys), a missing required key and a value of the wrong type or
    range. Whether the dataset's subjects or official folds fit is checked by
    :func:`make_splits`, which needs the data.
    """
    _parse(cfg, where)


def subject_mode(cfg: Mapping[str, Any]) -> str:
    """The ``subjects`` setting of a valid ``split:`` mapping, its default applied."""
    return _parse(cfg, "split config").subjects
