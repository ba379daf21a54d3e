"""Per-step overhead of bench's training path against a hand-written PyTorch loop.

Same model (late_fusion, paper preset), same prepared synthetic data, same seed, same batch
size and number of steps, measured side by side in one process:

- ``harness``: what ``bench run`` does for one stage (ArrayDataset + DataLoader + Lightning
  Trainer configured as in bench.run, with the selection and history callbacks);
- ``loop, same loader``: a plain ``for batch in loader: loss.backward(); opt.step()`` over
  the very same DataLoader, isolating the cost of Lightning and bench's callbacks;
- ``loop, stacked tensors``: the fastest loop a person would write, slicing pre-stacked
  tensors with a random permutation (no Dataset, no collate), so the data path's cost shows.

Each variant trains ``--epochs`` epochs ``--repeats`` times (interleaved). Two medians are
reported per variant: steady-state time per step (epochs 2..E, the per-step overhead) and
whole-fit time per step (including Trainer construction and the first epoch), each with the
ratio harness / variant. Run: ``python benchmarks/step_overhead.py``.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import lightning as L
import torch

from bench import config, registry, training
from bench.api import TaskSpec
from bench.data.cache import Cache
from bench.data.prepare import ArrayDataset, labels_array, prepare
from bench.data.synthetic import SyntheticClassification


def _setup(cache_dir: Path):
    adapter = SyntheticClassification(SyntheticClassification.default_root())
    samples = adapter.samples()
    task: TaskSpec = adapter.task_spec()
    method_cls = registry.methods.get("late_fusion")
    method = method_cls()
    cfg = config.resolve(method_cls.Config, method_cls.presets, "paper", {}, "late_fusion")
    prepared = prepare(samples, method.inputs(cfg, adapter.modalities), Cache(cache_dir))
    labels = labels_array(samples, task)
    return method, cfg, task, prepared, labels


class _SteadyClock(L.Callback):
    """Notes the time when the second epoch starts, so the first epoch's warm-up is excluded."""

    def __init__(self) -> None:
        self.start = 0.0

    def on_train_epoch_start(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        if trainer.current_epoch == 1:
            self.start = time.perf_counter()


def harness_epochs(method, cfg, task, prepared, labels, epochs: int) -> tuple[float, float, int]:
    L.seed_everything(0, verbose=False)
    module = method.build(task, cfg, prepared.shapes)
    index = list(range(len(prepared.ids)))
    loader = ArrayDataset(prepared, labels, index).loader(cfg.batch_size, shuffle=True, seed=0)
    clock = _SteadyClock()
    tic = time.perf_counter()
    with training.quiet_lightning():
        trainer = L.Trainer(max_epochs=epochs, accelerator="cpu", devices=1, logger=False,
                            enable_checkpointing=False, enable_model_summary=False, deterministic=True,
                            num_sanity_val_steps=0, enable_progress_bar=False,
                            callbacks=[training.History("bench", []), clock])
        trainer.fit(module, train_dataloaders=loader)
    toc = time.perf_counter()
    return toc - tic, toc - clock.start, len(loader)


def loop_epochs(method, cfg, task, prepared, labels, epochs: int, stacked: bool) -> tuple[float, float, int]:
    L.seed_everything(0, verbose=False)
    module = method.build(task, cfg, prepared.shapes)
    optimizer = module.configure_optimizers()
    index = list(range(len(prepared.ids)))
    dataset = ArrayDataset(prepared, labels, index)
    loader = dataset.loader(cfg.batch_size, shuffle=True, seed=0)
    if stacked:
        full = dataset.__getitems__(list(range(len(dataset))))
    generator = torch.Generator().manual_seed(0)
    steps = 0
    module.train()
    tic = steady = time.perf_counter()
    for epoch in range(epochs):
        if epoch == 1:
            steady = time.perf_counter()
        if stacked:
            order = torch.randperm(len(dataset), generator=generator)
            batches = ({k: v[order[i:i + cfg.batch_size]] for k, v in full.items()}
                       for i in range(0, len(dataset), cfg.batch_size))
        else:
            batches = iter(loader)
        for batch in batches:
            optimizer.zero_grad()
            loss = module.loss_fn(module(batch), batch["label"])
            loss.backward()
            optimizer.step()
            steps += 1
    toc = time.perf_counter()
    return toc - tic, toc - steady, steps // epochs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as cache_dir:
        setup = _setup(Path(cache_dir))
        variants = {
            "harness (bench.run: Lightning + callbacks)": lambda: harness_epochs(*setup, args.epochs),
            "loop, same loader": lambda: loop_epochs(*setup, args.epochs, stacked=False),
            "loop, stacked tensors": lambda: loop_epochs(*setup, args.epochs, stacked=True),
        }
        whole: dict[str, list[float]] = {name: [] for name in variants}
        steady: dict[str, list[float]] = {name: [] for name in variants}
        for _ in range(args.repeats):  # interleaved, so drift hits every variant alike
            for name, fn in variants.items():
                total_s, steady_s, steps_per_epoch = fn()
                whole[name].append(total_s / (steps_per_epoch * args.epochs))
                steady[name].append(steady_s / (steps_per_epoch * (args.epochs - 1)))
    harness = next(iter(variants))
    print(f"late_fusion (paper preset), {len(setup[3].ids)} clips, batch {setup[1].batch_size}, "
          f"{args.epochs} epochs x {args.repeats} repeats, {torch.get_num_threads()} threads")
    print(f"  {'variant':45s} {'steady ms/step':>15s} {'harness/this':>13s} {'whole-fit ms/step':>18s} {'harness/this':>13s}")
    for name in variants:
        s_med, w_med = statistics.median(steady[name]), statistics.median(whole[name])
        print(f"  {name:45s} {s_med * 1e3:15.2f} {statistics.median(steady[harness]) / s_med:13.3f} "
              f"{w_med * 1e3:18.2f} {statistics.median(whole[harness]) / w_med:13.3f}")


if __name__ == "__main__":
    main()
