"""Pretraining on another dataset (``regime.pretrain_on``): ConCluGen's VoxCeleb2 → downstream protocol.

The pretraining set is a real VoxCeleb2-layout tree (``dev/mp4/<speaker>/<video>/<clip>.mp4``)
of synthetic mp4 clips with their audio tracks; the downstream dataset is the synthetic benchmark.
"""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import pytest

from bench import protocols
from bench.data.synthetic import SyntheticClassification
from bench.data.synthetic_generator import SyntheticSpec, generate
from bench.errors import DataError, PluginError, ProtocolError
from bench.running.run import RunRequest, execute, make_plan

PROTOCOL = """\
name: synthetic_linear_after_vox
dataset: synthetic
task: classification
modalities: [video, audio]
split: {scheme: official}
regime: {kind: linear_eval, pretrain: true, pretrain_on: {dataset: voxceleb2}}
selection: {rule: last_epoch}
metrics: [accuracy]
primary: accuracy
seeds: [0]
"""

pytestmark = pytest.mark.usefixtures("one_thread")

VOX_CLIPS = 24
BATCH = 8


@pytest.fixture(scope="module")
def vox_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """24 synthetic clips as VoxCeleb2 dev clips of 3 speakers × 2 YouTube videos × 4 clips."""
    base = tmp_path_factory.mktemp("vox")
    source = generate(base / "synthetic", SyntheticSpec("classification", num_subjects=5, clips_per_subject=8))
    clips = SyntheticClassification(source).samples()[:VOX_CLIPS]
    root = base / "voxceleb2"
    for n, sample in enumerate(clips):
        speaker, video, clip = f"id{n // 8:05d}", f"{'abcdefghijk'[n // 4 % 2]}{'x' * 10}", f"{n % 4 + 1:05d}"
        target = root / "dev" / "mp4" / speaker / video / f"{clip}.mp4"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(sample.sources["video"], target)
    return root


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "synthetic_linear_after_vox.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def _request(protocol: Path, tmp_path: Path, vox_root: Path | None, **kw: object) -> RunRequest:
    overrides = {"variant": "multi_cont", "pretrain_epochs": 2, "epochs": 2, "pretrain_batch_size": BATCH,
                 "batch_size": BATCH}
    return RunRequest(method="conclugen", protocol=str(protocol), preset="tiny", overrides=overrides,
                      pretrain_data_root=vox_root, out=tmp_path / "out", progress=False,
                      cache_root=tmp_path / "cache", **kw)


@pytest.mark.slow  # a two-stage training: about 8 s
def test_the_pretraining_stage_reads_the_other_dataset_without_labels(tmp_path: Path, vox_root: Path) -> None:
    plan = make_plan(_request(_write(tmp_path, PROTOCOL), tmp_path, vox_root))
    assert plan.pretrain_adapter is not None and len(plan.pretrain_samples) == VOX_CLIPS
    assert all(s.label is None for s in plan.pretrain_samples)
    record = execute(plan)[0].record
    train_side = len(plan.folds[0].train)
    steps = {(h["stage"], h["epoch"]): h["steps"] for h in record["history"]}
    assert steps == {("pretrain", 0): math.ceil(VOX_CLIPS / BATCH), ("pretrain", 1): math.ceil(VOX_CLIPS / BATCH),
                     ("linear_eval", 0): math.ceil(train_side / BATCH), ("linear_eval", 1): math.ceil(train_side / BATCH)}
    pretrain = record["data"]["pretrain"]
    assert pretrain["dataset"] == "voxceleb2" and pretrain["samples"] == VOX_CLIPS
    assert pretrain["root"] == str(vox_root) and len(pretrain["root_fingerprint"]) > 0
    assert pretrain["preprocessing"] == record["data"]["preprocessing"]
    assert record["regime"]["pretrain_on"] == {"dataset": "voxceleb2", "options": {}}
    assert "--pretrain-data-root" in record["command"] and str(vox_root) in record["command"]
    assert f"--protocol {(tmp_path / 'synthetic_linear_after_vox.yaml').resolve()} " in record["command"]


def test_without_the_pretraining_root_the_message_names_the_flag(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BENCH_DATA_VOXCELEB2", raising=False)
    monkeypatch.delenv("BENCH_DATA_ROOT", raising=False)
    with pytest.raises(DataError, match=r"the pretraining stage of protocol 'synthetic_linear_after_vox' needs the "
                                        r"voxceleb2 dataset: pass --pretrain-data-root DIR"):
        make_plan(_request(_write(tmp_path, PROTOCOL), tmp_path, None))


def test_a_pretraining_dataset_without_a_used_modality_is_refused(tmp_path: Path, vox_root: Path) -> None:
    text = PROTOCOL.replace("modalities: [video, audio]", "modalities: [video, audio, text]")
    with pytest.raises(DataError, match=rf"{vox_root}: 24 of 24 samples of the pretraining dataset 'voxceleb2' "
                                        r"have no text \(first: id00000/axxxxxxxxxx/00001\); it expects:"):
        make_plan(_request(_write(tmp_path, text), tmp_path, vox_root))
    misspelt = PROTOCOL.replace("pretrain_on: {dataset: voxceleb2}", "pretrain_on: {dataset: voxceleb3}")
    with pytest.raises(PluginError, match=r"unknown dataset 'voxceleb3' \(did you mean 'voxceleb2'\?\)"):
        make_plan(_request(_write(tmp_path, misspelt), tmp_path, vox_root))


def test_transcripts_give_the_pretraining_clips_their_text(tmp_path: Path, vox_root: Path) -> None:
    from bench.data.adapters.voxceleb2 import VoxCeleb2

    root = tmp_path / "vox"
    shutil.copytree(vox_root, root)
    clip = root / "transcripts" / "id00000" / "axxxxxxxxxx" / "00001.txt"
    clip.parent.mkdir(parents=True)
    clip.write_text("well i think so\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"transcripts/id00000/axxxxxxxxxx/00002.txt: missing transcript"):
        VoxCeleb2(root).samples()
    for n in range(2, 5):
        clip.with_name(f"{n:05d}.txt").write_text(f"clip {n}", encoding="utf-8")
    for path in (root / "dev" / "mp4").rglob("*.mp4"):
        target = root / "transcripts" / path.relative_to(root / "dev" / "mp4").with_suffix(".txt")
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text("hello", encoding="utf-8")
    first = VoxCeleb2(root).samples()[0]
    assert first.sources["text"] == "well i think so"


@pytest.mark.parametrize(("regime", "message"), [
    ("{kind: linear_eval, pretrain: false, pretrain_on: {dataset: voxceleb2}}", "needs regime.pretrain: true"),
    ("{kind: linear_eval, pretrain_on: voxceleb2}", "expected a mapping like {dataset: voxceleb2}"),
    ("{kind: linear_eval, pretrain_on: {name: voxceleb2}}",
     "regime.pretrain_on: unknown key 'name'; valid keys: dataset, dataset_options"),
    ("{kind: linear_eval, pretrain_on: {dataset: 3}}", "regime.pretrain_on.dataset: expected a dataset name"),
])
def test_malformed_pretrain_on_names_the_key(tmp_path: Path, regime: str, message: str) -> None:
    text = PROTOCOL.replace("{kind: linear_eval, pretrain: true, pretrain_on: {dataset: voxceleb2}}", regime)
    with pytest.raises(ProtocolError, match=message):
        protocols.load(str(_write(tmp_path, text)))
