"""What each ``bench`` subcommand does, as functions that return or print text."""

from __future__ import annotations

import argparse
from pathlib import Path

from tabulate import tabulate

from bench import protocols, registry
from bench.api import DatasetAdapter
from bench.errors import BenchError, PluginError
from bench.files import roots
from bench.records.cells import RunRecord


def run_command(args: argparse.Namespace) -> None:
    """``bench run``: resolve the request, run or skip each cell, print a per-fold table."""
    from bench import config
    from bench.running import values

    overrides = config.parse_overrides(args.set)
    # bad values fail here, before torch and Lightning are imported and before any data is read
    values.preflight(args.method, args.preset, overrides, args.protocol, args.seed, args.out, args.cache_dir,
                     args.fold, args.budget)
    from bench.reporting import summary
    from bench.running import run

    folds = None if not args.fold or args.fold == ["all"] else args.fold
    request = run.RunRequest(
        method=args.method, protocol=args.protocol, folds=folds, seeds=args.seed, preset=args.preset,
        overrides=overrides, modalities=args.modalities, data_root=args.data_root,
        pretrain_data_root=args.pretrain_data_root,
        out=args.out, progress=not args.no_progress, cache_root=args.cache_dir,
        allow_incomplete=args.allow_incomplete, rerun_changed=args.rerun_changed,
        regime=args.regime, pretrain_on=args.pretrain_on, budget=args.budget,
        precision=args.precision, fast=args.fast,
        weights=args.weights, keep_weights=not args.no_keep_weights,
    )
    plan = run.make_plan(request)
    print(f"{plan.method.name} × {plan.protocol.name} ({plan.protocol.dataset}, {', '.join(plan.modalities)}): "
          f"{len(plan.folds)} fold(s) × {len(plan.seeds)} seed(s), preset {request.preset}, "
          f"config {plan.config_hash}, selection {plan.protocol.selection.rule}")
    if plan.regime is not None and not plan.regime.protocol_default:
        print(f"regime: {plan.regime.describe()}")
    print(f"data: {plan.adapter.root}")
    if plan.pretrain_adapter is not None:
        print(f"pretraining data: {plan.pretrain_adapter.name} at {plan.pretrain_adapter.root} "
              f"({len(plan.pretrain_samples)} samples, labels unused)")

    def report(cell: run.CellResult) -> None:
        rec = RunRecord.from_dict(cell.record, str(cell.path))
        shown = ", ".join(f"{m} {rec.metrics[m] * summary.scale(plan.task.kind):.2f}" for m in plan.protocol.metrics)
        status = "skipped (already finished)" if cell.skipped else f"fit {rec.timings['fit_s']:.1f} s"
        print(f"{rec.fold} seed {rec.seed}: {shown} [{status}] -> {cell.path}")

    results = run.execute(plan, on_cell=report)
    print()
    print(summary.cell_table([RunRecord.from_dict(r.record, str(r.path)) for r in results], plan.protocol.metrics,
                             plan.task.kind))


def list_command(args: argparse.Namespace) -> None:
    """``bench list methods|datasets|protocols|metrics``."""
    print(listing(args.what))


def listing(what: str) -> str:
    """The table ``bench list WHAT`` prints."""
    if what == "metrics":
        from bench import metrics

        rows = [[m.name, ", ".join(m.kinds), (m.doc.strip().splitlines() or [""])[0]]
                for m in (metrics.get(n) for n in metrics.names())]
        return tabulate(rows, headers=["metric", "tasks", "definition"])
    if what == "protocols":
        rows = []
        for name, path in protocols.available().items():
            try:
                p = protocols.load(str(path))
                have = "yes" if p.dataset in registry.datasets.names() else "no (adapter not installed)"
                rows.append([name, p.dataset, p.task, ", ".join(p.modalities), p.split["scheme"],
                             p.selection.rule, ", ".join(p.serves) or "-", have])
            except BenchError as exc:
                rows.append([name, "INVALID", str(exc), "", "", "", "", ""])
        return tabulate(rows, headers=["protocol", "dataset", "task", "modalities", "split", "selection", "serves",
                                       "adapter"])
    reg = registry.methods if what == "methods" else registry.datasets
    rows = []
    for name in reg.names():
        try:
            cls = reg.get(name)
        except PluginError as exc:
            rows.append([name, "FAILED TO LOAD", str(exc).splitlines()[0], ""])
            continue
        if what == "methods":
            rows.append([name, ", ".join(cls.tasks), ", ".join(cls.modalities), ", ".join(cls.regimes)])
        else:
            rows.append([name, cls.task, ", ".join(cls.modalities), len(cls.label_names)])
    headers = ["method", "tasks", "modalities", "regimes"] if what == "methods" else \
        ["dataset", "task", "modalities", "labels"]
    return tabulate(rows, headers=headers)


def doctor_command(args: argparse.Namespace) -> None:
    """``bench doctor``: environment, plugin failures, protocol validity, data roots."""
    print(doctor_report())


def doctor_report() -> str:
    """The text ``bench doctor`` prints."""
    from bench.running import provenance

    env = provenance.environment()
    code = provenance.code_version()
    lines = [f"python {env['python']} on {env['platform']}", f"device: {env['device']}",
             "packages: " + ", ".join(f"{k} {v or 'MISSING'}" for k, v in env["packages"].items()),
             f"bench {code['version']} (commit {code['commit'] or 'unknown'}{', dirty' if code['dirty'] else ''})", ""]
    for kind, reg in (("methods", registry.methods), ("datasets", registry.datasets)):
        failures = reg.load_all()
        ok = [n for n in reg.names() if n not in failures]
        lines.append(f"{kind}: {len(ok)} loaded ({', '.join(ok) or 'none'})")
        lines += [f"  FAILED {name}: {why}" for name, why in failures.items()]
    bad = []
    names = protocols.available()
    for name, path in names.items():
        try:
            protocols.load(str(path))
        except BenchError as exc:
            bad.append(f"  INVALID {name}: {exc}")
    lines.append(f"protocols: {len(names) - len(bad)} valid of {len(names)}")
    lines += bad
    lines.append("data roots:")
    for name in registry.datasets.names():
        try:
            cls = registry.datasets.get(name)
        except PluginError:
            continue
        found = roots.env_root(name)
        if found is not None:
            state = f"{found} ({'found' if Path(found).is_dir() else 'MISSING'})"
        elif cls.default_root.__func__ is not DatasetAdapter.default_root.__func__:
            state = "built in (made on first use)"
        else:
            state = f"not configured (set BENCH_DATA_{name.upper()} or pass --data-root)"
        lines.append(f"  {cls.name}: {state}")
    return "\n".join(lines)


def cache_command(args: argparse.Namespace) -> None:
    """``bench cache info|clean``."""
    from bench.data.cache import Cache, default_cache
    from bench.running import values

    if args.cache_dir is not None:
        values.check_output_dir(args.cache_dir, "--cache-dir")
    cache = Cache(args.cache_dir) if args.cache_dir else default_cache()
    if args.action == "clean":
        print(f"removed {cache.clean()} entries from {cache.root}")
        return
    info = cache.info()
    print(f"{cache.root}: {info['entries']} entries, {info['bytes'] / 2**20:.1f} MiB")
