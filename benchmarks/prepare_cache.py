"""A cold ``prepare`` (every transform runs, entries written) vs a warm one (every entry read back).

``--clips`` real mp4 clips (``--frames`` frames of 112x112 with an AAC track) are prepared
with ``video_frames`` (whole clip cached, memory-mapped) and ``audio_fbank_audiomae``
(stacked): cold into an empty cache, then warm from the filled one (each entry still
checksummed), ``--repeats`` times with a fresh cache each time. Reported: median seconds
and clips/s of each and the speed-up warm / cold. Run: ``python benchmarks/prepare_cache.py``.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
from pathlib import Path

import numpy as np

from bench.api import Sample, TransformSpec
from bench.data.cache import Cache
from bench.data.media import write_video
from bench.data.prepare import prepare

SPECS = {
    "video": TransformSpec("video_frames", {"num_frames": 16, "size": 112}),
    "audio": TransformSpec("audio_fbank_audiomae", {"sample_rate": 16000}),
}


def write_clips(folder: Path, count: int, frames: int) -> list[Sample]:
    rng = np.random.default_rng(0)
    samples = []
    for k in range(count):
        video = rng.integers(0, 255, (frames, 112, 112, 3), dtype=np.uint8)
        t = np.arange(16000 * frames // 25) / 16000
        audio = (0.3 * np.sin(2 * np.pi * (200 + 10 * k) * t)).astype(np.float32)
        path = folder / f"clip{k:03d}.mp4"
        write_video(path, video, fps=25.0, audio=audio, sample_rate=16000)
        samples.append(Sample(f"clip{k:03d}", 0, {"video": path, "audio": path}))
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=24)
    parser.add_argument("--frames", type=int, default=48)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    cold, warm = [], []
    with tempfile.TemporaryDirectory() as tmp:
        samples = write_clips(Path(tmp), args.clips, args.frames)
        for repeat in range(args.repeats):
            root = Path(tmp) / f"cache{repeat}"
            first = prepare(samples, SPECS, Cache(root))
            second = prepare(samples, SPECS, Cache(root))
            assert (first.cache_misses, second.cache_hits, second.cache_misses) == (2 * args.clips,) * 2 + (0,)
            cold.append(first.seconds)
            warm.append(second.seconds)
            shutil.rmtree(root)
    c, w = statistics.median(cold), statistics.median(warm)
    print(f"prepare of {args.clips} clips ({args.frames} frames 112x112 + AAC audio), "
          f"video_frames + audio_fbank_audiomae, median of {args.repeats}")
    print(f"  cold (empty cache) {c:7.3f} s  {args.clips / c:8.1f} clips/s")
    print(f"  warm (all hits)    {w:7.3f} s  {args.clips / w:8.1f} clips/s")
    print(f"  warm is {c / w:.1f}x faster")


if __name__ == "__main__":
    main()
