"""ConCluGen: a downstream run on a warm feature cache against one that re-extracts the features.

Runs the same cell (synthetic benchmark, pretrain → linear eval, tiny preset) twice into fresh
result folders: first with an empty cache (every backbone feature is extracted), then with
the cache the first run filled (every feature is read back). Prints both times and the ratio.
The 10-variant × 3-dataset grid pays the first cost once per dataset and the second for every
other cell. Usage: ``python benchmarks/conclugen_feature_cache.py [--preset tiny]``.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch

from bench.running.run import RunRequest, execute, make_plan

PROTOCOL = """\
name: conclugen_cache_bench
dataset: synthetic
task: classification
modalities: [video, audio, text]
split: {scheme: official}
regime: {kind: linear_eval, pretrain: true}
selection: {rule: last_epoch}
metrics: [accuracy]
primary: accuracy
seeds: [0]
"""


def timed_run(protocol: Path, out: Path, cache: Path, preset: str) -> tuple[float, float]:
    """Wall time of one cell and the prepare (feature extraction or cache read) part of it."""
    tic = time.perf_counter()
    plan = make_plan(RunRequest(method="conclugen", protocol=str(protocol), preset=preset, out=out,
                                progress=False, cache_root=cache))
    record = execute(plan)[0].record
    return time.perf_counter() - tic, record["timings"]["prepare_s"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="tiny")
    args = parser.parse_args()
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        protocol = root / "conclugen_cache_bench.yaml"
        protocol.write_text(PROTOCOL)
        cache = root / "cache"
        cold = timed_run(protocol, root / "cold", cache, args.preset)
        warm = timed_run(protocol, root / "warm", cache, args.preset)
    print(f"{'run':<12}{'total s':>10}{'prepare s':>12}")
    print(f"{'re-extract':<12}{cold[0]:>10.2f}{cold[1]:>12.2f}")
    print(f"{'warm cache':<12}{warm[0]:>10.2f}{warm[1]:>12.2f}")
    print(f"prepare ratio re-extract / warm: {cold[1] / max(warm[1], 1e-9):.1f}x; "
          f"total ratio: {cold[0] / warm[0]:.2f}x")


if __name__ == "__main__":
    main()
