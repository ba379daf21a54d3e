"""Split files: the folds a protocol draws on a data root, written to JSON and checked against it.

Several protocols draw their folds rather than read official ones, because the paper's code has
no fold loop (MPUC's RAVDESS 10-fold: its ``utils/utils.py`` ``split_dataset`` draws one split) or
publishes no partition (AVCE's AFEW-VA 5:1 cross-validation and Aff-Wild sampled train set). The
folds are seeded, so they are a function of (protocol, data); a split file makes that function's
value publishable beside the results, and :func:`verify` tells whether the folds drawn now on
another copy are still those.

Per fold the file holds the sizes and subjects (people) of each side, the groups (the units that
never straddle a split: a video, a recording) of the validation and test sides (training holds
the rest), and the fingerprint of each side's sample ids — the ``data.split`` fingerprint every
run record stores.

    bench splits afewva_cv --data-root AFEW_VA --out afewva_cv.splits.json
    bench splits ravdess_actor10 --data-root RAVDESS --verify protocols/splits/ravdess_actor10.json
"""

from __future__ import annotations

import argparse
import importlib.resources
from pathlib import Path
from typing import Any

from pydantic import Field

from bench import protocols
from bench.errors import DataError
from bench.files import io, loader, roots
from bench.protocols import splits, splitspec

SCHEMA = 2
SIDES = ("train", "val", "test")

_COMPARED = ("protocol", "version", "split", "dataset_options", "samples")
"""Document keys that must agree; the protocol hash is informational (a reworded description
changes it, not the folds)."""



def committed(protocol_name: str) -> Path:
    """The split file committed beside the shipped protocols: ``protocols/splits/<protocol>.json``."""
    return Path(str(importlib.resources.files("bench_protocols"))) / "splits" / f"{protocol_name}.json"

def folds_document(protocol_name: str, data_root: Path | None) -> dict[str, Any]:
    """The folds of ``protocol_name`` on ``data_root``: per fold and side its size, subjects,
    groups and id fingerprint."""
    protocol = protocols.load(protocol_name)
    adapter = roots.open_adapter(protocol.dataset, data_root, protocol.dataset_options,
                                 needed_by=f"the {protocol.name} split file")
    samples = adapter.samples()
    by_id = {s.id: s for s in samples}
    folds = []
    for split in splits.make_splits(protocol.split, samples, adapter, where=protocol.split_where):
        members = {side: [by_id[i] for i in getattr(split, side)] for side in SIDES}
        folds.append({
            "name": split.name,
            "sizes": {side: len(members[side]) for side in SIDES},
            "subjects": {side: sorted({str(s.subject) for s in members[side] if s.subject is not None})
                         for side in SIDES},
            "groups": {side: sorted({s.group_key for s in members[side]}) for side in ("val", "test")},
            "fingerprint": splits.split_fingerprint(split),
        })
    return {"schema": SCHEMA, "protocol": protocol.name, "version": protocol.version,
            "protocol_hash": protocol.hash, "dataset": protocol.dataset,
            "dataset_options": dict(protocol.dataset_options), "split": dict(protocol.split),
            "samples": len(samples), "folds": folds}


def write(protocol_name: str, data_root: Path | None, out: Path) -> dict[str, Any]:
    """Write :func:`folds_document` to ``out`` atomically (whole or not at all); returns it."""
    document = folds_document(protocol_name, data_root)
    io.write_json(out, document)
    return document


class _Fold(loader.Model):
    name: loader.Text
    sizes: dict[str, int]
    subjects: dict[str, list[str]]
    groups: dict[str, list[str]]
    fingerprint: dict[str, str]


class _SplitFile(loader.Model):
    """The keys of a split file (schema 2)."""

    schema_version: int = Field(alias="schema")
    protocol: str
    version: int
    protocol_hash: str
    dataset: str
    dataset_options: dict[str, Any]
    split: dict[str, Any]
    samples: int
    folds: list[_Fold]


def verify(protocol_name: str, data_root: Path | None, path: Path) -> list[str]:
    """The differences between the folds drawn now and the split file ``path`` (empty: identical).

    Each names the file and line, the fold and side, and the groups or subjects concerned: a
    group listed twice, groups only in the file or only drawn now, a subject on two sides in
    the file of a subject-disjoint split, a subject the data does not have.
    """
    doc = loader.read(Path(path), DataError)
    stored = doc.data
    if not isinstance(stored, dict) or stored.get("schema") != SCHEMA:
        raise DataError(f"{path}: not a split file of schema {SCHEMA} (write it anew with bench splits --out)")
    loader.validate(doc, _SplitFile, DataError)
    now = folds_document(protocol_name, data_root)
    problems = [f"{doc.where((key,))}: {key}: the file has {stored.get(key)!r}, now {now[key]!r}"
                for key in _COMPARED if stored.get(key) != now[key]]
    old_folds = stored["folds"]
    if len(old_folds) != len(now["folds"]):
        problems.append(f"{doc.where(('folds',))}: the file has {len(old_folds)} folds, "
                        f"the protocol gives {len(now['folds'])}")
    mode = splitspec.subject_mode(now["split"])
    apart_now = all(len([side for side in SIDES if subject in fold["subjects"][side]]) <= 1
                    for fold in now["folds"] for subject in set().union(*fold["subjects"].values()))
    disjoint = mode == "disjoint" or (mode == "unknown" and apart_now)
    for index, (old, new) in enumerate(zip(old_folds, now["folds"])):
        if old != new:
            problems += _fold_problems(doc, index, old, new, disjoint)
    return problems


def _fold_problems(doc: loader.Document, index: int, old: dict[str, Any], new: dict[str, Any],
                   disjoint: bool) -> list[str]:
    """What differs in one fold, most specific first; at least one line when the folds differ.

    A subject on two sides of the file is named only where the protocol keeps subjects apart
    (``subjects: disjoint``, or ``unknown`` with every fold drawn now subject-disjoint).
    """
    name, found = new["name"], []
    at = ("folds", index)
    for side in ("val", "test"):
        listed = old["groups"].get(side, [])
        seen: set[str] = set()
        for j, group in enumerate(listed):
            if group in seen:
                found.append(f"{doc.where((*at, 'groups', side, j))}: {name}: group {group!r} is listed twice "
                             f"on the {side} side")
            seen.add(group)
        only_file, only_now = sorted(seen - set(new["groups"][side])), sorted(set(new["groups"][side]) - seen)
        if only_file or only_now:
            parts = [f"{len(only_file)} group(s) in the file are not drawn there now: {splits.few(only_file)}"
                     if only_file else "",
                     f"{len(only_now)} group(s) drawn there now are not in the file: {splits.few(only_now)}"
                     if only_now else ""]
            found.append(f"{doc.where((*at, 'groups', side))}: {name}: the {side} side differs: "
                         f"{'; '.join(p for p in parts if p)} ({len(listed)} groups in the file, "
                         f"{len(new['groups'][side])} now)")
    both = set(old["groups"].get("val", [])) & set(old["groups"].get("test", []))
    for group in sorted(both):
        found.append(f"{doc.where((*at, 'groups', 'test'))}: {name}: group {group!r} is on both val and test "
                     f"in the file")
    drawn = {side: set(new["subjects"][side]) for side in SIDES}
    known = set().union(*drawn.values())
    for side in SIDES:
        for subject in old["subjects"].get(side, []):
            where = doc.where((*at, "subjects", side))
            if subject not in known:
                found.append(f"{where}: {name}: subject {subject!r} on the {side} side is not a subject of "
                             f"the data")
                continue
            others = [o for o in SIDES if o != side and subject in old["subjects"].get(o, [])
                      and not (subject in drawn[side] and subject in drawn[o])]
            if disjoint and others and SIDES.index(side) < SIDES.index(others[0]):
                now_sides = " and ".join(s for s in SIDES if subject in drawn[s])
                found.append(f"{where}: {name}: subject {subject!r} is on both {side} and {others[0]} in the "
                             f"file; the folds drawn now put it on {now_sides}")
    if not found:
        for side in SIDES:
            listed = set(old["subjects"].get(side, []))
            if listed != drawn[side]:
                only_file, only_now = sorted(listed - drawn[side]), sorted(drawn[side] - listed)
                found.append(f"{doc.where((*at, 'subjects', side))}: {name}: the subjects of the {side} side differ "
                             f"(in the file only: {splits.few(only_file) or '-'}; drawn now only: "
                             f"{splits.few(only_now) or '-'})")
    if not found:
        differing = [side for side in SIDES if old["sizes"].get(side) != new["sizes"][side]
                     or old["fingerprint"].get(side) != new["fingerprint"][side]]
        found.append(f"{doc.where(at)}: {name}: the samples of the {' and '.join(differing) or 'sides'} side differ "
                     f"(sizes in the file {old['sizes']}, now {new['sizes']})")
    return found


def splits_command(args: argparse.Namespace) -> int:
    """``bench splits PROTOCOL --out FILE | --verify FILE``: 0 written or identical, 1 different."""
    if args.out is not None:
        document = write(args.protocol, args.data_root, args.out)
        print(f"{args.out}: {len(document['folds'])} folds of {document['samples']} samples")
        return 0
    problems = verify(args.protocol, args.data_root, args.verify)
    print("\n".join(problems) if problems else f"{args.verify}: the folds are identical")
    return 1 if problems else 0
