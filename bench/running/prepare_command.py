"""``bench prepare DATASET``: verify a dataset copy (``--check``) or precompute a method's inputs.

``--check`` runs the adapter's :meth:`~bench.api.DatasetAdapter.check` (counts per fold or
split against the dataset's known sizes, split-list consistency, files present; some adapters
open each file's first frame), then decodes every media file whole in worker processes
(:mod:`bench.data.mediacheck`; ``--no-decode`` skips this), prints a table of the counts,
every problem (file, what is wrong) and a summary line, and exits 1 when there is any. A
malformed split list is reported the same way, by its file and line.

``--method M`` runs ``M.inputs()`` over every sample through the preprocessing cache
(:func:`bench.data.prepare.prepare`) and prints hits, misses and the time taken; a second
identical run finds every entry cached and does no transform work.
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path
from typing import Any

from tabulate import tabulate

from bench import config, registry
from bench.api import CheckReport, DatasetAdapter
from bench.data import mediacheck
from bench.data.cache import Cache, default_cache
from bench.data.prepare import prepare
from bench.errors import ConfigError, DataError
from bench.files import roots
from bench.running import values

MAX_WORKERS = 256
"""The most decoding processes ``--workers`` may start."""
_SHOWN = 50  # problems printed in full; the rest are counted


def _adapter(dataset: str, data_root: Path | None, options: list[str]) -> DatasetAdapter:
    return roots.open_adapter(dataset, data_root, config.parse_overrides(options), needed_by=f"bench prepare {dataset}")


def check_report(adapter: DatasetAdapter) -> CheckReport:
    """The adapter's report; a split list or annotation it cannot parse becomes its problems (every bad line)."""
    try:
        return adapter.check()
    except DataError as error:
        return CheckReport(adapter.name, adapter.root, {}, error.problems)


def with_decoded_media(report: CheckReport, adapter: DatasetAdapter, workers: int,
                       progress: bool) -> tuple[CheckReport, str]:
    """``report`` plus one problem per media file that does not decode whole (:mod:`bench.data.mediacheck`),
    and a line saying what was decoded.

    A file the adapter's own check already named is not named twice; without a sample list
    (the adapter could not build one: its problems say why) nothing is decoded.
    """
    try:
        samples = adapter.samples()
    except DataError:
        return report, "media not decoded: the sample list could not be built"
    tic = time.perf_counter()
    files, found = mediacheck.decode_all(samples, workers, progress)
    named = {problem.split(": ", 1)[0] for problem in report.problems}
    new = [p for p in found if p.split(": ", 1)[0] not in named]
    return (dataclasses.replace(report, problems=report.problems + tuple(new)),
            f"decoded {files} media files whole in {time.perf_counter() - tic:.1f} s with {workers} worker "
            f"process(es): {len(found)} do not decode")


def render_report(report: CheckReport, expected: dict[str, int], summary: str = "") -> str:
    """The summary ``--check`` prints: counts against the known sizes, then the problems."""
    rows = []
    for key, count in report.counts.items():
        want = expected.get(key)
        status = "" if want is None else ("ok" if count == want else "MISMATCH")
        rows.append([key, count, "" if want is None else want, status])
    lines = [f"{report.dataset} at {report.root}"]
    if rows:
        lines.append(tabulate(rows, headers=["count", "found", "expected", ""]))
    lines += [f"  {p}" for p in report.problems[:_SHOWN]]
    if len(report.problems) > _SHOWN:
        lines.append(f"  ... and {len(report.problems) - _SHOWN} more")
    if summary:
        lines.append(summary)
    lines.append(f"{len(report.problems)} problem(s) found" if report.problems else "no problems found")
    return "\n".join(lines)


def _method_config(args: argparse.Namespace) -> tuple[type[Any], Any]:
    """``--method``'s class and its configuration (``--preset``, ``--set``), checked."""
    method_cls = registry.methods.get(args.method)
    cfg = config.resolve(method_cls.Config, method_cls.presets, args.preset, config.parse_overrides(args.set),
                         method_cls.name)
    values.check_config(cfg, method_cls.name)
    return method_cls, cfg


def _prepare_inputs(adapter: DatasetAdapter, args: argparse.Namespace) -> None:
    method_cls, cfg = _method_config(args)
    method = method_cls()
    samples = adapter.samples()
    wanted = [m for m in method_cls.modalities if m in adapter.modalities]
    used = [m for m in wanted if all(m in s.sources for s in samples)]
    if not used:
        raise DataError(f"bench prepare: {adapter.name} samples have none of {method_cls.name}'s modalities "
                        f"({', '.join(method_cls.modalities)}) for every sample")
    for modality in wanted:
        if modality not in used:
            lacking = sum(1 for s in samples if modality not in s.sources)
            print(f"skipping {modality}: {lacking} of {len(samples)} samples have no {modality} source")
    cache = Cache(args.cache_dir) if args.cache_dir else default_cache()
    prepared = prepare(samples, method.inputs(cfg, used), cache, progress=True)
    print(f"{method_cls.name} inputs ({', '.join(used)}) for {len(samples)} {adapter.name} samples "
          f"in {cache.root}: {prepared.cache_hits} hits, {prepared.cache_misses} misses, {prepared.seconds:.2f} s")


def prepare_command(args: argparse.Namespace) -> int:
    """``bench prepare DATASET [--data-root DIR] [--check] [--method M [--preset P] [--set k=v]]``.

    Returns 0 when everything asked for succeeded, 1 when ``--check`` found problems (the
    inputs are then not prepared).
    """
    if not args.check and not args.method:
        raise ConfigError("bench prepare: nothing to do; give --check, --method METHOD, or both")
    if args.workers is not None and args.workers < 1:
        raise ConfigError(f"--workers {args.workers}: allowed an integer >= 1")
    if args.workers is not None and args.workers > MAX_WORKERS:
        raise ConfigError(f"--workers {args.workers}: allowed at most {MAX_WORKERS} decoding processes")
    if not args.check and (args.no_decode or args.workers is not None):
        raise ConfigError(f"{'--no-decode' if args.no_decode else '--workers'}: only with --check (the media check)")
    if not args.method and (args.set or args.preset != "paper"):
        raise ConfigError(f"{'--set' if args.set else '--preset'}: only with --method (the inputs of that method)")
    if args.cache_dir is not None:
        values.check_output_dir(args.cache_dir, "--cache-dir")
    if args.method:
        _method_config(args)  # before the media check, which may take long
    adapter = _adapter(args.dataset, args.data_root, args.option)
    if args.check:
        report, summary = check_report(adapter), "media not decoded (--no-decode)"
        if not args.no_decode:
            report, summary = with_decoded_media(report, adapter, args.workers or mediacheck.default_workers(),
                                                 progress=not args.no_progress)
        print(render_report(report, dict(getattr(adapter, "expected_counts", {})), summary))
        if not report.ok:
            return 1
    if args.method:
        _prepare_inputs(adapter, args)
    return 0
