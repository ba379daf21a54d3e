"""Time of ``bench predict`` on one file, cold and warm.

Cold: a new ``bench predict --from RECORD FILE`` process with an empty preprocessing cache (imports,
model build, weights, preprocessing, prediction), three runs on three files: wall and CPU time
(user + sys of the child). Warm: in one process whose model is already built (the first file
builds it), each further file with an empty cache, i.e. its own decoding and preprocessing.

    python benchmarks/predict_time.py RECORD FILE FILE FILE [FILE ...]
"""

from __future__ import annotations

import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.data.cache import Cache
from bench.running import predict_model
from bench.running.predict_command import Predictor


def span(values: list[float], digits: int) -> str:
    return f"median {statistics.median(values):.{digits}f} s [{min(values):.{digits}f}-{max(values):.{digits}f}]"


def main(record: str, files: list[str]) -> None:
    wall, cpu = [], []
    for file in files[:3]:
        with tempfile.TemporaryDirectory() as cache:
            before, tic = resource.getrusage(resource.RUSAGE_CHILDREN), time.perf_counter()
            subprocess.run([sys.executable, "-m", "bench.cli", "predict", "--from", record, file, "--cache-dir", cache,
                            "--format", "json"], check=True, capture_output=True)
            wall.append(time.perf_counter() - tic)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    model = predict_model.from_record(Path(record))
    faces = predict_model.wants_faces(model, "auto")
    times, cpus = [], []
    with tempfile.TemporaryDirectory() as cache:
        predictor = Predictor(model, Cache(cache))
        for file in files:
            tic, cpu0 = time.perf_counter(), time.process_time()
            predictor.outputs(predict_model.sources_of(Path(file), model.modalities), faces)
            times.append(time.perf_counter() - tic)
            cpus.append(time.process_time() - cpu0)
    print(f"cold process: wall {span(wall, 1)}, CPU {span(cpu, 1)}; first file in process (model build): "
          f"wall {times[0]:.2f} s; warm, {len(times) - 1} further files: wall {span(times[1:], 3)}, CPU {span(cpus[1:], 3)}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
