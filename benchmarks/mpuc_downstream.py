"""One MPUC downstream epoch on real RAVDESS audio: features from the warm cache vs re-decoding.

Same model (``mpuc_supervised``, preset ``unimodal_acoustics``: the acoustic TCN and its
``fc + ReLU + fc`` head, the supervised unimodal-acoustics baseline of Table I), same clips,
same seed, same batch size, measured side by side in one process:

- ``warm cache``: ``prepare`` over a cache that already holds every clip's log-mel
  (``audio_logmel_mpuc``), then one epoch from :class:`~bench.data.prepare.ArrayDataset`
  (memory-mapped entries, MPUC's random crop per item) — what ``bench run`` does;
- ``re-decode``: one epoch whose items decode the Opus file, resample it and compute the
  log-mel again for every item (the transform's ``run`` then ``sample``), i.e. no cache.

The cache is filled (and timed, as ``cold prepare``) before either is measured. Prints
seconds per variant and the ratio re-decode / warm cache, for the whole epoch (data + model
steps) and for the data path alone (the same loaders iterated without a model). Skips cleanly (exit 0) when the
audio is not there. Run: ``python benchmarks/mpuc_downstream.py [--clips N] [--data-root DIR]``.
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch

from bench import config, registry
from bench.data.cache import Cache
from bench.data.item_rngs import item_rng
from bench.data.prepare import ArrayDataset, labels_array, prepare, to_model_input
from bench.data.catalog import get_transform
from bench_methods.mpuc import MPUCSupervised

DEFAULT_ROOT = Path(__file__).resolve().parents[2] / "shared" / "data" / "ravdess"


class Redecoding(torch.utils.data.Dataset):
    """Items whose audio is decoded and turned into log-mel on every access (no cache)."""

    def __init__(self, transform: Any, paths: list[Path], labels: np.ndarray) -> None:
        self.transform, self.paths, self.labels = transform, paths, labels

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, row: int) -> dict[str, Any]:
        stored = self.transform.run(self.paths[row]).array
        item = self.transform.sample(stored, True, item_rng(0, 0, row))
        return {"audio": to_model_input("audio", item), "label": torch.as_tensor(self.labels[row]), "index": row}


def one_epoch(method: Any, cfg: Any, task: Any, shapes: dict, loader: torch.utils.data.DataLoader) -> float:
    """Seconds for one Lightning epoch of a fresh, seeded module over ``loader``."""
    L.seed_everything(0, verbose=False)
    module = method.build(task, cfg, shapes)
    module.start_stage("supervised")
    trainer = L.Trainer(max_epochs=1, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False, accelerator="cpu", num_sanity_val_steps=0)
    tic = time.perf_counter()
    trainer.fit(module, loader)
    return time.perf_counter() - tic


def data_only(loader: torch.utils.data.DataLoader) -> float:
    """Seconds to iterate ``loader`` once without a model: the data path alone."""
    tic = time.perf_counter()
    for _ in loader:
        pass
    return time.perf_counter() - tic


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-root", type=Path, default=DEFAULT_ROOT)
    parser.add_argument("--clips", type=int, default=480, help="clips per epoch (first N by recording key)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (one is fastest on a shared CPU)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    for name in ("lightning.pytorch", "lightning.fabric"):
        logging.getLogger(name).setLevel(logging.WARNING)
    if not args.data_root.is_dir():
        print(f"skipped: no RAVDESS audio at {args.data_root}")
        return 0
    adapter = registry.datasets.get("ravdess")(args.data_root)
    samples = [s for s in adapter.samples() if "audio" in s.sources][: args.clips]
    if not samples:
        print(f"skipped: no RAVDESS audio files under {args.data_root}")
        return 0
    method_cls = MPUCSupervised
    method = method_cls()
    cfg = config.resolve(method_cls.Config, method_cls.presets, "unimodal_acoustics", {}, method_cls.name)
    task = adapter.task_spec()
    labels = labels_array(samples, task)
    specs = method.inputs(cfg, ["audio"])
    with tempfile.TemporaryDirectory() as tmp:
        cache = Cache(Path(tmp))
        tic = time.perf_counter()
        prepare(samples, specs, cache)
        cold = time.perf_counter() - tic
        tic = time.perf_counter()
        prepared = prepare(samples, specs, cache)
        warm_prepare = time.perf_counter() - tic
        cached = ArrayDataset(prepared, labels, list(range(len(samples))), train=True)
        warm = warm_prepare + one_epoch(method, cfg, task, prepared.shapes,
                                        cached.loader(cfg.batch_size, shuffle=True, seed=0))
        warm_data = warm_prepare + data_only(cached.loader(cfg.batch_size, shuffle=True, seed=0))
    redecode = Redecoding(get_transform(specs["audio"]), [s.sources["audio"] for s in samples], labels)

    def redecode_loader() -> torch.utils.data.DataLoader:
        return torch.utils.data.DataLoader(redecode, batch_size=cfg.batch_size, shuffle=True,
                                           generator=torch.Generator().manual_seed(0))

    fresh = one_epoch(method, cfg, task, prepared.shapes, redecode_loader())
    fresh_data = data_only(redecode_loader())
    print(f"{len(samples)} RAVDESS clips, batch {cfg.batch_size}, torch threads {torch.get_num_threads()}")
    print(f"cold prepare (decode + log-mel into the cache): {cold:8.2f} s")
    print(f"warm cache  (prepare hits + one epoch):         {warm:8.2f} s   (prepare {warm_prepare:.2f} s)")
    print(f"re-decode   (one epoch decoding every item):    {fresh:8.2f} s")
    print(f"ratio re-decode / warm cache: {fresh / warm:.2f}x (whole epoch)")
    print(f"data path alone: warm cache {warm_data:.2f} s, re-decode {fresh_data:.2f} s, "
          f"ratio {fresh_data / warm_data:.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
