"""Split files: the folds a protocol draws on a data root, written to JSON and checked against it.

Several protocols draw their folds rather than read official ones, because the paper's code has
no fold loop (MPUC's RAVDESS 10-fold, REFERENCE 3.2) or publishes no partition (AVCE's AFEW-VA
5:1 cross-validation and Aff-Wild sampled train set). The folds are seeded, so they are a
function of (protocol, data); a split file makes that function's value publishable beside the
results, and :func:`verify` tells whether the folds drawn now on another copy are still those.

Per fold the file holds the sizes and subjects (people) of each side, the groups (the units that
never straddle a split: a video, a recording) of the validation and test sides (training holds
the rest), and the fingerprint of each side's sample ids — the ``data.split`` fingerprint every
run record stores.

    bench splits afewva_cv --data-root AFEW_VA --out afewva_cv.splits.json
    bench splits ravdess_actor10 --data-root RAVDESS --verify methods/mpuc/splits/ravdess_actor10.json
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from bench import io, loader, protocols, roots, splits
from bench.errors import DataError

SCHEMA = 2
SIDES = ("train", "val", "test")

_COMPARED = ("protocol", "version", "split", "dataset_options", "samples")
"""Document keys that must agree; the protocol hash is informational (a reworded description
changes it, not the folds)."""


def folds_document(protocol_name: str, data_root: Path | None) -> dict[str, Any]:
    """The folds of ``protocol_name`` on ``data_root``: per fold and side its size, subjects,
    groups and id fingerprint."""
    protocol = protocols.load(protocol_name)
    adapter = roots.open_adapter(protocol.dataset, data_root, protocol.dataset_options,
                                 needed_by=f"the {protocol.name} split file")
    samples = adapter.samples()
    by_id = {s.id: s for s in samples}
    folds = []
    for split in splits.make_splits(protocol.split, samples, adapter):
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


def verify(protocol_name: str, data_root: Path | None, path: Path) -> list[str]:
    """The differences between the folds drawn now and the split file ``path`` (empty: identical)."""
    stored = loader.read(Path(path), DataError).data
    if not isinstance(stored, dict) or stored.get("schema") != SCHEMA:
        raise DataError(f"{path}: not a split file of schema {SCHEMA} (write it anew with bench splits --out)")
    now = folds_document(protocol_name, data_root)
    problems = [f"{key}: the file has {stored.get(key)!r}, now {now[key]!r}"
                for key in _COMPARED if stored.get(key) != now[key]]
    old_folds = stored.get("folds", [])
    if len(old_folds) != len(now["folds"]):
        problems.append(f"the file has {len(old_folds)} folds, the protocol gives {len(now['folds'])}")
    for old, new in zip(old_folds, now["folds"]):
        if old != new:
            side = next((s for s in ("test", "val") if old.get("groups", {}).get(s) != new["groups"][s]), "test")
            problems.append(f"{new['name']}: the folds differ on the {side} side "
                            f"({len(old.get('groups', {}).get(side, []))} groups in the file, "
                            f"{len(new['groups'][side])} now)")
    return problems


def splits_command(args: argparse.Namespace) -> int:
    """``bench splits PROTOCOL --out FILE | --verify FILE``: 0 written or identical, 1 different."""
    if args.out is not None:
        document = write(args.protocol, args.data_root, args.out)
        print(f"{args.out}: {len(document['folds'])} folds of {document['samples']} samples")
        return 0
    problems = verify(args.protocol, args.data_root, args.verify)
    print("\n".join(problems) if problems else f"{args.verify}: the folds are identical")
    return 1 if problems else 0
