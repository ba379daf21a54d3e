"""Per-step overhead of bench's training path against hand-written PyTorch loops.

Same model (late_fusion, paper preset), same prepared synthetic data (fold 1 of
``synthetic_5fold``, its training side), same seed and batch size, in one process:

- ``bench``: :func:`bench.running.training.fit`, the code path ``bench run`` trains a cell with
  (Lightning Trainer, the epoch sampler, history/selection/epoch-state callbacks, the
  checkpoint written after an epoch at most every ``$BENCH_CHECKPOINT_EVERY_S`` seconds, 30 by
  default: none in fits this short; ``--checkpoint-every 0`` writes one after every epoch);
- ``loop, same loader``: ``for batch in loader: loss.backward(); opt.step()`` over the very
  loader ``bench`` builds (:func:`bench.data.prepare.train_loader`), so the difference is
  Lightning and bench's callbacks;
- ``loop, stacked tensors``: the fastest loop a person would write, slicing tensors stacked
  once with a random permutation (no Dataset, no collate), so the data path shows too.

Each variant trains E epochs and 1 epoch; its steady-state time per step is
``(T(E) - T(1)) / ((E - 1) · steps per epoch)``, which leaves out every one-off cost (Trainer
construction, first-epoch warm-up); T is the CPU time of this process (one intra-op thread), which
other jobs on a shared machine disturb less than wall time. Repeats are interleaved (every variant once per
repeat, the first of one repeat last in the next, so none always runs first), and the ratio bench / loop is
taken per repeat and reported as median [min, max] over the repeats, with the load average before and after.
E is 16 by default: with 6 (30 steps per estimate) single repeats spread about ±15 % on an idle machine. Run:
``OMP_NUM_THREADS=1 python benchmarks/step_overhead.py --repeats 7``; results in REPRODUCE.md.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import lightning as L
import torch

from bench.data.cache import Cache
from bench.data.prepare import (
    ArrayDataset,
    Prepared,
    prepare,
    train_loader,
)
from bench.running import training, values
from bench.running.planning import Plan, RunRequest, make_plan

SEED = 0
_clock = time.process_time  # CPU seconds of this process: on a shared machine, less of other jobs' load than wall time


def _plan(epochs: int, cache: Path) -> Plan:
    return make_plan(RunRequest("late_fusion", "synthetic_5fold", folds=["1"], seeds=[SEED],
                                overrides={"epochs": epochs}, progress=False, cache_root=cache))


def _data(plan: Plan) -> tuple[Prepared, training.CellLabels, dict[str, list[int]]]:
    split = plan.folds[0]
    used = [s for s in plan.samples if s.id in {*split.train, *split.val, *split.test}]
    prepared = prepare(used, plan.method.inputs(plan.cfg, plan.modalities), Cache(plan.request.cache_root),
                       progress=False)
    by_id = {s.id: s for s in plan.samples}
    labels = training.CellLabels.of(by_id, split.train, split.val, plan.task)
    position = {sid: i for i, sid in enumerate(prepared.ids)}
    index = {side: [position[i] for i in getattr(split, side)] for side in ("train", "val", "test")}
    return prepared, labels, index


def bench_fit(plan: Plan, prepared: Prepared, labels: training.CellLabels, index: dict[str, list[int]],
              checkpoint: Path) -> float:
    """CPU seconds of one :func:`bench.running.training.fit` of the plan's cell, saving its checkpoint after
    every epoch as ``bench run`` does (a fresh one: nothing is resumed)."""
    L.seed_everything(SEED, verbose=False)
    module = plan.method.build(plan.task, plan.cfg, prepared.shapes)
    by_id = {s.id: s for s in plan.samples}
    test = training.TestSplit(prepared, index["test"], plan.folds[0].name, [by_id[i] for i in plan.folds[0].test],
                              plan.task)
    checkpoint.unlink(missing_ok=True)
    tic = _clock()
    training.fit(plan, plan.cell_key(plan.folds[0].name, SEED), module, prepared, labels, index, test, None,
                 checkpoint)
    return _clock() - tic


def loop_fit(plan: Plan, prepared: Prepared, labels: training.CellLabels, index: dict[str, list[int]],
             stacked: bool) -> float:
    """CPU seconds of a plain loop over the same training side for the plan's epochs."""
    L.seed_everything(SEED, verbose=False)
    module = plan.method.build(plan.task, plan.cfg, prepared.shapes)
    optimizer = module.configure_optimizers()
    dataset = ArrayDataset(prepared, labels.train, index["train"], train=True)
    loader = train_loader(dataset, plan.cfg.batch_size, SEED, 0)
    batch_size = plan.cfg.batch_size
    tic = _clock()
    if stacked:
        full = dataset.__getitems__(list(range(len(dataset))))
        generator = torch.Generator().manual_seed(SEED)
    module.train()
    for epoch in range(plan.cfg.epochs):
        if stacked:
            order = torch.randperm(len(dataset), generator=generator)
            batches: Any = ({k: v[order[i:i + batch_size]] for k, v in full.items()}
                            for i in range(0, len(dataset), batch_size))
        else:
            loader.sampler.set_epoch(epoch)
            batches = loader
        for batch in batches:
            optimizer.zero_grad()
            loss = module.loss_fn(module(batch), batch["label"])
            loss.backward()
            optimizer.step()
    return _clock() - tic


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=16, help="E (the long fit; the short one is 1 epoch)")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--checkpoint-every", type=float, default=None, metavar="SECONDS",
                        help="set $BENCH_CHECKPOINT_EVERY_S for the bench variant (default: as the environment has it)")
    args = parser.parse_args()
    if args.checkpoint_every is not None:
        os.environ[values.CHECKPOINT_EVERY_VARIABLE] = str(args.checkpoint_every)
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as cache_dir:
        plans = {e: _plan(e, Path(cache_dir)) for e in (args.epochs, 1)}
        data = _data(plans[1])
        steps = math.ceil(len(data[2]["train"]) / plans[1].cfg.batch_size)
        variants: dict[str, Callable[[Plan], float]] = {
            "bench (training.fit)": lambda plan: bench_fit(plan, *data, Path(cache_dir) / "cell.ckpt"),
            "loop, same loader": lambda plan: loop_fit(plan, *data, stacked=False),
            "loop, stacked tensors": lambda plan: loop_fit(plan, *data, stacked=True),
        }
        per_step: dict[str, list[float]] = {name: [] for name in variants}
        names = list(variants)
        for repeat in range(args.repeats):  # interleaved, so drift in the machine's load hits every variant alike
            for name in names[repeat % len(names):] + names[:repeat % len(names)]:
                long, short = variants[name](plans[args.epochs]), variants[name](plans[1])
                per_step[name].append((long - short) / ((args.epochs - 1) * steps))
    load_after = os.getloadavg()
    bench = next(iter(variants))
    print(f"late_fusion (paper preset), {len(data[2]['train'])} training clips, batch {plans[1].cfg.batch_size}, "
          f"{steps} steps/epoch, {args.epochs} vs 1 epochs, {args.repeats} interleaved repeats, "
          f"{torch.get_num_threads()} intra-op thread(s), {os.cpu_count()} CPUs, "
          f"checkpoints at most every {values.checkpoint_every_s():g} s")
    print(f"load average (1, 5, 15 min): before {', '.join(f'{x:.1f}' for x in load_before)}; "
          f"after {', '.join(f'{x:.1f}' for x in load_after)}")
    print(f"  {'variant':24s} {'CPU ms/step median [min, max]':>28s}   {'bench/this median [min, max]':>30s}")
    for name in variants:
        ms = [1e3 * t for t in per_step[name]]
        ratios = [b / t for b, t in zip(per_step[bench], per_step[name], strict=True)]
        print(f"  {name:24s} {statistics.median(ms):10.2f} [{min(ms):6.2f}, {max(ms):6.2f}]   "
              f"{statistics.median(ratios):12.3f} [{min(ratios):.3f}, {max(ratios):.3f}]")


if __name__ == "__main__":
    main()
