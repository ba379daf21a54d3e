"""Audio feature throughput (clips/s) of each audio transform, side by side on the same files.

``--clips`` real wav files of ``--seconds`` seconds (a chord with noise) are written at 16 kHz
and at 44.1 kHz (the native rate MMA-DFER's fbank keeps); every registered audio transform
computes its features from them directly (no cache), interleaved ``--repeats`` times after a
warm-up. Reported: median clips/s per transform and rate, and each one's time relative to
``audio_fbank_audiomae`` at 16 kHz. Run: ``python benchmarks/audio_features.py``.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

from bench.api import TransformSpec
from bench.data.catalog import get_transform

TRANSFORMS = ("audio_fbank_audiomae", "audio_logmel_mpuc", "audio_mel_conclugen", "audio_logmel")


def write_clips(folder: Path, count: int, seconds: float, rate: int) -> list[Path]:
    rng = np.random.default_rng(rate)
    t = np.arange(int(seconds * rate)) / rate
    paths = []
    for k in range(count):
        wave = sum(0.1 * np.sin(2 * np.pi * f * (1 + 0.05 * k) * t) for f in (220, 660, 1800))
        wave = wave + 0.02 * rng.standard_normal(len(t))
        path = folder / f"clip{k}_{rate}.wav"
        sf.write(path, wave.astype(np.float32), rate, subtype="PCM_16")
        paths.append(path)
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        files = {rate: write_clips(Path(tmp), args.clips, args.seconds, rate) for rate in (16000, 44100)}
        cells = [(name, rate) for name in TRANSFORMS for rate in files]
        transforms = {name: get_transform(TransformSpec(name)) for name in TRANSFORMS}
        for name, rate in cells:
            transforms[name].apply(files[rate][0])
        seconds: dict[tuple[str, int], list[float]] = {cell: [] for cell in cells}
        for _ in range(args.repeats):
            for name, rate in cells:
                tic = time.perf_counter()
                for path in files[rate]:
                    transforms[name].apply(path)
                seconds[(name, rate)].append(time.perf_counter() - tic)
    base = statistics.median(seconds[("audio_fbank_audiomae", 16000)])
    print(f"{args.clips} clips of {args.seconds:g} s, median of {args.repeats}")
    print(f"  {'transform':24s} {'rate':>6s} {'clips/s':>9s} {'ms/clip':>8s} {'time / fbank@16k':>17s}")
    for name, rate in cells:
        median = statistics.median(seconds[(name, rate)])
        print(f"  {name:24s} {rate:6d} {args.clips / median:9.1f} {median * 1e3 / args.clips:8.2f} "
              f"{median / base:17.2f}")


if __name__ == "__main__":
    main()
