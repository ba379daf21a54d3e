"""One training epoch of MPUC's acoustic baseline on real RAVDESS log-mels, under each speed setting.

The model is ``mpuc_unimodal --preset acoustics_code`` (TCN on 128-bin, 30 fps log-mel, 90-frame
crops, batch 32, SGD); each variant trains a freshly seeded copy for one epoch over the same
clips in a plain loop (forward, cross-entropy, backward, SGD step), measured side by side in one
process, the variants interleaved, ``--repeats`` times:

- ``baseline``: the TCN as bench computed it before commit 51a79e4 (gLN written out as mean,
  variance and affine; ``nn.PReLU``; the depth-wise conv as a grouped ``Conv1d``),
  ``torch.use_deterministic_algorithms(True)`` (what ``bench run``'s ``Trainer(deterministic=True)``
  sets), one thread, batches sampled per item from the cached arrays
  (:class:`~bench.data.prepare.ArrayDataset`);
- ``1 thread``: the same with today's TCN (gLN as one-group ``group_norm``, PReLU as a difference
  of ReLUs, the depth-wise conv as shifted sums: the same function and gradients);
- ``not deterministic``: today's TCN without deterministic algorithms;
- ``2 threads``: today's TCN, deterministic, two intra-op threads;
- ``2 threads, pre-stacked``: batches cut from one padded tensor of all clips
  (:func:`~bench_methods.mpuc.module.take_crop`) instead of per-item sampling.

Prints per variant the median epoch seconds, wall and process CPU, and against ``baseline`` the
median speed-up with its min and max over the repeats, and the load average before and after.
On a shared, overloaded machine the wall times mostly measure waiting for a core (and two
threads then lose: each waits for the other); the CPU time of the one-thread variants still
measures their work. ``--max-threads 1`` skips the two-thread variants. Run:
``python benchmarks/mpuc_acoustic_epoch.py [--clips N] [--repeats R] [--max-threads 1]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import types
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch

from bench import config, registry
from bench.data.cache import default_cache
from bench.data.prepare import ArrayDataset, labels_array, prepare
from bench_methods.mpuc import MPUCUnimodal
from bench_methods.mpuc.module import take_crop
from bench_methods.mpuc.tcn import DepthwiseConv1d, GlobalLayerNorm, PReLU

DEFAULT_ROOT = Path(__file__).resolve().parents[2] / "shared" / "data" / "ravdess"


def stacked_batches(prepared: Any, labels: np.ndarray, batch: int, crop: int, seed: int
                    ) -> Callable[[], Iterator[dict[str, torch.Tensor]]]:
    """Batches cut from one zero-padded tensor of every clip: a random crop start per clip inside its length."""
    arrays = [np.array(a) for a in prepared.arrays["audio"]]  # copies: the cache maps entries read-only
    lengths = torch.tensor([len(a) for a in arrays])
    padded = torch.zeros(len(arrays), int(lengths.max()), arrays[0].shape[1])
    for i, a in enumerate(arrays):
        padded[i, : len(a)] = torch.from_numpy(a)
    targets = torch.as_tensor(labels)

    def epoch() -> Iterator[dict[str, torch.Tensor]]:
        g = torch.Generator().manual_seed(seed)
        order = torch.randperm(len(arrays), generator=g)
        for rows in order.split(batch):
            room = (lengths[rows] - crop).clamp(min=0) + 1
            starts = (torch.rand(len(rows), generator=g) * room).long()
            yield {"audio": take_crop(padded[rows], starts, crop), "label": targets[rows]}
    return epoch


def _written_out_gln(norm: GlobalLayerNorm, x: torch.Tensor) -> torch.Tensor:
    mean = x.mean(dim=(1, 2), keepdim=True)
    var = (x - mean).pow(2).mean(dim=(1, 2), keepdim=True)
    return norm.gain * (x - mean) / (var + norm.eps).sqrt() + norm.bias


def as_before(module: torch.nn.Module) -> None:
    """Give the TCN's layers the computation they had before commit 51a79e4 (same parameters)."""
    for layer in module.modules():
        if isinstance(layer, GlobalLayerNorm):
            layer.forward = types.MethodType(_written_out_gln, layer)
        elif isinstance(layer, DepthwiseConv1d):
            layer.forward = types.MethodType(torch.nn.Conv1d.forward, layer)
        elif isinstance(layer, PReLU):
            layer.forward = types.MethodType(torch.nn.PReLU.forward, layer)


def train_epoch(method: Any, cfg: Any, task: Any, shapes: dict, batches: Iterator[dict[str, torch.Tensor]],
                before: bool) -> tuple[float, float]:
    """Wall and process-CPU seconds for one epoch of a freshly seeded model over ``batches`` in a plain loop."""
    L.seed_everything(0, verbose=False)
    module = method.build(task, cfg, shapes)
    if before:
        as_before(module)
    module.train()
    opt = torch.optim.SGD(module.parameters(), lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    tic, cpu = time.perf_counter(), time.process_time()
    for batch in batches:
        starts = torch.zeros(batch["audio"].shape[0], dtype=torch.long)
        loss = module.loss_fn(module.classify(module.features(batch, starts)), batch["label"])
        opt.zero_grad()
        loss.backward()
        opt.step()
    return time.perf_counter() - tic, time.process_time() - cpu


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-root", type=Path, default=DEFAULT_ROOT / "audio_speech_16k_opus")
    parser.add_argument("--clips", type=int, default=320, help="clips per epoch (first N by recording key)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--max-threads", type=int, default=2, help="1: only the one-thread variants")
    args = parser.parse_args()
    if not args.data_root.is_dir():
        print(f"skipped: no RAVDESS audio at {args.data_root}")
        return 0
    adapter = registry.datasets.get("ravdess")(args.data_root)
    samples = [s for s in adapter.samples() if "audio" in s.sources][: args.clips]
    method = MPUCUnimodal()
    cfg = config.resolve(MPUCUnimodal.Config, MPUCUnimodal.presets, "acoustics_code", {}, MPUCUnimodal.name)
    task = adapter.task_spec()
    labels = labels_array(samples, task)
    prepared = prepare(samples, method.inputs(cfg, ["audio"]), default_cache())
    dataset = ArrayDataset(prepared, labels, list(range(len(samples))), train=True)
    stacked = stacked_batches(prepared, labels, cfg.batch_size, cfg.crop_frames, seed=0)

    def items() -> Iterator[dict[str, torch.Tensor]]:
        return iter(dataset.loader(cfg.batch_size, shuffle=True, seed=0))

    variants: list[tuple[str, int, bool, bool, Callable[[], Iterator[dict[str, torch.Tensor]]]]] = [
        ("baseline (TCN before 51a79e4)", 1, True, True, items),
        ("1 thread", 1, True, False, items),
        ("not deterministic", 1, False, False, items),
        ("2 threads", 2, True, False, items),
        ("2 threads, pre-stacked", 2, True, False, stacked),
    ]
    variants = [v for v in variants if v[1] <= args.max_threads]
    load_before = os.getloadavg()
    times: dict[str, list[tuple[float, float]]] = {name: [] for name, *_ in variants}
    for _ in range(args.repeats):
        for name, threads, deterministic, before, batches in variants:
            torch.set_num_threads(threads)
            torch.use_deterministic_algorithms(deterministic)
            times[name].append(train_epoch(method, cfg, task, prepared.shapes, batches(), before))
    torch.use_deterministic_algorithms(False)
    load_after = os.getloadavg()
    steps = -(-len(samples) // cfg.batch_size)
    print(f"{len(samples)} RAVDESS clips ({steps} steps of {cfg.batch_size}), 128-bin 30 fps log-mel, "
          f"{args.repeats} repeats; load average (1, 5, 15 min) before {load_before}, after {load_after}")
    for clock, which in (("wall", 0), ("process CPU", 1)):
        print(f"{clock} seconds per epoch (CPU time sums the threads: it measures work, not waiting)")
        base = [t[which] for t in times[variants[0][0]]]
        for name, *_ in variants:
            mine = [t[which] for t in times[name]]
            ratios = [b / t for b, t in zip(base, mine, strict=True)]
            print(f"  {name:38s} median {statistics.median(mine):7.2f} s   speed-up vs baseline: "
                  f"median {statistics.median(ratios):.2f}x (min {min(ratios):.2f}, max {max(ratios):.2f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
