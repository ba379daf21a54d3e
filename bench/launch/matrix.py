"""``bench matrix``: every method under every protocol it fits, in one command.

    methods × protocols ─▶ compatibility (runs how / why not, :mod:`bench.running.compat`)
    ─▶ cells (make_plan per runnable pair: folds, seeds, budget, regime, modalities)
    ─▶ the existing launcher (``--launcher local|debug|slurm``, ``--dry-run`` with estimates)
    ─▶ the table of primary metrics (markdown, LaTeX, CSV) and a heat-map PNG

``--dry-run`` prints the jobs and the table of the cells already in the store. Methods
default to every registered one; protocols are named (``--protocols``) or are all the
protocols of the named datasets (``--datasets``). A pair whose protocol fixes a regime the
method lacks trains the method its own way (MPUC: pretrain → linear_eval) and the table's
compatibility lines say so. Cells already in the store are reused; bookkeeping and the
heat-map live in ``<out>/grids/<matrix name>/``, the name a hash of what was asked.
"""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tabulate import tabulate

from bench import config, metrics, protocols, registry
from bench.errors import BenchError, ConfigError, PluginError, unknown
from bench.files import io
from bench.launch import executors
from bench.launch.grid import Cell, Grid
from bench.reporting import matrix_table
from bench.protocols import splits
from bench.running import budget, compat, regimes, run, values

PNG_NAME = "matrix.png"


@dataclasses.dataclass(frozen=True)
class Request:
    """What ``bench matrix`` was asked for."""

    methods: tuple[str, ...]
    protocols: tuple[str, ...]
    preset: str = "paper"
    overrides: dict[str, Any] = dataclasses.field(default_factory=dict)
    budget: str | None = None
    regime: str | None = None
    folds: tuple[str, ...] | None = None
    seeds: tuple[int, ...] | None = None
    out: Path = Path("results")
    precision: str = "32"
    fast: bool = False

    def name(self) -> str:
        """The matrix's bookkeeping name: ``matrix-`` and a hash of the request (without ``out``; the
        numerics only when not the default, so earlier matrices keep their names)."""
        default = Request(self.methods, self.protocols)
        fields = {k: v for k, v in dataclasses.asdict(self).items()
                  if k != "out" and not (k in ("precision", "fast") and v == getattr(default, k))}
        return "matrix-" + config.stable_hash(fields)[:10]


def protocol_names(names: Sequence[str] | None, datasets: Sequence[str] | None) -> tuple[str, ...]:
    """The protocols named, or every valid protocol of the named datasets (in name order)."""
    if names:
        return tuple(dict.fromkeys(names))
    if not datasets:
        raise ConfigError("bench matrix: name the protocols (--protocols P ...) or the datasets (--datasets D ...)")
    chosen = []
    for name, path in protocols.available().items():
        try:
            if protocols.load(str(path)).dataset in datasets:
                chosen.append(name)
        except BenchError:
            continue
    if not chosen:
        raise ConfigError(f"--datasets {' '.join(datasets)}: no protocol uses them (bench list protocols)")
    return tuple(chosen)


def pairs(request: Request) -> list[compat.Pair]:
    """Compatibility of every method × protocol, protocols outermost."""
    wanted = None if request.regime is None else regimes.parse(request.regime)
    out = []
    for name in request.protocols:
        protocol = protocols.load(name)
        out += [compat.check(method, protocol, request.preset, request.overrides, wanted) for method in request.methods]
    return out


def expand(request: Request, found: list[compat.Pair]) -> tuple[list[Cell], dict[tuple[str, str], str]]:
    """The cells of every runnable pair; a pair whose plan fails (data missing) gets that reason instead."""
    cells: list[Cell] = []
    failed: dict[tuple[str, str], str] = {}
    for pair in found:
        if not pair.runs:
            continue
        regime = None if pair.regime is None else pair.regime.kind
        asked = pair.modalities if pair.dropped else None  # what the method cannot build is left out by name
        try:
            plan = run.make_plan(run.RunRequest(
                method=pair.method, protocol=pair.protocol, folds=request.folds, seeds=request.seeds,
                preset=request.preset, overrides=request.overrides, budget=request.budget, regime=regime,
                modalities=asked, out=request.out, progress=False, precision=request.precision, fast=request.fast))
        except BenchError as exc:
            failed[(pair.method, pair.protocol)] = str(exc).splitlines()[0]
            continue
        for split in plan.folds:
            for seed in plan.seeds:
                cells.append(Cell(id=plan.cell_key(split.name, seed), protocol=pair.protocol,
                                  overrides=dict(plan.overrides), modalities=asked, out=request.out,
                                  hints=type(plan.method).resources, regime=regime, budget=request.budget,
                                  precision=request.precision, fast=request.fast))
    return cells, failed


def compatibility_table(found: list[compat.Pair], failed: dict[tuple[str, str], str]) -> str:
    """One line per pair: runs (regime, modalities) or the reason it does not."""
    rows = []
    for pair in found:
        reason = pair.reason or failed.get((pair.method, pair.protocol))
        left = "".join(f" (without {m}: {_short(why)})" for m, why in pair.dropped)
        how = f"runs: {pair.regime_text}; {', '.join(pair.modalities)}{left}" if reason is None else f"no: {reason}"
        rows.append([pair.method, pair.protocol, how])
    return tabulate(rows, headers=["method", "protocol", "compatibility"], tablefmt="simple")


def _short(text: str, limit: int = 90) -> str:
    return text if len(text) <= limit else text[:limit - 1].rstrip() + "…"


def result_grid(request: Request, found: list[compat.Pair], failed: dict[tuple[str, str], str],
                cells: list[Cell], metric: str | None) -> matrix_table.Grid:
    """The table of the matrix from the store: the cells' records, the pairs' reasons."""
    from bench.records import store

    entries: dict[tuple[str, str], matrix_table.Entry] = {}
    for pair in found:
        reason = pair.reason or failed.get((pair.method, pair.protocol))
        records = []
        for cell in cells:
            if (cell.id.method, cell.protocol) == (pair.method, pair.protocol) and cell.finished():
                records.append((cell.record_path, store.read(cell.record_path)))
        entries[(pair.method, pair.protocol)] = matrix_table.Entry(pair.method, pair.protocol, reason, tuple(records))
    columns = []
    for name in request.protocols:
        protocol = protocols.load(name)
        columns.append(matrix_table.Column(protocol.name, protocol.task, metric or protocol.primary))
    return matrix_table.build(list(request.methods), columns, {(m, protocols.load(p).name): e
                                                              for (m, p), e in entries.items()})


def checked_request(args: argparse.Namespace) -> Request:
    """``bench matrix``'s arguments as a Request, every name and value checked before any data is read.

    A name no method, dataset or metric has, a preset no method has, a fold no protocol makes, a
    bad budget or seed is a one-line error (with the closest valid name); each is then used once.
    """
    methods = tuple(dict.fromkeys(args.methods or registry.methods.names()))
    for name in methods:
        if name not in registry.methods.names():
            raise PluginError(unknown("method", name, registry.methods.names()) + " (--methods)")
    for name in args.datasets or ():
        if name not in registry.datasets.names():
            raise PluginError(unknown("dataset", name, registry.datasets.names()) + " (--datasets)")
    if args.metric:
        metrics.get(args.metric)
    presets = {preset for name in methods for preset in _presets(name)}
    if args.preset not in presets:
        raise ConfigError(unknown("preset", args.preset, presets) + f" (of methods {', '.join(methods)})")
    budget.parse(args.budget)
    values.check_seeds(args.seed or (), "--seed")
    values.check_output_dir(args.out, "--out")
    names = protocol_names(args.protocols, args.datasets)
    folds = None
    if args.fold and args.fold != ["all"]:
        made = {fold for name in names for fold in _fold_names(name)}
        for fold in args.fold:
            if (f"fold{int(fold)}" if fold.isdigit() else fold) not in made:
                raise ConfigError(f"--fold {fold}: none of the protocols makes it; they have {', '.join(sorted(made))}")
        folds = tuple(dict.fromkeys(args.fold))  # as given (the matrix's name hashes them); plans use each once
    return Request(methods=methods, protocols=names, preset=args.preset, overrides=config.parse_overrides(args.set),
                   budget=args.budget, regime=args.regime, folds=folds, seeds=values.unique_seeds(args.seed),
                   out=Path(args.out), precision=args.precision, fast=args.fast)


def _presets(method: str) -> list[str]:
    try:
        return list(registry.methods.get(method).presets)
    except PluginError:  # a plugin that fails to load: its pair says why
        return []


def _fold_names(protocol: str) -> list[str]:
    loaded = protocols.load(protocol)
    return splits.fold_names(loaded.split, loaded.split_where)


def matrix_command(args: argparse.Namespace) -> int:
    """``bench matrix``: compatibility, then the grid through the launcher, then the table and heat-map."""
    request = checked_request(args)
    profile = executors.load_profile(args.profile or "default")
    found = pairs(request)
    cells, failed = expand(request, found)
    print(compatibility_table(found, failed))
    print()
    grid = Grid(path=Path(request.name()), name=request.name(), methods=request.methods,
                protocols=request.protocols, folds=request.folds, seeds=request.seeds, preset=request.preset,
                overrides=(request.overrides,), modalities=None, profile=None)
    entries = executors.read_index(request.out, grid)
    statuses = executors.statuses_of(cells, entries)
    todo = [c for c in cells if statuses[c.key].state in ("failed", "missing")]
    print(f"{grid.name}: {len(cells)} cells: {len(cells) - len(todo)} done or running, {len(todo)} to run; "
          f"launcher {args.launcher}, profile {profile.name}")
    if args.dry_run:
        print(executors.dry_run(todo, profile, args.launcher, request.out))
        print()
        print(matrix_table.render(result_grid(request, found, failed, cells, args.metric), args.format))
        return 0
    failures = 0
    if todo:
        if args.launcher == "slurm":
            jobs = executors.submit_slurm(grid, todo, profile, request.out, entries)
            if not args.wait:
                print("the table fills in as the jobs finish: run the same command again to see it")
                return 0
            finished = executors.follow(jobs, entries)
        elif args.launcher == "local":
            finished = executors.run_local(grid, todo, profile, request.out, entries)
        else:
            finished = executors.run_debug(grid, todo, profile, request.out, entries)
        failures = sum(status.state != "done" for status in finished.values())
    table = result_grid(request, found, failed, cells, args.metric)
    print()
    print(matrix_table.render(table, args.format))
    png = executors.grid_dir(request.out, grid) / PNG_NAME
    io.write_bytes(png, matrix_table.png(table, f"{grid.name}: preset {request.preset}, budget "
                                                f"{request.budget or 'paper'}"))
    print(f"\nheat-map: {png}")
    return 1 if failures else 0
