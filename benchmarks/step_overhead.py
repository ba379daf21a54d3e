"""Per-step overhead of bench's training path against hand-written PyTorch loops.

Same model (late_fusion, paper preset), same prepared synthetic data (fold 1 of
``synthetic_5fold``, its training side), same seed and batch size, in one process:

- ``bench``: :func:`bench.running.training.fit`, the code path ``bench run`` trains a cell with
  (Lightning Trainer, the epoch sampler, history/selection/epoch-state callbacks, the
  checkpoint written after an epoch at most every ``$BENCH_CHECKPOINT_EVERY_S`` seconds, 30 by
  default; ``--checkpoint-every 0`` writes one after every epoch);
- ``loop, same loader``: ``for batch in loader: loss.backward(); opt.step()`` over the very
  loader ``bench`` builds (:func:`bench.data.prepare.train_loader`), so the difference is
  Lightning and bench's callbacks;
- ``loop, stacked tensors``: the fastest loop a person would write, slicing tensors stacked
  once with a random permutation (no Dataset, no collate), so the data path shows too.

Epochs are paired: at the start of each of bench's epochs (its module's ``on_train_epoch_start``
hook) each loop trains one epoch of its own model, so the three variants alternate epoch by epoch
and a slow spell of the machine (on a shared virtual machine they last seconds) hits all three
alike. An epoch's cost is the CPU time (of this process, one intra-op thread) between the starts
of two consecutive epochs, the loops' epochs taken out of bench's, so every per-epoch cost
(sampler, reseeding, history, selection, checkpoint) is in it and every one-off cost (Trainer
construction, teardown) is not; the first epoch of each fit (warm-up) is left out. Per repeat (a
fresh fit of E epochs), the ratio bench / loop is the median over its paired epochs and the
per-step time the median epoch over the steps per epoch; the report gives their median [min, max]
over the repeats, with the load average before and after. The checkpoint clock is wall time, which
here includes the loops' epochs, so checkpoints come about three times sooner than in ``bench run``.
Run: ``OMP_NUM_THREADS=1 python benchmarks/step_overhead.py --repeats 7``; results in REPRODUCE.md.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import tempfile
import time
from collections.abc import Iterator
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
BENCH = "bench (training.fit)"
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


def loop_epochs(plan: Plan, prepared: Prepared, labels: training.CellLabels, index: dict[str, list[int]],
                stacked: bool) -> Iterator[float]:
    """A plain loop over the training side, one epoch per ``next()``: yields each epoch's CPU seconds."""
    L.seed_everything(SEED, verbose=False)
    module = plan.method.build(plan.task, plan.cfg, prepared.shapes)
    optimizer = module.configure_optimizers()
    dataset = ArrayDataset(prepared, labels.train, index["train"], train=True)
    loader = train_loader(dataset, plan.cfg.batch_size, SEED, 0)
    batch_size = plan.cfg.batch_size
    full = dataset.__getitems__(list(range(len(dataset)))) if stacked else None
    generator = torch.Generator().manual_seed(SEED)
    module.train()
    for epoch in range(plan.cfg.epochs):
        tic = _clock()
        if full is not None:
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
        yield _clock() - tic


class _PairedEpochs:
    """Installed as bench's module's ``on_train_epoch_start``: marks the start of bench's epoch after
    running one epoch of each loop, so bench's epochs and the loops' alternate."""

    def __init__(self, module: Any, loops: dict[str, Iterator[float]]) -> None:
        self.loops = loops
        self.own_hook = module.on_train_epoch_start
        self.paused: list[tuple[float, float]] = []  # (entered, left) of each call: the loops ran in between
        self.loop_s: dict[str, list[float]] = {name: [] for name in loops}

    def __call__(self) -> None:
        entered = _clock()
        for name, loop in self.loops.items():
            self.loop_s[name].append(next(loop))
        self.paused.append((entered, _clock()))
        self.own_hook()

    def bench_s(self) -> list[float]:
        """bench's epochs but the last (whose end has no mark), the loops' time taken out."""
        return [start - left for (_, left), (start, _) in zip(self.paused, self.paused[1:])]


def paired_fit(plan: Plan, prepared: Prepared, labels: training.CellLabels, index: dict[str, list[int]],
               checkpoint: Path) -> dict[str, list[float]]:
    """CPU seconds of each epoch but the last of one :func:`bench.running.training.fit` of the plan's
    cell (a fresh one: nothing is resumed) and of the two loops' epochs run alongside it."""
    loops = {name: loop_epochs(plan, prepared, labels, index, stacked)
             for name, stacked in (("loop, same loader", False), ("loop, stacked tensors", True))}
    L.seed_everything(SEED, verbose=False)
    module = plan.method.build(plan.task, plan.cfg, prepared.shapes)
    pairing = _PairedEpochs(module, loops)
    module.on_train_epoch_start = pairing
    by_id = {s.id: s for s in plan.samples}
    test = training.TestSplit(prepared, index["test"], plan.folds[0].name, [by_id[i] for i in plan.folds[0].test],
                              plan.task)
    checkpoint.unlink(missing_ok=True)
    training.fit(plan, plan.cell_key(plan.folds[0].name, SEED), module, prepared, labels, index, test, None,
                 checkpoint)
    epochs = len(pairing.paused) - 1
    return {BENCH: pairing.bench_s(), **{name: times[:epochs] for name, times in pairing.loop_s.items()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=16, help="E, the epochs of each repeat's fit")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--checkpoint-every", type=float, default=None, metavar="SECONDS",
                        help="set $BENCH_CHECKPOINT_EVERY_S for the bench variant (default: as the environment has it)")
    args = parser.parse_args()
    if args.epochs < 3:
        parser.error("--epochs: at least 3 (the first epoch is warm-up, the last has no end mark)")
    if args.checkpoint_every is not None:
        os.environ[values.CHECKPOINT_EVERY_VARIABLE] = str(args.checkpoint_every)
    load_before = os.getloadavg()
    step_ms: dict[str, list[float]] = {}
    ratios: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory() as cache_dir:
        plan = _plan(args.epochs, Path(cache_dir))
        data = _data(plan)
        steps = math.ceil(len(data[2]["train"]) / plan.cfg.batch_size)
        for _ in range(args.repeats):
            epochs = {name: times[1:] for name, times in paired_fit(plan, *data, Path(cache_dir) / "cell.ckpt").items()}
            for name, times in epochs.items():
                step_ms.setdefault(name, []).append(1e3 * statistics.median(times) / steps)
                ratios.setdefault(name, []).append(statistics.median(
                    b / t for b, t in zip(epochs[BENCH], times, strict=True)))
    load_after = os.getloadavg()
    print(f"late_fusion (paper preset), {len(data[2]['train'])} training clips, batch {plan.cfg.batch_size}, "
          f"{steps} steps/epoch, {args.repeats} repeats of {args.epochs} paired epochs ({args.epochs - 2} timed), "
          f"{torch.get_num_threads()} intra-op thread(s), {os.cpu_count()} CPUs, "
          f"checkpoints at most every {values.checkpoint_every_s():g} s")
    print(f"load average (1, 5, 15 min): before {', '.join(f'{x:.1f}' for x in load_before)}; "
          f"after {', '.join(f'{x:.1f}' for x in load_after)}")
    print(f"  {'variant':24s} {'CPU ms/step median [min, max]':>28s}   {'bench/this median [min, max]':>30s}")
    for name, ms in step_ms.items():
        print(f"  {name:24s} {statistics.median(ms):10.2f} [{min(ms):6.2f}, {max(ms):6.2f}]   "
              f"{statistics.median(ratios[name]):12.3f} [{min(ratios[name]):.3f}, {max(ratios[name]):.3f}]")


if __name__ == "__main__":
    main()
