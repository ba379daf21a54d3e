"""``bench predict`` on real files: an acoustic model trained (2 epochs) on one fold of two RAVDESS
actors' Opus recordings (../shared/data/ravdess) predicts a test-side Opus file with the output its
record stored. Skips without the shared data."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from shared_data import shared_path

from bench import cli
from bench.data.adapters.ravdess import RAVDESS
from bench.records import store

pytestmark = [pytest.mark.usefixtures("one_thread"), pytest.mark.slow,  # about 30 s under load: a fit in-process
              pytest.mark.skipif(not (shared_path("ravdess") / "manifest.csv").is_file(),
                                 reason="../shared/data/ravdess is absent")]

ACTORS = ("Actor_01", "Actor_02")
PROTOCOL = """\
name: ravdess_two_actors
version: 1
description: two RAVDESS actors, one per fold (bench predict on real Opus files)
dataset: ravdess
task: classification
modalities: [audio]
split: {scheme: subject_kfold, k: 2, seed: 0}
regime: {kind: supervised}
selection: {rule: last_epoch, metric: accuracy}
metrics: [accuracy]
primary: accuracy
seeds: [0]
"""


def two_actors(root: Path) -> Path:
    """Links to the shared Opus files of two actors, in the RAVDESS layout."""
    source = shared_path("ravdess", "audio_speech_16k_opus")
    for actor in ACTORS:
        (root / actor).mkdir(parents=True)
        for file in sorted((source / actor).glob("*.opus")):
            (root / actor / file.name).symlink_to(file)
    return root


def test_an_acoustic_model_predicts_a_real_opus_file_of_its_test_side(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = two_actors(tmp_path / "ravdess")
    protocol = tmp_path / "ravdess_two_actors.yaml"
    protocol.write_text(PROTOCOL)
    out = tmp_path / "results"
    assert cli.main(["run", "--method", "late_fusion", "--protocol", str(protocol), "--fold", "1",
                     "--modalities", "audio", "--preset", "tiny", "--set", "epochs=2", "--data-root", str(root),
                     "--allow-incomplete", "--out", str(out), "--cache-dir", str(tmp_path / "cache"),
                     "--no-progress"]) == 0
    ((record, _),) = store.iter_records(out)
    stored = np.load(store.predictions_path(record))
    by_id = {s.id: s for s in RAVDESS(root).samples()}
    opus = by_id[str(stored["ids"][0])].sources["audio"]
    assert opus.suffix == ".opus"
    capsys.readouterr()
    assert cli.main(["predict", "--from", str(record), str(opus), "--format", "json"]) == 0
    (line,) = [json.loads(text) for text in capsys.readouterr().out.splitlines()]
    assert np.abs(np.asarray(line["outputs"]) - stored["outputs"][0]).max() <= 1e-5
    assert line["prediction"] == RAVDESS.label_names[int(np.argmax(stored["outputs"][0]))]
