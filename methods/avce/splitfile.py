"""AVCE's seeded frame-level folds written to a split file, and checked against it.

AVCE (ECCV 2022, Sec. 4.1) evaluates AFEW-VA by 5:1 cross-validation "like [19]" and Aff-Wild
on a "sampled train set"; neither the paper nor its code publishes the partitions, so bench
draws them (``ratio_cv`` of ``protocols/afewva_cv.yaml`` and ``affwild_sampled_train.yaml``,
by whole video, seeded). This module writes the folds a protocol gives on a data root to a
JSON file — per fold the test and train videos and the fingerprint of the sample ids each side
holds (the ``data.split`` fingerprint of every run record) — so the exact partition can be
published beside the results, and :func:`verify` tells whether a later run on another copy
of the data draws the same folds.

    python -m bench_methods.avce.splitfile afewva_cv --data-root AFEW_VA --out afewva_cv.splits.json
    python -m bench_methods.avce.splitfile afewva_cv --data-root AFEW_VA --verify afewva_cv.splits.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from bench import io, protocols, roots, splits
from bench.errors import BenchError, DataError

SCHEMA = 1


def folds_document(protocol_name: str, data_root: Path | None) -> dict[str, Any]:
    """The folds of ``protocol_name`` on ``data_root``: per fold its videos and id fingerprints."""
    protocol = protocols.load(protocol_name)
    adapter = roots.open_adapter(protocol.dataset, data_root, protocol.dataset_options,
                                 needed_by=f"the {protocol_name} split file")
    samples = adapter.samples()
    by_id = {s.id: s for s in samples}
    folds = []
    for split in splits.make_splits(protocol.split, samples, adapter):
        sides = {side: sorted({by_id[i].group_key for i in getattr(split, side)}) for side in ("train", "val", "test")}
        folds.append({"name": split.name, "videos": sides,
                      "frames": {side: len(getattr(split, side)) for side in ("train", "val", "test")},
                      "fingerprint": splits.split_fingerprint(split)})
    return {"schema": SCHEMA, "protocol": protocol.name, "protocol_hash": protocol.hash, "dataset": protocol.dataset,
            "dataset_options": dict(protocol.dataset_options), "split": dict(protocol.split),
            "samples": len(samples), "folds": folds}


def write(protocol_name: str, data_root: Path | None, out: Path) -> dict[str, Any]:
    """Write :func:`folds_document` to ``out`` atomically (whole or not at all); returns it."""
    document = folds_document(protocol_name, data_root)
    io.write_json(out, document)
    return document


def verify(protocol_name: str, data_root: Path | None, path: Path) -> list[str]:
    """The differences between the folds drawn now and those of the split file ``path`` (empty: identical)."""
    try:
        stored = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        raise DataError(f"{path}: cannot read the split file ({error})") from None
    now = folds_document(protocol_name, data_root)
    problems = [f"{key}: file has {stored.get(key)!r}, now {now[key]!r}"
                for key in ("protocol", "protocol_hash", "samples") if stored.get(key) != now[key]]
    for old, new in zip(stored.get("folds", []), now["folds"]):
        if old != new:
            problems.append(f"{new['name']}: the folds differ (test videos in the file "
                            f"{len(old.get('videos', {}).get('test', []))}, now {len(new['videos']['test'])})")
    if len(stored.get("folds", [])) != len(now["folds"]):
        problems.append(f"the file has {len(stored.get('folds', []))} folds, the protocol gives {len(now['folds'])}")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write or verify the split file of an AVCE protocol.")
    parser.add_argument("protocol")
    parser.add_argument("--data-root", type=Path)
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument("--out", type=Path)
    action.add_argument("--verify", type=Path)
    args = parser.parse_args(argv)
    try:
        if args.out is not None:
            document = write(args.protocol, args.data_root, args.out)
            print(f"{args.out}: {len(document['folds'])} folds of {document['samples']} samples")
            return 0
        problems = verify(args.protocol, args.data_root, args.verify)
    except BenchError as error:
        print(f"error: {error}")
        return 2
    print("\n".join(problems) if problems else f"{args.verify}: the folds are identical")
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
