"""Whether a data root holds the whole dataset a protocol expects, checked before a run trains.

An adapter that knows the complete dataset returns its samples (ids, labels, subjects; no
files) from :meth:`~bench.api.DatasetAdapter.expected_samples`. The protocol's split is then
drawn on those too, and each side of each selected fold is compared with the side drawn on
the copy: a copy missing ``Actor_07`` of RAVDESS is named (what is missing, which fold side
is short by how much) and refused — a model silently trained on 1,020 of 1,080 samples is not
the protocol's. ``--allow-incomplete`` runs anyway, and the record's ``data.incomplete``
says what was missing.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from bench.api import DatasetAdapter, Sample, Split
from bench.errors import BenchError, DataError
from bench.protocols import Protocol, splits

_SHOWN = 3


def shortfall(protocol: Protocol, adapter: DatasetAdapter, samples: Sequence[Sample],
              folds: Sequence[Split]) -> dict[str, Any] | None:
    """What the copy lacks against the complete dataset (None when complete or when the adapter cannot tell).

    ``{"expected": N, "found": n, "missing": [ids...], "by_subject": {...}, "sides": {"fold1/train": [have, want]}}``
    with only the short sides listed.
    """
    expected = adapter.expected_samples()
    if expected is None:
        return None
    have = {s.id for s in samples}
    missing = sorted({s.id for s in expected} - have)
    if not missing:
        return None
    lost = {s.id: s for s in expected if s.id in set(missing)}
    by_subject = Counter(str(lost[i].subject) for i in missing if lost[i].subject is not None)
    sides: dict[str, list[int]] = {}
    try:
        complete = {f.name: f for f in splits.make_splits(protocol.split, expected, adapter, protocol.split_where)}
    except BenchError:  # a split the stub samples cannot draw (official lists): no per-side counts
        complete = {}
    for fold in folds:
        whole = complete.get(fold.name)
        for side in ("train", "val", "test"):
            want = len(getattr(whole, side)) if whole is not None else None
            got = len(getattr(fold, side))
            if want is not None and got < want:
                sides[f"{fold.name}/{side}"] = [got, want]
    return {"expected": len(expected), "found": len(expected) - len(missing), "missing": missing,
            "by_subject": dict(sorted(by_subject.items())), "sides": sides}


def describe(short: dict[str, Any], adapter: DatasetAdapter) -> str:
    """One line: how many samples are missing, of which subjects, which fold sides are short."""
    subjects = ", ".join(f"{n} of subject {s}" for s, n in short["by_subject"].items())
    first = ", ".join(short["missing"][:_SHOWN]) + (", ..." if len(short["missing"]) > _SHOWN else "")
    sides = "; ".join(f"{side} has {have} of {want}" for side, (have, want) in short["sides"].items())
    return (f"{adapter.root}: incomplete {adapter.name} copy: {len(short['missing'])} of {short['expected']} samples "
            f"missing ({subjects or first}; first: {first})" + (f"; {sides}" if sides else ""))


def check(protocol: Protocol, adapter: DatasetAdapter, samples: Sequence[Sample], folds: Sequence[Split],
          allow_incomplete: bool) -> dict[str, Any] | None:
    """:func:`shortfall`, refused with a DataError unless ``allow_incomplete`` (then returned, to be recorded)."""
    short = shortfall(protocol, adapter, samples, folds)
    if short is not None and not allow_incomplete:
        raise DataError(describe(short, adapter) + "; complete the copy (bench prepare "
                        f"{adapter.name} --check lists it) or run with --allow-incomplete")
    return short
