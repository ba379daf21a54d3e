"""MPUC's RAVDESS folds written to versioned split files, and checked against them.

MPUC (ICPR 2022, Sec. IV-A) evaluates RAVDESS by 10-fold cross-validation, with and without
shared actors, but its official code has no fold loop: one seeded split only
(``utils/utils.py`` ``split_dataset``, REFERENCE 3.2). bench therefore draws the ten folds
(``protocols/ravdess_actor10.yaml``, ``ravdess_kfold10.yaml``, seeded) and this module writes
what a protocol gives to a JSON split file: per fold the actors on each side, the number of
recordings, the fingerprint of the sample ids on each side (the ``data.split`` fingerprint of
every run record) and, for the stratified (actor-shared) folds, the test and validation
recording keys themselves. The files are committed in ``methods/mpuc/splits/`` beside the
protocols they come from (``protocol``, ``version``, ``split`` are stored with them), and
:func:`verify` tells whether the folds drawn now are still those.

Sample ids are recording keys ``VV-EE-II-SS-RR-AA`` (the audio-only and audio-visual copies of a
recording are one sample), so the folds are the same whichever RAVDESS releases are present.

    python -m bench_methods.mpuc.splitfile ravdess_actor10 --data-root RAVDESS --out ravdess_actor10.json
    python -m bench_methods.mpuc.splitfile ravdess_actor10 --data-root RAVDESS --verify methods/mpuc/splits/ravdess_actor10.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from bench import io, protocols, roots, splits
from bench.errors import BenchError, DataError

SCHEMA = 1
SPLITS_DIR = Path(__file__).resolve().parent / "splits"
"""Where the committed split files of the RAVDESS protocols lie (``<protocol>.json``)."""

_COMPARED = ("protocol", "version", "split", "samples")


def folds_document(protocol_name: str, data_root: Path | None) -> dict[str, Any]:
    """The folds of ``protocol_name`` on ``data_root``: per fold its actors, sizes and id fingerprints."""
    protocol = protocols.load(protocol_name)
    adapter = roots.open_adapter(protocol.dataset, data_root, protocol.dataset_options,
                                 needed_by=f"the {protocol_name} split file")
    samples = adapter.samples()
    by_id = {s.id: s for s in samples}
    by_subject = protocol.split["scheme"] in ("subject_kfold", "subject_holdout")
    folds = []
    for split in splits.make_splits(protocol.split, samples, adapter):
        sides = ("train", "val", "test")
        fold: dict[str, Any] = {
            "name": split.name,
            "actors": {side: sorted({str(by_id[i].subject) for i in getattr(split, side)}) for side in sides},
            "recordings": {side: len(getattr(split, side)) for side in sides},
            "fingerprint": splits.split_fingerprint(split),
        }
        if not by_subject:  # actors are shared: only the recording keys name the folds
            fold["keys"] = {side: sorted(getattr(split, side)) for side in ("val", "test")}
        folds.append(fold)
    return {"schema": SCHEMA, "protocol": protocol.name, "version": protocol.version,
            "protocol_hash": protocol.hash, "dataset": protocol.dataset, "split": dict(protocol.split),
            "samples": len(samples), "folds": folds}


def write(protocol_name: str, data_root: Path | None, out: Path) -> dict[str, Any]:
    """Write :func:`folds_document` to ``out`` atomically (whole or not at all); returns it."""
    document = folds_document(protocol_name, data_root)
    io.write_json(out, document)
    return document


def verify(protocol_name: str, data_root: Path | None, path: Path) -> list[str]:
    """The differences between the folds drawn now and those of the split file ``path`` (empty: identical).

    The protocol's name, version, split specification and sample count must agree, and every
    fold's actors, sizes, fingerprints (and keys) must be the same; the protocol hash is
    informational (a reworded description changes it, not the folds).
    """
    try:
        stored = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        raise DataError(f"{path}: cannot read the split file ({error})") from None
    now = folds_document(protocol_name, data_root)
    problems = [f"{key}: the file has {stored.get(key)!r}, now {now[key]!r}"
                for key in _COMPARED if stored.get(key) != now[key]]
    old_folds = stored.get("folds", [])
    if len(old_folds) != len(now["folds"]):
        problems.append(f"the file has {len(old_folds)} folds, the protocol gives {len(now['folds'])}")
    for old, new in zip(old_folds, now["folds"]):
        if old != new:
            problems.append(f"{new['name']}: the folds differ (test actors in the file "
                            f"{old.get('actors', {}).get('test')}, now {new['actors']['test']})")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write or verify the split file of an MPUC RAVDESS protocol.")
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
