"""Face detection throughput: facenet-pytorch MTCNN on batches of frames vs one frame at a time.

The frames are real faces: ``--frames`` jittered ``--side``-pixel windows around the face of
scikit-image's astronaut (the input of bench's face transforms). Both variants run
:func:`bench.data.faces.detect` on the same frames, interleaved ``--repeats`` times after one
warm-up each; the boxes must agree. Reported: median frames/s of each and the ratio
batched / one-at-a-time, with the process CPU time per frame beside it (on a machine shared
with other work, wall time mostly measures the contention). Run:
``python benchmarks/faces.py [--threads 1] [--device cuda]``.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch
from skimage import data

from bench.data import faces


def jittered_frames(count: int, side: int, seed: int = 0) -> list[np.ndarray]:
    """``count`` windows of ``side`` pixels holding the astronaut's face, shifted at random."""
    image = data.astronaut()
    rng = np.random.default_rng(seed)
    x0, y0 = 224 - side // 2, 117 - side // 2  # centred on the face box (181, 62)-(268, 172)
    out = []
    for _ in range(count):
        dx, dy = rng.integers(-16, 17, size=2)
        x, y = int(np.clip(x0 + dx, 0, 512 - side)), int(np.clip(y0 + dy, 0, 512 - side))
        out.append(np.ascontiguousarray(image[y : y + side, x : x + side]))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=32)
    parser.add_argument("--side", type=int, default=224)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    frames = jittered_frames(args.frames, args.side)
    variants = {f"batched ({args.batch_size})": args.batch_size, "one at a time": 1}
    seconds: dict[str, list[float]] = {name: [] for name in variants}
    cpu: dict[str, list[float]] = {name: [] for name in variants}
    boxes = {name: faces.detect(frames, batch_size=size, device=args.device) for name, size in variants.items()}
    for _ in range(args.repeats):
        for name, size in variants.items():
            tic, cpu_tic = time.perf_counter(), time.process_time()
            faces.detect(frames, batch_size=size, device=args.device)
            seconds[name].append(time.perf_counter() - tic)
            cpu[name].append(time.process_time() - cpu_tic)
    found = [b is not None for b in boxes["one at a time"]]
    same = all((a is None and b is None) or (a is not None and b is not None and np.allclose(a, b, atol=1e-2))
               for a, b in zip(*boxes.values()))
    print(f"MTCNN on {args.frames} frames {args.side}x{args.side} ({sum(found)} with a face), device {args.device}, "
          f"{args.threads} threads, median of {args.repeats}; boxes identical: {same}")
    single = statistics.median(seconds["one at a time"])
    for name in variants:
        median = statistics.median(seconds[name])
        cpu_ms = statistics.median(cpu[name]) * 1e3 / args.frames
        print(f"  {name:20s} {args.frames / median:8.1f} frames/s   {median * 1e3 / args.frames:7.2f} ms/frame   "
              f"speed-up {single / median:5.2f}x   CPU {cpu_ms:7.2f} ms/frame")


if __name__ == "__main__":
    main()
