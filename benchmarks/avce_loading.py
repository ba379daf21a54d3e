"""AVCE's frame-level data path: bench's cached decoded crops against a torchvision ImageFolder loader.

The same face-crop image files (``--images`` PNGs of ``--source`` px in ``<video>/<frame>.png``
folders, the AFEW-VA layout), the same batch size, the same training transform (the code's
``Resize(256)`` → ``RandomCrop(224)`` → ``Normalize``), measured side by side in one process:

- ``bench cached path``: frame-level samples through ``bench.data.prepare`` with AVCE's
  ``face_image`` transform (``policy=none``: the files are already face crops), whose decoded
  256 px crops live in bench's content-addressed cache, read by the ``ArrayDataset`` / DataLoader
  of ``bench.running.run`` plus AVCE's batch-level crop and normalisation (``bench_methods.avce.augment``);
  the one-off cold ``prepare`` (decode + resize + cache write) is reported separately;
- ``torchvision ImageFolder``: ``datasets.ImageFolder`` over the very same files with the code's
  per-image transforms, a DataLoader with ``--workers`` worker processes (0 = in process).

Each variant reads ``--epochs`` epochs ``--repeats`` times (interleaved); the median images/s
and the ratio bench / ImageFolder are printed. Run: ``python benchmarks/avce_loading.py``.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from bench_methods.avce import augment
from PIL import Image

from bench.api import Sample, TaskSpec, TransformSpec
from bench.data.cache import Cache
from bench.data.prepare import ArrayDataset, labels_array, prepare, train_loader

TASK = TaskSpec("regression", ("valence", "arousal"))


def write_images(root: Path, count: int, side: int, per_video: int = 32) -> list[Sample]:
    """``count`` smooth random RGB face-sized PNGs in ``<video>/<frame>.png``, as frame-level samples."""
    rng = np.random.default_rng(0)
    samples = []
    for i in range(count):
        video, frame = f"{i // per_video + 1:03d}", f"{i % per_video:05d}"
        path = root / video / f"{frame}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        coarse = rng.integers(0, 256, (side // 8, side // 8, 3), dtype=np.uint8)
        Image.fromarray(coarse).resize((side, side), Image.BILINEAR).save(path)
        samples.append(Sample(id=f"{video}/{frame}", label=(float(rng.uniform(-1, 1)), float(rng.uniform(-1, 1))),
                              sources={"video": path}, group=video))
    return samples


def bench_epochs(dataset: ArrayDataset, batch: int, epochs: int, resize: int, crop: int) -> tuple[float, int]:
    loader = train_loader(dataset, batch, seed=0, stage=0)
    seen, tic = 0, time.perf_counter()
    for epoch in range(epochs):
        loader.sampler.set_epoch(epoch)
        for item in loader:
            images = augment.pipeline(item["video"], resize, crop, train=True, flip=False)
            seen += images.shape[0]
    return time.perf_counter() - tic, seen


def imagefolder_epochs(root: Path, batch: int, epochs: int, workers: int, resize: int, crop: int) -> tuple[float, int]:
    from torchvision import datasets, transforms

    transform = transforms.Compose([transforms.Resize(resize), transforms.RandomCrop(crop), transforms.ToTensor(),
                                    transforms.Normalize(augment.IMAGENET_MEAN, augment.IMAGENET_STD)])
    folder = datasets.ImageFolder(str(root), transform=transform)
    loader = torch.utils.data.DataLoader(folder, batch_size=batch, shuffle=True, num_workers=workers,
                                         persistent_workers=False)
    seen, tic = 0, time.perf_counter()
    for _ in range(epochs):
        for images, _ in loader:
            seen += images.shape[0]
    return time.perf_counter() - tic, seen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=512)
    parser.add_argument("--source", type=int, default=256, help="side of the image files (face crops)")
    parser.add_argument("--batch", type=int, default=256, help="256 = AVCE (AL)")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workers", type=int, default=0, help="ImageFolder DataLoader workers (bench.running.run uses 0)")
    parser.add_argument("--resize", type=int, default=256)
    parser.add_argument("--crop", type=int, default=224)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        root, cache = Path(tmp) / "frames", Cache(Path(tmp) / "cache")
        samples = write_images(root, args.images, args.source)
        spec = {"video": TransformSpec("face_image", {"policy": "none", "size": args.resize, "margin": 20})}
        tic = time.perf_counter()
        prepare(samples, spec, cache)
        cold = time.perf_counter() - tic
        tic = time.perf_counter()
        prepared = prepare(samples, spec, cache)  # what every later cell of a grid does: cache hits only
        warm = time.perf_counter() - tic
        dataset = ArrayDataset(prepared, labels_array(samples, TASK), range(len(samples)), train=True)
        rates: dict[str, list[float]] = {"bench cached path": [], "torchvision ImageFolder": []}
        for _ in range(args.repeats):  # interleaved, so drift hits both alike
            seconds, seen = bench_epochs(dataset, args.batch, args.epochs, args.resize, args.crop)
            rates["bench cached path"].append(seen / seconds)
            seconds, seen = imagefolder_epochs(root, args.batch, args.epochs, args.workers, args.resize, args.crop)
            rates["torchvision ImageFolder"].append(seen / seconds)

    print(f"{args.images} PNG face crops of {args.source} px, batch {args.batch}, {args.epochs} epochs x "
          f"{args.repeats} repeats, Resize({args.resize}) + RandomCrop({args.crop}) + Normalize, "
          f"{torch.get_num_threads()} torch threads, ImageFolder workers {args.workers}")
    print(f"  bench cold prepare (decode, resize, cache write): {cold:7.2f} s = {args.images / cold:8.1f} images/s")
    print(f"  bench warm prepare (cache hits):                  {warm:7.2f} s")
    base = statistics.median(rates["torchvision ImageFolder"])
    for name, values in rates.items():
        rate = statistics.median(values)
        print(f"  {name:26s} {rate:10.1f} images/s  {rate / base:6.2f}x ImageFolder")


if __name__ == "__main__":
    main()
