"""Split schemes of the protocols and the leakage assertions every split must pass.

A protocol YAML names its split in a ``split:`` mapping: ``scheme:`` plus the keys of that
scheme. :func:`validate_scheme` checks the mapping when the protocol is loaded;
:func:`make_splits` builds the folds from a dataset's samples when a run starts and checks
each with :func:`assert_no_leakage` before handing it out.

Keys every scheme accepts:

``subjects``
    ``disjoint`` (no person on two sides; checked), ``shared`` (people may appear on every
    side, as in a recording-level k-fold) or ``unknown`` (the dataset's own split, whose
    subject overlap is not ours to assert). The default is ``disjoint`` for the
    ``subject_*`` schemes and for ``ratio_cv`` with ``by: subject``, ``shared`` for
    ``stratified_kfold`` and ``ratio_cv`` by group, ``unknown`` for the official schemes.
``val``
    ``{fraction, by, seed}``: carve a validation side out of the *train* side of every fold,
    whole subjects (``by: subject``) or whole groups (``by: group``) at a time, never touching
    test. ``fraction`` is required, in (0, 1); the number of units moved is
    ``max(1, round(n * fraction))`` of the ``n`` units on that fold's train side (Python's
    ``round``, half to even). ``by`` defaults to ``subject`` when ``subjects`` is ``disjoint``
    and to ``group`` otherwise (``by: group`` is refused under ``disjoint``, since it could
    put one person on train and val). ``seed`` (default 0) seeds
    ``numpy.random.default_rng`` afresh for each fold.

Schemes (folds are named ``fold1`` .. ``foldK``; single splits ``official`` / ``holdout``):

``official_folds`` ``{folds}``
    The dataset's own k train/test folds (DFEW and MAFW ship 5); ``folds`` must equal the
    number the dataset defines.
``official``
    The dataset's own train/val/test partition (MELD, CMU-MOSEI, CAER).
``stratified_kfold`` ``{k, seed=0}``
    Recording-level k-fold, stratified by class, every group kept on one side
    (MPUC's "k-fold ✗" RAVDESS protocol: actors shared, recordings grouped).
``subject_kfold`` ``{k, seed=None}`` or ``{folds: [[subject, ...], ...]}``
    Subject-independent k-fold (MPUC Table I "10-fold subject-independent" RAVDESS), or an
    explicit list of test subjects per fold (MAE-DFER's RAVDESS folds).
``subject_holdout`` ``{test, val}`` or ``{test_count, val_count=0, seed=0}``
    One subject-disjoint train/val/test split: fixed lists (MPUC's code: test actors 1, 4,
    21; val actors 8, 9, 20) or seeded counts.
``ratio_cv`` ``{ratio: [a, b], folds, seed=0, by=group}``
    ``folds`` independent random train:test = a:b partitions of the groups (or subjects);
    AVCE's repeated "5:1 cross-validation" on AFEW-VA.
``stratified_holdout`` ``{pool, val_share=0, seed=0}``
    One train/val/test split per class: of a class's ``n`` groups (shuffled), ``int(n * pool)``
    form its training pool, ``int(pool_size * val_share)`` of the pool go to val, the rest of
    the class to test (MPUC's code with ``actor_split: False``, ``utils/utils.py`` L95-111).

Subjects written in a YAML file may be ints or strings. They are compared as strings with
the leading zeros of purely numeric names dropped, so ``1``, ``"1"`` and ``"01"`` all name
the dataset's subject ``"01"`` (or ``"1"``). Subjects are ordered naturally (``"2"`` before
``"10"``) wherever an order matters.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from collections import Counter
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any

import numpy as np

from bench.api import DatasetAdapter, Sample, Split
from bench.errors import DataError, LeakageError, ProtocolError, unknown

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


# ---------------------------------------------------------------------------- validation


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


# ------------------------------------------------------------------------------ building


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


def _subject_of(sample: Sample) -> str:
    if sample.subject is None:
        raise DataError(f"sample {sample.id!r} has no subject, which this split scheme needs")
    return sample.subject


def _units(samples: Sequence[Sample], unit_of: Callable[[Sample], str]) -> list[str]:
    """The distinct units (subjects or groups) of ``samples`` in natural order."""
    return sorted({unit_of(s) for s in samples}, key=_natural)


def _split_by_units(
    name: str,
    samples: Sequence[Sample],
    unit_of: Callable[[Sample], str],
    test: Collection[str],
    val: Collection[str] = (),
) -> Split:
    """Test the samples whose unit is in ``test``, validate on ``val``, train on the rest."""
    sides: dict[str, list[str]] = {"train": [], "val": [], "test": []}
    for sample in samples:
        unit = unit_of(sample)
        sides["test" if unit in test else "val" if unit in val else "train"].append(sample.id)
    return Split(name, tuple(sides["train"]), tuple(sides["test"]), tuple(sides["val"]))


def _lookup(keys: Sequence[str], subjects: Sequence[str], key: str) -> set[str]:
    """Map normalised YAML subjects onto the dataset's subject names."""
    by_key: dict[str, str] = {}
    for subject in subjects:
        other = by_key.setdefault(_subject_key(subject), subject)
        if other != subject:
            raise DataError(f"subjects {other!r} and {subject!r} of the dataset both read as {_subject_key(subject)!r}")
    absent = [k for k in keys if k not in by_key]
    if absent:
        raise DataError(f"split.{key}: the dataset has no subject {few(absent)}; it has {few(list(subjects))}")
    return {by_key[k] for k in keys}


def _ordered(ids: Sequence[str], position: Mapping[str, int]) -> tuple[str, ...]:
    """``ids`` in the order of the samples; unknown ids go last (so the leakage check names them)."""
    return tuple(sorted(ids, key=lambda i: position.get(i, len(position))))


def _official_folds(plan: _Plan, samples: Sequence[Sample], adapter: DatasetAdapter) -> list[Split]:
    folds = adapter.official_folds()
    if len(folds) != plan.params["folds"]:
        raise ProtocolError(
            f"split.folds: the protocol expects {plan.params['folds']} official folds "
            f"but dataset {adapter.name!r} defines {len(folds)}"
        )
    position = {s.id: i for i, s in enumerate(samples)}
    return [
        Split(f"fold{i}", _ordered(f.train, position), _ordered(f.test, position), _ordered(f.val, position))
        for i, f in enumerate(folds, 1)
    ]


def _official(plan: _Plan, samples: Sequence[Sample], adapter: DatasetAdapter) -> list[Split]:
    split = adapter.official_split()
    position = {s.id: i for i, s in enumerate(samples)}
    train, test, val = (_ordered(ids, position) for ids in (split.train, split.test, split.val))
    return [Split("official", train, test, val)]


def _stratified_kfold(plan: _Plan, samples: Sequence[Sample], adapter: DatasetAdapter) -> list[Split]:
    k, seed = plan.params["k"], plan.params["seed"]
    unlabelled = [s.id for s in samples if s.label is None]
    if unlabelled:
        raise DataError(f"stratified_kfold needs labels; {len(unlabelled)} samples have none: {few(unlabelled)}")
    groups = [s.group_key for s in samples]
    if len(set(groups)) < k:
        raise DataError(f"stratified_kfold with k={k} needs at least {k} groups; the samples have {len(set(groups))}")
    from sklearn.model_selection import GroupKFold, StratifiedGroupKFold  # here: sklearn's import costs seconds

    features = np.zeros((len(samples), 1))
    if adapter.task == "classification":
        labels = [s.label for s in samples]
        folds = StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed).split(features, labels, groups)
    else:
        folds = GroupKFold(n_splits=k, shuffle=True, random_state=seed).split(features, groups=groups)
    ids = [s.id for s in samples]
    return [
        Split(f"fold{i}", tuple(ids[j] for j in sorted(train)), tuple(ids[j] for j in sorted(test)))
        for i, (train, test) in enumerate(folds, 1)
    ]


def _subject_kfold(plan: _Plan, samples: Sequence[Sample], adapter: DatasetAdapter) -> list[Split]:
    subjects = _units(samples, _subject_of)
    if "folds" in plan.params:
        chunks = [_lookup(fold, subjects, f"folds[{i}]") for i, fold in enumerate(plan.params["folds"])]
        untested = [s for s in subjects if not any(s in chunk for chunk in chunks)]
        if untested:
            raise ProtocolError(f"split.folds: {len(untested)} dataset subjects are in no fold: {few(untested)}")
    else:
        k, seed = plan.params["k"], plan.params["seed"]
        if len(subjects) < k:
            raise DataError(f"subject_kfold with k={k} needs at least {k} subjects; the samples have {len(subjects)}")
        order = np.arange(len(subjects)) if seed is None else np.random.default_rng(seed).permutation(len(subjects))
        chunks = [{subjects[j] for j in chunk} for chunk in np.array_split(order, k)]
    return [_split_by_units(f"fold{i}", samples, _subject_of, chunk) for i, chunk in enumerate(chunks, 1)]


def _subject_holdout(plan: _Plan, samples: Sequence[Sample], adapter: DatasetAdapter) -> list[Split]:
    subjects = _units(samples, _subject_of)
    if "test" in plan.params:
        test = _lookup(plan.params["test"], subjects, "test")
        val = _lookup(plan.params["val"], subjects, "val") if "val" in plan.params else set()
    else:
        n_test, n_val = plan.params["test_count"], plan.params["val_count"]
        if n_test + n_val >= len(subjects):
            raise DataError(
                f"subject_holdout with test_count={n_test}, val_count={n_val} leaves no training subject; "
                f"the samples have {len(subjects)}"
            )
        order = [subjects[j] for j in np.random.default_rng(plan.params["seed"]).permutation(len(subjects))]
        test, val = set(order[:n_test]), set(order[n_test : n_test + n_val])
    return [_split_by_units("holdout", samples, _subject_of, test, val)]


def _group_of(sample: Sample) -> str:
    return sample.group_key


def _ratio_cv(plan: _Plan, samples: Sequence[Sample], adapter: DatasetAdapter) -> list[Split]:
    (a, b), by = plan.params["ratio"], plan.params["by"]
    unit_of = _subject_of if by == "subject" else _group_of
    units = _units(samples, unit_of)
    n_test = max(1, round(len(units) * b / (a + b)))
    if n_test >= len(units):
        raise DataError(f"ratio_cv {a:g}:{b:g} by {by} needs more than {n_test} {by}s; the samples have {len(units)}")
    rng = np.random.default_rng(plan.params["seed"])
    splits = []
    for i in range(1, plan.params["folds"] + 1):
        test = {units[j] for j in rng.permutation(len(units))[:n_test]}
        splits.append(_split_by_units(f"fold{i}", samples, unit_of, test))
    return splits


def _stratified_holdout(plan: _Plan, samples: Sequence[Sample], adapter: DatasetAdapter) -> list[Split]:
    classes: dict[Any, set[str]] = {}
    for sample in samples:
        if sample.label is None or adapter.task != "classification":
            raise DataError(f"stratified_holdout needs class labels; sample {sample.id!r} has {sample.label!r}")
        classes.setdefault(sample.label, set()).add(sample.group_key)
    mixed = sorted((k for k, n in Counter(g for groups in classes.values() for g in groups).items() if n > 1),
                   key=_natural)
    if mixed:
        raise DataError(f"stratified_holdout: groups with samples of several classes: {few(mixed)}")
    rng = np.random.default_rng(plan.params["seed"])
    test: set[str] = set()
    val: set[str] = set()
    for label in sorted(classes):
        units = sorted(classes[label], key=_natural)
        order = [units[j] for j in rng.permutation(len(units))]
        pool = int(len(units) * plan.params["pool"])
        val |= set(order[: int(pool * plan.params["val_share"])])
        test |= set(order[pool:])
    return [_split_by_units("holdout", samples, _group_of, test, val)]


_BUILDERS: Mapping[str, Callable[[_Plan, Sequence[Sample], DatasetAdapter], list[Split]]] = {
    "official_folds": _official_folds,
    "official": _official,
    "stratified_kfold": _stratified_kfold,
    "subject_kfold": _subject_kfold,
    "subject_holdout": _subject_holdout,
    "ratio_cv": _ratio_cv,
    "stratified_holdout": _stratified_holdout,
}


def _carve_val(split: Split, carve: _Carve, samples_by_id: Mapping[str, Sample]) -> Split:
    """Move whole subjects (or groups) of ``split``'s train side to its val side."""
    if split.val:
        raise ProtocolError(f"split.val: split {split.name!r} already has a validation side; drop split.val")
    train = [samples_by_id[i] for i in split.train]
    unit_of = _subject_of if carve.by == "subject" else _group_of
    units = _units(train, unit_of)
    n_val = max(1, round(len(units) * carve.fraction))
    if n_val >= len(units):
        raise DataError(
            f"split.val: cannot move {n_val} of the {len(units)} {carve.by}s on the train side of "
            f"split {split.name!r} to val and keep any for training"
        )
    chosen = {units[j] for j in np.random.default_rng(carve.seed).permutation(len(units))[:n_val]}
    kept = tuple(s.id for s in train if unit_of(s) not in chosen)
    val = tuple(s.id for s in train if unit_of(s) in chosen)
    return Split(split.name, kept, split.test, val)


def make_splits(cfg: Mapping[str, Any], samples: Sequence[Sample], adapter: DatasetAdapter,
                where: str | None = None) -> list[Split]:
    """Build the folds a ``split:`` mapping describes, carve val sides, and check each.

    Ids within each side follow the order of ``samples``; a given seed always gives the same
    splits. Every split passes :func:`assert_no_leakage` (under the protocol's ``subjects``
    setting) before it is returned, so a leaking split never reaches training. ``where`` (the
    protocol file and line of the mapping) starts every error message when given.
    """
    plan = _parse(cfg, where or "split config")
    try:
        return _make(plan, samples, adapter)
    except (DataError, LeakageError, ProtocolError) as exc:
        if where is None:
            raise
        raise type(exc)(f"{where}: {exc}") from None


def _make(plan: _Plan, samples: Sequence[Sample], adapter: DatasetAdapter) -> list[Split]:
    samples_by_id: dict[str, Sample] = {}
    for sample in samples:
        if sample.id in samples_by_id:
            raise DataError(f"sample id {sample.id!r} occurs twice among the dataset's samples")
        samples_by_id[sample.id] = sample
    splits = []
    for split in _BUILDERS[plan.scheme](plan, samples, adapter):
        assert_no_leakage(split, samples_by_id, plan.subjects)
        if plan.carve is not None:
            split = _carve_val(split, plan.carve, samples_by_id)
            assert_no_leakage(split, samples_by_id, plan.subjects)
        splits.append(split)
    return splits


# ------------------------------------------------------------------------------ checking


def assert_no_leakage(split: Split, samples_by_id: Mapping[str, Sample], subjects: str) -> None:
    """Raise if ``split`` could leak test information into training or model selection.

    Checked, in order: every id is a known sample (:class:`DataError`); no id twice on one
    side; train and test are non-empty; val is not the test split itself (the DFER-CLIP /
    MAE-DFER pitfall); no id and no group on two sides; and, when ``subjects`` is
    ``"disjoint"``, every sample has a subject (:class:`DataError`) and no subject is on two
    sides. Other failures raise :class:`LeakageError`; each message names the split, the
    sides, the count and up to five offenders.
    """
    if subjects not in SUBJECT_MODES:
        raise ValueError(unknown("subjects setting", subjects, SUBJECT_MODES))
    name = split.name
    sides = {"train": split.train, "val": split.val, "test": split.test}
    for side, ids in sides.items():
        missing = [i for i in ids if i not in samples_by_id]
        if missing:
            raise DataError(f"split {name!r}: {len(missing)} {side} ids are not among the samples: {few(missing)}")
    for side, ids in sides.items():
        twice = sorted((i for i, n in Counter(ids).items() if n > 1), key=_natural)
        if twice:
            raise LeakageError(f"split {name!r}: {len(twice)} ids occur twice or more on the {side} side: {few(twice)}")
    for side in ("train", "test"):
        if not sides[side]:
            raise LeakageError(f"split {name!r}: the {side} side is empty")
    if split.val and set(split.val) == set(split.test):
        raise LeakageError(
            f"split {name!r}: the validation split equals the test split ({len(split.test)} ids); "
            "model selection would use the test data"
        )

    def crossing(what: str, key: Callable[[Sample], str]) -> None:
        keys = {side: {key(samples_by_id[i]) for i in ids} for side, ids in sides.items()}
        for first, second in (("train", "test"), ("train", "val"), ("val", "test")):
            both = sorted(keys[first] & keys[second], key=_natural)
            if both:
                raise LeakageError(f"split {name!r}: {len(both)} {what} on both {first} and {second}: {few(both)}")

    crossing("ids", lambda s: s.id)
    crossing("groups", _group_of)
    if subjects == "disjoint":
        nameless = [i for ids in sides.values() for i in ids if samples_by_id[i].subject is None]
        if nameless:
            raise DataError(
                f"split {name!r}: {len(nameless)} samples have no subject, so subject-disjointness "
                f"cannot be checked: {few(nameless)}"
            )
        crossing("subjects", _subject_of)


def split_fingerprint(split: Split) -> dict[str, str]:
    """Per side, the sha256 hex digest of the side's sorted ids joined by newlines.

    Independent of id order; an empty side hashes the empty string. Run records store it so
    two runs can be shown to have used the same folds.
    """
    return {
        side: hashlib.sha256("\n".join(sorted(ids)).encode()).hexdigest()
        for side, ids in (("train", split.train), ("val", split.val), ("test", split.test))
    }
