"""The GPU figures bench owes, in one run writing one JSON file (``benchmarks/gpu.sh`` runs it).

- ``mma_dfer``: one training step (plain loop: forward, cross-entropy, backward, AdamW) of the
  paper's ViT-B/16 model (random init: the weights only change the numbers, not the work) at
  112, 160 and 224 px, batch 8, in float32, float32 with TF32, and bfloat16 autocast: steps/s,
  clips/s and peak memory;
- ``mpuc_acoustic_epoch``: one epoch of ``mpuc_unimodal --preset acoustics_code`` (TCN on 128-bin
  log-mels, batch 32, SGD) over ``--mpuc-clips`` clips (1,296 = RAVDESS's training side of one
  fold of ten), the inputs made by bench's own ``audio_logmel_mpuc`` transform from a synthetic wav;
- ``conclugen_features``: the frozen feature extractors of ConCluGen (ResNet-152 on 180 px frames,
  R3D-101 on 16-frame windows, random init), forward only: frames/s and windows/s;
- ``mtcnn``: facenet-pytorch MTCNN (bench's face detector) on 224 px frames, batches of 32: frames/s.

Each figure is the median of ``--repeats`` timings after a warm-up. ``--cpu`` runs every part on
the CPU with tiny sizes (the code path, not the figures, is what it checks).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).parent))  # the helpers of this folder
import mma_dfer_step  # noqa: E402
from faces import jittered_frames  # noqa: E402

from bench import config  # noqa: E402
from bench.api import Sample, TaskSpec  # noqa: E402
from bench.data import faces  # noqa: E402
from bench.data.cache import Cache  # noqa: E402
from bench.data.media import write_wav  # noqa: E402
from bench.data.prepare import ArrayDataset, labels_array, prepare  # noqa: E402


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(fn: Callable[[], None], device: torch.device, repeats: int) -> list[float]:
    """Seconds of ``fn`` per call, ``repeats`` times after one warm-up call."""
    fn()
    times = []
    for _ in range(repeats):
        sync(device)
        tic = time.perf_counter()
        fn()
        sync(device)
        times.append(time.perf_counter() - tic)
    return times


def peak_gib(device: torch.device) -> float | None:
    return round(torch.cuda.max_memory_allocated(device) / 2**30, 3) if device.type == "cuda" else None


def reset_peak(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)


@contextlib.contextmanager
def mode(name: str, device: torch.device) -> Any:
    """``fp32``, ``tf32`` (TF32 matmuls and convolutions) or ``bf16`` (bfloat16 autocast)."""
    before = (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32)
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = name == "tf32"
    try:
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=name == "bf16"):
            yield
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = before


def mma_dfer(device: torch.device, cpu: bool, steps: int, repeats: int) -> list[dict[str, Any]]:
    from bench_methods.mma_dfer import MMADFER
    from bench_methods.mma_dfer.config import MMADFERConfig

    rows = []
    task = TaskSpec("classification", tuple(str(i) for i in range(7)))
    for px in (16, 32, 48) if cpu else (112, 160, 224):
        cfg = config.resolve(MMADFERConfig, MMADFER.presets, "tiny" if cpu else "paper", {"img_size": px}, "mma_dfer")
        batch = {k: v.to(device) for k, v in mma_dfer_step.make_batch(cfg, 7).items()}
        for name in ("fp32", "tf32", "bf16"):
            reset_peak(device)
            module = mma_dfer_step.build(cfg, task, device).train()
            optimizer = torch.optim.AdamW([p for _, p in module.trainable()], lr=cfg.lr, weight_decay=cfg.weight_decay)

            def run_steps() -> None:
                with mode(name, device):
                    for _ in range(steps):
                        mma_dfer_step.plain_step(module, optimizer, batch)

            step = statistics.median(timed(run_steps, device, repeats)) / steps
            rows.append({"img_size": px, "mode": name, "batch": cfg.batch_size, "frames": cfg.num_frames,
                         "steps_per_s": round(1 / step, 3), "clips_per_s": round(cfg.batch_size / step, 2),
                         "peak_memory_gib": peak_gib(device)})
            print(f"mma_dfer {px} px {name}: {1 / step:.2f} steps/s, peak {rows[-1]['peak_memory_gib']} GiB", flush=True)
            del module, optimizer
    return rows


def mpuc_acoustic_epoch(device: torch.device, cpu: bool, clips: int, repeats: int, work: Path) -> dict[str, Any]:
    from bench_methods.mpuc import MPUCUnimodal

    cfg = config.resolve(MPUCUnimodal.Config, MPUCUnimodal.presets, "acoustics_code", {}, MPUCUnimodal.name)
    method = MPUCUnimodal()
    wav = work / "speech.wav"
    t = np.arange(3 * 16000) / 16000
    write_wav(wav, (0.3 * np.sin(2 * np.pi * 220 * t) * (1 + np.sin(2 * np.pi * 3 * t))).astype(np.float32), 16000)
    task = TaskSpec("classification", tuple(f"c{i}" for i in range(8)))
    samples = [Sample(id=f"clip{i}", label=i % 8, sources={"audio": wav}) for i in range(clips)]
    prepared = prepare(samples, method.inputs(cfg, ["audio"]), Cache(work / "cache"))
    dataset = ArrayDataset(prepared, labels_array(samples, task), list(range(clips)), train=True)
    torch.manual_seed(0)
    module = method.build(task, cfg, prepared.shapes).to(device).train()
    opt = torch.optim.SGD(module.parameters(), lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    batches = [{k: v.to(device) for k, v in b.items()} for b in dataset.loader(cfg.batch_size, True, 0)]

    def epoch() -> None:
        for batch in batches:
            starts = torch.zeros(batch["audio"].shape[0], dtype=torch.long, device=device)
            loss = module.loss_fn(module.classify(module.features(batch, starts)), batch["label"])
            opt.zero_grad()
            loss.backward()
            opt.step()

    reset_peak(device)
    seconds = statistics.median(timed(epoch, device, repeats))
    print(f"mpuc acoustic epoch: {clips} clips {seconds:.2f} s", flush=True)
    return {"clips": clips, "batch": cfg.batch_size, "steps": len(batches), "input_shape": list(prepared.shapes["audio"]),
            "epoch_s": round(seconds, 4), "clips_per_s": round(clips / seconds, 1), "peak_memory_gib": peak_gib(device),
            "note": "inputs loaded to the device once: the model's epoch, not the data path"}


def conclugen_features(device: torch.device, cpu: bool, repeats: int) -> dict[str, Any]:
    from bench_methods.conclugen import backbones

    arch_2d, arch_3d, size = ("tiny", "tiny", 32) if cpu else ("resnet152", "r3d_101", 180)
    net_2d = backbones.build_video_2d(arch_2d, None, 32)[0].to(device).eval()
    net_3d = backbones.build_video_3d(arch_3d, None, 32)[0].to(device).eval()
    frames = torch.rand(32, 3, size, size, device=device)
    windows = torch.rand(4, 3, 16, size, size, device=device)
    out: dict[str, Any] = {"backbone_2d": arch_2d, "backbone_3d": arch_3d, "size": size}
    with torch.no_grad():
        reset_peak(device)
        s2 = statistics.median(timed(lambda: net_2d(frames), device, repeats))
        s3 = statistics.median(timed(lambda: net_3d(windows), device, repeats))
    out.update(frames_per_s_2d=round(len(frames) / s2, 1), windows_per_s_3d=round(len(windows) / s3, 2),
               peak_memory_gib=peak_gib(device), batch_2d=len(frames), batch_3d=len(windows))
    print(f"conclugen features: {out['frames_per_s_2d']} frames/s (2D), {out['windows_per_s_3d']} windows/s (3D)",
          flush=True)
    return out


def mtcnn(device: torch.device, cpu: bool, repeats: int) -> dict[str, Any]:
    count, side = (8, 96) if cpu else (128, 224)
    frames = jittered_frames(count, side)
    seconds = statistics.median(timed(lambda: faces.detect(frames, batch_size=32, device=str(device)), device, repeats))
    print(f"mtcnn: {count / seconds:.1f} frames/s", flush=True)
    return {"frames": count, "side": side, "batch": 32, "frames_per_s": round(count / seconds, 1)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cpu", action="store_true", help="every part on the CPU with tiny sizes (a code check)")
    parser.add_argument("--out", type=Path, default=Path("gpu_figures.json"))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--steps", type=int, default=10, help="MMA-DFER steps per timing")
    parser.add_argument("--mpuc-clips", type=int, default=1296)
    args = parser.parse_args()
    if not args.cpu and not torch.cuda.is_available():
        print("no CUDA device: run with --cpu for the code check", file=sys.stderr)
        return 2
    device = torch.device("cpu" if args.cpu else "cuda")
    started = time.perf_counter()
    figures: dict[str, Any] = {
        "device": "cpu" if args.cpu else torch.cuda.get_device_name(device),
        "cpu_check": args.cpu, "torch": torch.__version__, "cuda": torch.version.cuda,
        "started": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"), "load_average": os.getloadavg(),
    }
    with tempfile.TemporaryDirectory() as work:
        parts: dict[str, Callable[[], Any]] = {
            "mma_dfer": lambda: mma_dfer(device, args.cpu, 2 if args.cpu else args.steps, args.repeats),
            "mpuc_acoustic_epoch": lambda: mpuc_acoustic_epoch(device, args.cpu, 64 if args.cpu else args.mpuc_clips,
                                                               args.repeats, Path(work)),
            "conclugen_features": lambda: conclugen_features(device, args.cpu, args.repeats),
            "mtcnn": lambda: mtcnn(device, args.cpu, args.repeats),
        }
        for name, part in parts.items():
            try:
                figures[name] = part()
            except Exception as exc:  # one failing part must not lose the others' figures
                figures[name] = {"error": f"{type(exc).__name__}: {exc}"}
                print(f"{name} failed: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
    figures["total_s"] = round(time.perf_counter() - started, 1)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(figures, indent=2) + "\n")
    print(f"wrote {args.out} in {figures['total_s']} s")
    return 1 if any(isinstance(v, dict) and "error" in v for v in figures.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
