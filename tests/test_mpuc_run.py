"""MPUC through the runner on the synthetic benchmark: pretrain -> linear eval, patience, bad requests."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from bench_methods.mpuc import module as mpuc_module
from shared_data import shared_path

from bench import registry
from bench.data.synthetic_generator import SyntheticSpec, generate
from bench.errors import ConfigError
from bench.running import run

PROTOCOL = """\
name: {name}
dataset: synthetic
task: classification
modalities: [audio, landmarks]
split: {{scheme: official}}
regime: {regime}
selection: {selection}
metrics: [uar, war]
primary: uar
"""


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def data_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("synthetic") / "data"
    generate(root, SyntheticSpec(variant="classification", num_subjects=10, clips_per_subject=8))
    return root


@pytest.fixture(scope="module")
def conformance_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """16 clips per subject (96 training clips): enough contrastive steps in 200 epochs to leave the plateau."""
    root = tmp_path_factory.mktemp("synthetic16") / "data"
    generate(root, SyntheticSpec(variant="classification", num_subjects=10, clips_per_subject=16))
    return root


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cache")


def protocol(folder: Path, name: str, regime: str = "{kind: linear_eval, pretrain: true}",
             selection: str = "{rule: last_epoch}") -> str:
    path = folder / f"{name}.yaml"
    path.write_text(PROTOCOL.format(name=name, regime=regime, selection=selection))
    return str(path)


def request(protocol_path: str, data_root: Path, cache_dir: Path, out: Path, **kw: object) -> run.RunRequest:
    base = dict(method="mpuc", protocol=protocol_path, preset="tiny", data_root=data_root, out=out,
                progress=False, cache_root=cache_dir)
    base.update(kw)
    return run.RunRequest(**base)


@pytest.mark.slow
def test_pretrain_then_linear_eval_is_clearly_above_chance(conformance_root: Path, cache_dir: Path, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, set[bool]] = {}
    original = mpuc_module.MPUCModule.training_step

    def spy(self, batch, batch_idx):  # type: ignore[no-untyped-def]
        seen.setdefault(self.stage, set()).add("label" in batch)
        return original(self, batch, batch_idx)

    monkeypatch.setattr(mpuc_module.MPUCModule, "training_step", spy)
    (result,) = run.execute(run.make_plan(request(protocol(tmp_path, "mpuc_conformance"), conformance_root,
                                                  cache_dir, tmp_path / "out")))
    record = result.record
    assert seen == {"pretrain": {False}, "linear_eval": {True}}  # pretraining never sees a label
    assert record["selection"]["epochs_trained"] == {"pretrain": 200, "linear_eval": 40}
    assert set(record["data"]["preprocessing"]) == {"audio", "landmarks"}
    assert record["weights"] == {"audio": "random-init", "landmarks": "random-init"}
    losses = [h["train_loss"] for h in record["history"] if h["stage"] == "pretrain"]
    plateau = 2 * 16 * math.log(15)  # eq. 1 summed over 2 crops x a batch of 16 when every similarity is equal
    assert losses[-1] < plateau - 20  # the encoders left the uniform-similarity plateau: they align
    assert record["metrics"]["uar"] >= 0.7  # chance is 0.25 (four balanced classes)


def test_patience_stops_the_linear_eval_where_expected(data_root: Path, cache_dir: Path, tmp_path: Path) -> None:
    path = protocol(tmp_path, "mpuc_patience", selection="{rule: best_val, patience: 3}")
    # A learning rate of 1e-12 leaves the classifier's predictions, hence the validation UAR, unchanged:
    # epoch 0 is the best, epochs 1-3 do not improve on it, so the stage stops after epoch 3.
    req = request(path, data_root, cache_dir, tmp_path / "out",
                  overrides={"pretrain_epochs": 1, "lr": 1e-12, "epochs": 50})
    (result,) = run.execute(run.make_plan(req))
    assert result.record["selection"]["epoch"] == 0
    assert result.record["selection"]["epochs_trained"] == {"pretrain": 1, "linear_eval": 4}


def test_the_codes_patience_replaces_the_protocols_and_is_recorded(data_root: Path, cache_dir: Path,
                                                                    tmp_path: Path) -> None:
    path = protocol(tmp_path, "mpuc_patience", selection="{rule: best_val, patience: 3}")
    # as above, epoch 0 stays the best: with val_patience 5 (code_mosei sets 50) the stage stops after epoch 5
    req = request(path, data_root, cache_dir, tmp_path / "out",
                  overrides={"pretrain_epochs": 1, "lr": 1e-12, "epochs": 50, "val_patience": 5})
    (result,) = run.execute(run.make_plan(req))
    assert result.record["selection"]["epochs_trained"] == {"pretrain": 1, "linear_eval": 6}
    assert result.record["selection"]["patience"] == 5 and result.record["config"]["val_patience"] == 5
    last = protocol(tmp_path, "mpuc_last")
    with pytest.raises(ConfigError, match=r"stops early after 5 epochs .* selects the last epoch"):
        run.make_plan(request(last, data_root, cache_dir, tmp_path / "out", overrides={"val_patience": 5}))


def test_fewer_than_two_modalities_names_what_is_missing_and_the_protocols_that_fit(
        data_root: Path, cache_dir: Path, tmp_path: Path) -> None:
    req = request(protocol(tmp_path, "mpuc_one"), data_root, cache_dir, tmp_path / "out", modalities=["audio"])
    with pytest.raises(ConfigError) as error:
        run.make_plan(req)
    message = str(error.value)
    assert "'mpuc' needs at least 2 modalities, got audio" in message
    fitting = message.split("protocols that fit: ")[1].split(", ")
    assert {"ravdess_actor10", "ravdess_kfold10", "mosei_official", "synthetic_5fold"} <= set(fitting)
    assert "synthetic_va" not in fitting  # regression: not an MPUC task


def test_supervised_unimodal_baseline_runs_on_one_modality(data_root: Path, cache_dir: Path, tmp_path: Path) -> None:
    assert {"mpuc_supervised", "mpuc_unimodal", "mpuc_late_fusion", "mpuc_attention"} <= set(registry.methods.names())
    path = protocol(tmp_path, "mpuc_supervised_audio", regime="{kind: supervised}")
    for name in ("mpuc_supervised", "mpuc_unimodal"):
        req = request(path, data_root, cache_dir, tmp_path / "out", method=name, modalities=["audio"])
        (result,) = run.execute(run.make_plan(req))
        assert result.record["method"] == name
        assert result.record["selection"]["epochs_trained"] == {"supervised": 30}
        assert result.record["metrics"]["uar"] >= 0.5  # chance 0.25


def test_clips_shorter_than_the_crop_are_wrapped_and_counted(data_root: Path, cache_dir: Path, tmp_path: Path) -> None:
    # The synthetic landmark tracks have 16 frames and the audio 1 s = 44 log-mel frames: with a 20-step
    # crop every landmark track is padded by wrapping around (MPUC's RAVDESS policy), no audio clip is.
    path = protocol(tmp_path, "mpuc_short", regime="{kind: supervised}")
    req = request(path, data_root, cache_dir, tmp_path / "out", method="mpuc_late_fusion",
                  overrides={"crop_frames": 20, "epochs": 1})
    (result,) = run.execute(run.make_plan(req))
    sizes = result.record["data"]["split"]["sizes"]
    assert result.record["data"]["fallbacks"] == {
        "audio": {}, "landmarks": {"shorter_than_crop_wrapped": sizes["train"] + sizes["val"] + sizes["test"]}}


def test_mpuc_protocols_of_table_one_reuse_the_baselines_folds() -> None:
    from bench import protocols

    for base in ("ravdess_actor10", "ravdess_kfold10", "ravdess_actor_holdout"):
        supervised, linear = protocols.load(base), protocols.load(f"{base}_linear")
        assert (supervised.regime.kind, supervised.regime.pretrain) == ("supervised", False)
        assert (linear.regime.kind, linear.regime.pretrain) == ("linear_eval", True)
        assert (linear.split, linear.selection, linear.leaky) == (supervised.split, supervised.selection,
                                                                  supervised.leaky)
        assert linear.selection.patience == 100  # Sec. III-D
    assert protocols.load("ravdess_kfold10_linear").leaky and not protocols.load("ravdess_actor10_linear").leaky


RAVDESS_AUDIO = shared_path("ravdess")


@pytest.mark.skipif(not (RAVDESS_AUDIO / "manifest.csv").is_file(), reason="../shared/data/ravdess is absent")
def test_real_ravdess_without_landmark_csvs_names_the_missing_modality_and_the_protocols_that_fit(
        tmp_path: Path) -> None:
    from bench.errors import DataError

    req = run.RunRequest(method="mpuc", protocol="ravdess_actor10_linear", modalities=["audio", "landmarks"],
                         data_root=RAVDESS_AUDIO, out=tmp_path, progress=False)
    with pytest.raises(DataError) as error:
        run.make_plan(req)  # fails before any decoding or training
    message = str(error.value)
    assert "'mpuc' needs landmarks (1440 of 1440 samples have none)" in message
    assert "present: audio, text" in message and "FacialTracking_Actors_01-24" in message
    assert "ravdess_actor10_linear" in message.split("protocols that fit: ")[1]


@pytest.mark.skipif(not (RAVDESS_AUDIO / "manifest.csv").is_file(), reason="../shared/data/ravdess is absent")
def test_committed_ravdess_split_files_are_the_folds_the_protocols_draw(tmp_path: Path) -> None:
    import json

    from bench.protocols import drawn_splits

    for name in ("ravdess_actor10", "ravdess_kfold10", "ravdess_actor_holdout"):
        assert drawn_splits.verify(name, RAVDESS_AUDIO, drawn_splits.committed(name)) == [], name
    actor10 = json.loads(drawn_splits.committed("ravdess_actor10").read_text())
    tested = sorted(a for fold in actor10["folds"] for a in fold["subjects"]["test"])
    assert tested == [f"{a:02d}" for a in range(1, 25)]  # the 10 test folds partition the 24 actors
    holdout = json.loads(drawn_splits.committed("ravdess_actor_holdout").read_text())
    assert holdout["folds"][0]["subjects"]["test"] == ["01", "04", "21"]  # the official code's one split
    assert holdout["folds"][0]["sizes"] == {"train": 1080, "val": 180, "test": 180}
    actor10["folds"][0]["groups"]["test"] = actor10["folds"][0]["groups"]["test"][:60]
    tampered = tmp_path / "tampered.json"
    tampered.write_text(json.dumps(actor10))
    (problem,) = drawn_splits.verify("ravdess_actor10", RAVDESS_AUDIO, tampered)
    assert problem.startswith(f"{tampered}:1: fold1: the test side differs: 120 group(s) drawn there now are not in "
                              "the file: ") and problem.endswith("(60 groups in the file, 180 now)")


def test_transductive_updates_read_the_validation_and_test_inputs_and_say_so(
        data_root: Path, cache_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """transductive=true (the code's MOSEI config): after each pretraining epoch the encoders take
    contrastive steps on the validation and test inputs, never their labels; the record says so."""
    seen: list[tuple[int, bool]] = []
    original = mpuc_module.MPUCModule.attach_unlabelled

    def spy(self, loaders):  # type: ignore[no-untyped-def]
        loaders = list(loaders)
        for loader in loaders:
            seen.append((len(loader.dataset), any("label" in batch for batch in loader)))
        return original(self, loaders)

    monkeypatch.setattr(mpuc_module.MPUCModule, "attach_unlabelled", spy)
    path = protocol(tmp_path, "mpuc_transductive", selection="{rule: best_val}")
    req = request(path, data_root, cache_dir, tmp_path / "out",
                  overrides={"pretrain_epochs": 2, "epochs": 2, "transductive": True})
    plan = run.make_plan(req)
    (result,) = run.execute(plan)
    split = plan.folds[0]
    assert seen == [(len(split.val), False), (len(split.test), False)]
    assert result.record["data"]["transductive"] == ["val", "test"]
    assert "transductive" in result.record["weights"]


def test_text_runs_on_glove_vectors_from_a_local_file(data_root: Path, cache_dir: Path, tmp_path: Path) -> None:
    """MPUC with text (Table II's full row): each word of the synthetic sentences gets a vector from
    a GloVe-format file written here for their vocabulary; the record names the vectors file."""
    import csv

    with (data_root / "manifest.csv").open(newline="", encoding="utf-8") as handle:
        vocabulary = sorted({w for row in csv.DictReader(handle) for w in row["text"].split()})
    rng = np.random.default_rng(0)
    vectors = tmp_path / "glove.tiny.txt"
    dim = 20
    vectors.write_text("".join(f"{w} {' '.join(f'{v:.4f}' for v in rng.normal(size=dim))}\n" for w in vocabulary),
                       encoding="utf-8")
    path = tmp_path / "mpuc_text.yaml"
    path.write_text(PROTOCOL.format(name="mpuc_text", regime="{kind: linear_eval, pretrain: true}",
                                    selection="{rule: last_epoch}").replace("[audio, landmarks]", "[audio, text]"))
    req = request(str(path), data_root, cache_dir, tmp_path / "out",
                  overrides={"glove_path": str(vectors), "text_dim": dim, "text_heads": 2, "pretrain_epochs": 2,
                             "epochs": 2})
    (result,) = run.execute(run.make_plan(req))
    text = result.record["data"]["preprocessing"]["text"]
    assert text["name"] == "text_glove" and text["params"]["vectors_path"] == str(vectors)
    assert len(text["vectors_digest"]) == 64
    assert result.record["selection"]["epochs_trained"] == {"pretrain": 2, "linear_eval": 2}
