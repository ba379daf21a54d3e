"""How far MMA-DFER's outputs on a raw mp4 (MTCNN face crops, audio from its track) are from its outputs
on the same clip's prepared face-frame folder and wav (the record's ``predictions.npz``), over the test
clips of a cell on the DFEW-layout synthetic data.

    python benchmarks/predict_mp4_gap.py RECORD DFEW_LAYOUT_ROOT
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np

from bench.data.cache import Cache
from bench.records import store
from bench.running import predict_model
from bench.running.predict_command import Predictor


def softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def main(record: Path, root: Path) -> None:
    stored = np.load(store.predictions_path(record))
    model = predict_model.from_record(record)
    rows, fallbacks = [], 0
    with tempfile.TemporaryDirectory() as cache:
        predictor = Predictor(model, Cache(cache))
        for clip in stored["ids"]:
            video = root / "Clip" / "original" / f"{clip}.mp4"
            out, taken = predictor.outputs(predict_model.sources_of(video, model.modalities), True)
            rows.append(out)
            fallbacks += any("no_face" in reason for reason in taken)
    mp4, frames, targets = np.asarray(rows), stored["outputs"], stored["targets"]
    gap = np.abs(mp4 - frames)
    print(f"{len(mp4)} test clips: max |d logit| {gap.max():.4f} (median per clip {np.median(gap.max(1)):.4f}); "
          f"max |d probability| {np.abs(softmax(mp4) - softmax(frames)).max():.4f}; same class "
          f"{np.mean(mp4.argmax(1) == frames.argmax(1)) * 100:.1f} %; accuracy frames "
          f"{np.mean(frames.argmax(1) == targets) * 100:.1f} %, mp4 {np.mean(mp4.argmax(1) == targets) * 100:.1f} %; "
          f"clips where MTCNN found no face (centre square): {fallbacks}")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
