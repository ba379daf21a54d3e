"""One AVCE training iteration (both passes of Algorithm 1) through bench's harness against a plain PyTorch loop.

Same network (``bench_methods.avce``, preset ``--preset``, default ``tiny``: the quarter-width
AlexNet), same batch (random images at the preset's ``resize``, labels in [-1, 1]), same
optimisers and per-iteration schedules, measured side by side in one process:

- ``harness``: ``AVCEModule`` (Lightning manual optimisation) under a ``Trainer`` configured as
  ``bench.running.run`` configures it (deterministic, no logger or checkpointing, bench's history
  callback), fed the batch ``warmup + steps`` times;
- ``plain loop``: the two passes written out by hand — pass 1 ``L_main`` → Adam (E, C, R) + SGD
  (H), pass 2 ``L_dis`` → Adam (E, C) + SGD (H1), the schedulers stepped — on the same modules,
  with the same crop/normalise pipeline, no Lightning.

Each variant runs ``--repeats`` times (interleaved); the median time per iteration after
``--warmup`` iterations is printed with the ratio harness / loop, and on CUDA the projected
training time of the paper's 50K (AFEW-VA) and 100K (Aff-Wild) iterations.

    python benchmarks/avce_step.py                        # tiny AlexNet, CPU
    python benchmarks/avce_step.py --preset paper --device cuda
"""

from __future__ import annotations

import argparse
import statistics
import time

import lightning as L
import torch
from _steptiming import RepeatedBatch, StepClock, sync  # noqa: E402 (this folder)
from bench_methods.avce import AVCE, augment
from bench_methods.avce.config import AVCEConfig
from bench_methods.avce.losses import dis_loss, main_loss
from bench_methods.avce.module import AVCEModule
from bench_methods.avce.views import softmax_view, sparsemax

from bench import config
from bench.api import TaskSpec
from bench.running import training

TASK = TaskSpec("regression", ("valence", "arousal"))


def make_batch(cfg: AVCEConfig, seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return {"video": torch.rand(cfg.batch, 3, cfg.resize, cfg.resize, generator=g),
            "label": torch.rand(cfg.batch, 2, generator=g) * 2 - 1, "index": torch.arange(cfg.batch)}


def build(cfg: AVCEConfig, device: torch.device) -> AVCEModule:
    L.seed_everything(0, verbose=False)
    return AVCEModule(TASK, cfg, {"video": (3, cfg.resize, cfg.resize)}).to(device)


def harness(cfg: AVCEConfig, batch: dict[str, torch.Tensor], device: torch.device, warmup: int, steps: int) -> float:
    module = build(cfg, device)
    loader = torch.utils.data.DataLoader(RepeatedBatch(batch, warmup + steps), batch_size=None)
    clock = StepClock(warmup, device)
    with training.quiet_lightning():
        trainer = L.Trainer(max_epochs=1, accelerator="gpu" if device.type == "cuda" else "cpu", devices=1,
                            logger=False, enable_checkpointing=False, enable_model_summary=False, deterministic=True,
                            num_sanity_val_steps=0, enable_progress_bar=False,
                            callbacks=[training.History("supervised", []), clock])
        trainer.fit(module, train_dataloaders=loader)
    return (clock.end - clock.start) / steps


def plain_loop(cfg: AVCEConfig, batch: dict[str, torch.Tensor], device: torch.device, warmup: int, steps: int) -> float:
    torch.use_deterministic_algorithms(True)  # what Trainer(deterministic=True) sets, for a fair match
    net = build(cfg, device).net.train()
    adam = torch.optim.Adam([*net.encoder.parameters(), *net.compressor.parameters(), *net.regressor.parameters()],
                            lr=cfg.lr, betas=cfg.adam_betas)
    sgd = torch.optim.SGD([*net.head.parameters(), *net.metric_head.parameters()], lr=cfg.head_lr,
                          momentum=cfg.sgd_momentum)
    schedulers = [torch.optim.lr_scheduler.MultiStepLR(o, cfg.milestones, gamma=cfg.lr_gamma) for o in (adam, sgd)]
    video, label = batch["video"].to(device), batch["label"].to(device)

    def iteration() -> None:
        images = augment.pipeline(video, cfg.resize, cfg.crop, train=True, flip=cfg.random_flip)
        z = net.latent(images)
        loss, _, _ = main_loss(cfg, net.regressor(z), net.head(sparsemax(z)), net.head(softmax_view(z)), label, 0)
        adam.zero_grad(set_to_none=True)
        sgd.zero_grad(set_to_none=True)
        loss.backward()
        adam.step()
        sgd.step()
        adam.zero_grad(set_to_none=True)
        sgd.zero_grad(set_to_none=True)
        z = net.latent(images)
        dis_loss(net.metric_head(z), net.metric_head(sparsemax(z)), net.metric_head(softmax_view(z)), cfg.delta1,
                 cfg.delta2, cfg.hold_weight, cfg.dis_reduction).backward()
        adam.step()
        sgd.step()
        for scheduler in schedulers:
            scheduler.step()

    for _ in range(warmup):
        iteration()
    sync(device)
    tic = time.perf_counter()
    for _ in range(steps):
        iteration()
    sync(device)
    torch.use_deterministic_algorithms(False)
    return (time.perf_counter() - tic) / steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="tiny", choices=sorted(AVCE.presets))
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="config override")
    parser.add_argument("--device", default="cpu", help="cpu or cuda[:N]")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    cfg = config.resolve(AVCEConfig, AVCE.presets, args.preset, config.parse_overrides(args.set), "avce")
    device = torch.device(args.device)
    if device.type == "cuda":
        import os

        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # deterministic cuBLAS, as Lightning needs
    batch = make_batch(cfg)
    times: dict[str, list[float]] = {"harness (Lightning, as bench.running.run)": [], "plain PyTorch loop": []}
    for _ in range(args.repeats):  # interleaved, so drift hits both alike
        for name, fn in zip(times, (harness, plain_loop)):
            times[name].append(fn(cfg, batch, device, args.warmup, args.steps))

    where = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU, {torch.get_num_threads()} threads"
    print(f"avce preset {args.preset}: {cfg.backbone} width {cfg.encoder_width}, batch {cfg.batch} at "
          f"{cfg.crop} px (from {cfg.resize}), {where}, {args.steps} iterations after {args.warmup} warm-up, "
          f"{args.repeats} repeats")
    loop = statistics.median(times["plain PyTorch loop"])
    for name, values in times.items():
        step = statistics.median(values)
        print(f"  {name:36s} {step * 1e3:10.2f} ms/iteration  {step / loop:6.3f}x loop  "
              f"{cfg.batch / step:8.1f} images/s")
    step = statistics.median(times["harness (Lightning, as bench.running.run)"])
    print(f"projected: {cfg.iterations} iterations (this preset) = {cfg.iterations * step / 3600:.2f} h; "
          f"50K = {50_000 * step / 3600:.2f} h, 100K = {100_000 * step / 3600:.2f} h at this speed")


if __name__ == "__main__":
    main()
