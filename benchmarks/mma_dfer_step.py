"""One MMA-DFER training step through bench's harness (Lightning) against a plain PyTorch loop.

Same module (``bench_methods.mma_dfer``), same configuration, same batch (random tensors of the
model's input shapes, labels included), same optimizer, measured side by side in one process:

- ``harness``: a Lightning ``Trainer`` configured as ``bench.running.run`` configures it (deterministic,
  no logger or checkpointing, bench's history callback), fed the batch ``warmup + steps`` times;
- ``plain loop``: ``loss = module.training_step(batch); loss.backward(); optimizer.step()``.

Each variant runs ``--repeats`` times (interleaved); the median time per step after
``--warmup`` steps is reported with the ratio harness / loop. On a GPU (``--device cuda``) it
also reports peak memory, training throughput (clips/s), the projected time of one DFEW fold
(``--clips`` 9,356 training clips x the config's epochs, training only) against the paper's
"about 8 hours on a V100" at 160 px, and the achieved fraction of the GPU's peak matmul
throughput (FLOPs of one step counted by ``torch.utils.flop_counter``; give ``--peak-tflops``,
e.g. 989 for an H100/H200 SXM in dense bf16, 15.7 for a V100 in fp32).

    python benchmarks/mma_dfer_step.py                                  # tiny model, CPU
    python benchmarks/mma_dfer_step.py --preset paper --set img_size=160 --device cuda --bf16 --peak-tflops 989
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import time

import lightning as L
import torch
from _steptiming import RepeatedBatch, StepClock, sync  # noqa: E402 (this folder)
from bench_methods.mma_dfer import MMADFER
from bench_methods.mma_dfer.config import MMADFERConfig
from bench_methods.mma_dfer.module import MMADFERModule, expected_shapes
from torch.utils.flop_counter import FlopCounterMode

from bench import config
from bench.api import TaskSpec
from bench.running import training

PAPER_FOLD_HOURS = 8.0  # §4.2: one fold at 160 px on one V100-32GB


def make_batch(cfg: MMADFERConfig, classes: int, seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    shapes = expected_shapes(cfg)
    return {"video": torch.rand(cfg.batch_size, *shapes["video"], generator=g),
            "audio": torch.randn(cfg.batch_size, *shapes["audio"], generator=g),
            "label": torch.randint(0, classes, (cfg.batch_size,), generator=g),
            "index": torch.arange(cfg.batch_size)}


def build(cfg: MMADFERConfig, task: TaskSpec, device: torch.device) -> MMADFERModule:
    L.seed_everything(0, verbose=False)
    return MMADFERModule(task, cfg, expected_shapes(cfg)).to(device)


def harness(cfg: MMADFERConfig, task: TaskSpec, batch: dict[str, torch.Tensor], device: torch.device,
            warmup: int, steps: int, deterministic: bool = True) -> float:
    module = build(cfg, task, device)
    loader = torch.utils.data.DataLoader(RepeatedBatch(batch, warmup + steps), batch_size=None)
    clock = StepClock(warmup, device)
    with training.quiet_lightning():
        trainer = L.Trainer(max_epochs=1, accelerator="gpu" if device.type == "cuda" else "cpu", devices=1,
                            logger=False, enable_checkpointing=False, enable_model_summary=False,
                            deterministic=deterministic, num_sanity_val_steps=0, enable_progress_bar=False,
                            callbacks=[training.History("supervised", []), clock])
        trainer.fit(module, train_dataloaders=loader)
    return (clock.end - clock.start) / steps


def plain_step(module: MMADFERModule, optimizer: torch.optim.Optimizer, batch: dict[str, torch.Tensor]) -> None:
    optimizer.zero_grad(set_to_none=True)
    module.training_step(batch, 0).backward()
    optimizer.step()


def plain_loop(cfg: MMADFERConfig, task: TaskSpec, batch: dict[str, torch.Tensor], device: torch.device,
               warmup: int, steps: int, deterministic: bool = True) -> float:
    torch.use_deterministic_algorithms(deterministic)  # what Trainer(deterministic=...) sets, for a fair match
    module = build(cfg, task, device).train()
    optimizer = torch.optim.AdamW([p for _, p in module.trainable()], lr=cfg.lr, weight_decay=cfg.weight_decay)
    on_device = {k: v.to(device) for k, v in batch.items()}
    for _ in range(warmup):
        plain_step(module, optimizer, on_device)
    sync(device)
    tic = time.perf_counter()
    for _ in range(steps):
        plain_step(module, optimizer, on_device)
    sync(device)
    return (time.perf_counter() - tic) / steps


def step_flops(cfg: MMADFERConfig, task: TaskSpec, batch: dict[str, torch.Tensor], device: torch.device) -> int:
    module = build(cfg, task, device).train()
    optimizer = torch.optim.AdamW([p for _, p in module.trainable()], lr=cfg.lr)
    counter = FlopCounterMode(display=False)
    with counter:
        plain_step(module, optimizer, {k: v.to(device) for k, v in batch.items()})
    return counter.get_total_flops()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="tiny", choices=sorted(MMADFER.presets))
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="config override")
    parser.add_argument("--device", default="cpu", help="cpu or cuda[:N]")
    parser.add_argument("--bf16", action="store_true", help="bfloat16 autocast (sets bf16=true)")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--classes", type=int, default=7, help="7 = DFEW")
    parser.add_argument("--clips", type=int, default=9356, help="training clips of one fold (DFEW fold 1)")
    parser.add_argument("--peak-tflops", type=float, help="the device's peak matmul TFLOP/s in the used precision")
    parser.add_argument("--nondeterministic", action="store_true",
                        help="Trainer(deterministic=False) in the harness variant (bench.running.run uses True)")
    parser.add_argument("--tf32", action="store_true", help="allow TF32 matmuls on CUDA (fp32 runs)")
    args = parser.parse_args()

    overrides = config.parse_overrides(args.set) | ({"bf16": True} if args.bf16 else {})
    cfg = config.resolve(MMADFERConfig, MMADFER.presets, args.preset, overrides, "mma_dfer")
    device = torch.device(args.device)
    torch.backends.cuda.matmul.allow_tf32 = args.tf32
    task = TaskSpec("classification", tuple(str(i) for i in range(args.classes)))
    batch = make_batch(cfg, args.classes)
    times: dict[str, list[float]] = {"harness (Lightning, as bench.running.run)": [], "plain PyTorch loop": []}
    peaks: dict[str, float] = {}
    for _ in range(args.repeats):  # interleaved, so drift hits both alike
        for name, fn in zip(times, (harness, plain_loop)):
            if device.type == "cuda":
                torch.cuda.empty_cache()
                torch.cuda.reset_peak_memory_stats(device)
            times[name].append(fn(cfg, task, batch, device, args.warmup, args.steps, not args.nondeterministic))
            if device.type == "cuda":
                peaks[name] = max(peaks.get(name, 0.0), torch.cuda.max_memory_allocated(device) / 2**30)

    changed = {k: v for k, v in dataclasses.asdict(cfg).items() if v != getattr(MMADFERConfig(), k)}
    where = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU, {torch.get_num_threads()} threads"
    print(f"mma_dfer preset {args.preset} {changed or ''}")
    print(f"batch {cfg.batch_size} clips x {cfg.num_frames} frames at {cfg.img_size} px, {where}, "
          f"{args.steps} steps after {args.warmup} warm-up, {args.repeats} repeats")
    loop = statistics.median(times["plain PyTorch loop"])
    for name, values in times.items():
        step = statistics.median(values)
        memory = f"  peak {peaks[name]:.2f} GiB" if name in peaks else ""
        print(f"  {name:36s} {step * 1e3:10.2f} ms/step  {step / loop:6.3f}x loop  "
              f"{cfg.batch_size / step:8.1f} clips/s{memory}")
    harness_step = statistics.median(times["harness (Lightning, as bench.running.run)"])
    hours = args.clips * cfg.epochs / (cfg.batch_size / harness_step) / 3600
    print(f"projected training time of one fold ({args.clips} clips x {cfg.epochs} epochs): {hours:.2f} h "
          f"(paper: ~{PAPER_FOLD_HOURS:.0f} h at 160 px on a V100)")
    flops = step_flops(cfg, task, batch, device)
    achieved = flops / loop / 1e12
    share = (f", {achieved / args.peak_tflops:.1%} of the given peak {args.peak_tflops} TFLOP/s"
             if args.peak_tflops else "")
    print(f"FLOPs per training step {flops / 1e12:.3f} TFLOP -> {achieved:.2f} TFLOP/s in the plain loop{share}")


if __name__ == "__main__":
    main()
