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

from collections import Counter
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any

import numpy as np

from bench.api import DatasetAdapter, Sample, Split, ids_fingerprint
from bench.errors import DataError, LeakageError, ProtocolError, unknown
from bench.protocols.splitspec import (
    SUBJECT_MODES,
    _Carve,
    _natural,
    _parse,
    _Plan,
    _subject_key,
    few,
)

# ------------------------------------------------------------------------------ building


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
    from sklearn.model_selection import (  # here: sklearn's import costs seconds
        GroupKFold,
        StratifiedGroupKFold,
    )

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


def fold_names(cfg: Mapping[str, Any], where: str | None = None) -> list[str]:
    """The names of the folds a ``split:`` mapping makes, known without the data (for ``--fold``)."""
    plan = _parse(cfg, where or "split config")
    if plan.scheme == "official":
        return ["official"]
    if plan.scheme in ("subject_holdout", "stratified_holdout"):
        return ["holdout"]
    count = len(plan.params["folds"]) if plan.scheme == "subject_kfold" and "folds" in plan.params else \
        plan.params["k"] if "k" in plan.params else plan.params["folds"]
    return [f"fold{i}" for i in range(1, count + 1)]


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
        side: ids_fingerprint(ids)
        for side, ids in (("train", split.train), ("val", split.val), ("test", split.test))
    }
