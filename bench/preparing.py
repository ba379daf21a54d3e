"""``bench prepare DATASET``: verify a dataset copy (``--check``) or precompute a method's inputs.

``--check`` runs the adapter's :meth:`~bench.api.DatasetAdapter.check` (counts per fold or
split against the dataset's known sizes, split-list consistency, every media file opened up
to its first frame or packet), prints a table of the counts and every problem, and exits 1
when there is any. A malformed split list is reported the same way, by its file and line.

``--method M`` runs ``M.inputs()`` over every sample through the preprocessing cache
(:func:`bench.data.prepare.prepare`) and prints hits, misses and the time taken; a second
identical run finds every entry cached and does no transform work.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from tabulate import tabulate

from bench import config, registry, roots, values
from bench.api import CheckReport, DatasetAdapter
from bench.data.cache import Cache, default_cache
from bench.data.prepare import prepare
from bench.errors import ConfigError, DataError

_SHOWN = 50  # problems printed in full; the rest are counted


def _adapter(dataset: str, data_root: Path | None, options: list[str]) -> DatasetAdapter:
    return roots.open_adapter(dataset, data_root, config.parse_overrides(options), needed_by=f"bench prepare {dataset}")


def check_report(adapter: DatasetAdapter) -> CheckReport:
    """The adapter's report; a split list or annotation it cannot parse becomes the one problem."""
    try:
        return adapter.check()
    except DataError as error:
        return CheckReport(adapter.name, adapter.root, {}, (str(error),))


def render_report(report: CheckReport, expected: dict[str, int]) -> str:
    """The summary ``--check`` prints: counts against the known sizes, then the problems."""
    rows = []
    for key, count in report.counts.items():
        want = expected.get(key)
        status = "" if want is None else ("ok" if count == want else "MISMATCH")
        rows.append([key, count, "" if want is None else want, status])
    lines = [f"{report.dataset} at {report.root}"]
    if rows:
        lines.append(tabulate(rows, headers=["count", "found", "expected", ""]))
    if report.ok:
        lines.append("no problems found")
    else:
        lines.append(f"{len(report.problems)} problem(s):")
        lines += [f"  {p}" for p in report.problems[:_SHOWN]]
        if len(report.problems) > _SHOWN:
            lines.append(f"  ... and {len(report.problems) - _SHOWN} more")
    return "\n".join(lines)


def _prepare_inputs(adapter: DatasetAdapter, args: argparse.Namespace) -> None:
    method_cls = registry.methods.get(args.method)
    method = method_cls()
    cfg = config.resolve(method_cls.Config, method_cls.presets, args.preset, config.parse_overrides(args.set),
                         method_cls.name)
    values.check_config(cfg, method_cls.name)
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
    adapter = _adapter(args.dataset, args.data_root, args.option)
    if args.check:
        report = check_report(adapter)
        print(render_report(report, dict(getattr(adapter, "expected_counts", {}))))
        if not report.ok:
            return 1
    if args.method:
        _prepare_inputs(adapter, args)
    return 0
