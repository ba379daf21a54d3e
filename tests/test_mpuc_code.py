"""MPUC's code-side settings: the MOSEI BCE's pos_weight (computed or the code's), the code presets and their switches."""

from __future__ import annotations

import math
from collections import Counter

import lightning as L
import numpy as np
import pytest
import torch
from bench_methods.mpuc import MPUC, MPUCLateFusion
from bench_methods.mpuc.module import positive_weights
from shared_data import shared_path

from bench import config as config_mod
from bench.api import DatasetAdapter, Sample, TaskSpec
from bench.data.transforms import crop_indices
from bench.errors import ConfigError, DataError, ProtocolError
from bench.protocols.splits import make_splits
from bench.protocols.splitspec import validate_scheme

pytestmark = pytest.mark.usefixtures("one_thread")

SHAPES = {"audio": (12, 128), "landmarks": (12, 51, 2)}
MOSEI = TaskSpec("multilabel", ("happy", "sad", "fear"))


class Rows(torch.utils.data.Dataset):
    """Batch items with the ``labels`` array bench's ArrayDataset exposes."""

    def __init__(self, labels: torch.Tensor) -> None:
        g = torch.Generator().manual_seed(0)
        self.labels = labels.numpy()
        self.items = [{**{m: torch.rand(*s, generator=g) for m, s in SHAPES.items()}, "label": row} for row in labels]

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return self.items[i]


def cfg_of(method: type, preset: str = "paper", **overrides: object) -> object:
    return config_mod.resolve(method.Config, method.presets, preset, overrides, method.name)


def test_positive_weights_are_negatives_over_positives_by_hand() -> None:
    labels = torch.tensor([[1, 0, 0], [1, 1, 0], [0, 0, 0], [1, 0, 0], [0, 0, 0], [0, 0, 0], [0, 0, 0], [0, 0, 0]])
    # happy 3 of 8 -> 5/3; sad 1 of 8 -> 7; fear never present -> 8 (negatives over one)
    assert positive_weights(labels) == pytest.approx((5 / 3, 7.0, 8.0))


def test_multilabel_bce_is_weighted_by_the_training_labels() -> None:
    labels = torch.tensor([[1.0, 0, 0], [1, 1, 0], [0, 0, 1], [1, 0, 0]] * 2)
    module = MPUCLateFusion().build(MOSEI, cfg_of(MPUCLateFusion, "tiny"), SHAPES)
    assert module.pos_weight is None
    L.Trainer(max_epochs=1, logger=False, enable_checkpointing=False, enable_progress_bar=False,
              enable_model_summary=False, accelerator="cpu").fit(module, torch.utils.data.DataLoader(Rows(labels), 4))
    assert module.pos_weight.tolist() == pytest.approx([1 / 3, 3.0, 3.0])
    logits, target = torch.tensor([[-1.0, 0.5, 2.0]]), torch.tensor([[1.0, 1.0, 0.0]])
    weighted = torch.nn.functional.binary_cross_entropy_with_logits(
        logits, target, pos_weight=torch.tensor([1 / 3, 3.0, 3.0]))
    assert module.loss_fn(logits, target) == pytest.approx(float(weighted))
    assert module.loss_fn(logits, target) != pytest.approx(
        float(torch.nn.functional.binary_cross_entropy_with_logits(logits, target)))
    assert "pos_weight" not in " ".join(module.state_dict())  # a resumed fit recomputes them, never a stale key


def test_protocol_class_weights_take_the_place_of_the_label_balance() -> None:
    task = TaskSpec("multilabel", MOSEI.label_names, class_weights=(2.0, 1.0, 0.5))
    module = MPUCLateFusion().build(task, cfg_of(MPUCLateFusion, "tiny"), SHAPES)
    L.Trainer(max_epochs=1, logger=False, enable_checkpointing=False, enable_progress_bar=False,
              enable_model_summary=False, accelerator="cpu").fit(
        module, torch.utils.data.DataLoader(Rows(torch.tensor([[1.0, 0, 0]] * 4)), 4))
    assert module.pos_weight.tolist() == [2.0, 1.0, 0.5]


SIX = ("fear", "happy", "sad", "anger", "surprise", "disgust")  # the MOSEI emotions, in another order than the SDK's


def test_official_pos_weight_is_the_codes_constant_by_label_name_not_the_training_balance() -> None:
    labels = torch.tensor([[1.0, 0, 0, 0, 0, 0], [1, 1, 0, 0, 0, 0], [0, 0, 1, 0, 0, 1], [1, 0, 0, 1, 1, 0]] * 2)
    task = TaskSpec("multilabel", SIX)
    shapes = SHAPES
    trainer = dict(max_epochs=1, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                   enable_model_summary=False, accelerator="cpu")
    computed = MPUCLateFusion().build(task, cfg_of(MPUCLateFusion, "tiny"), shapes)
    L.Trainer(**trainer).fit(computed, torch.utils.data.DataLoader(Rows(labels), 4))
    assert computed.pos_weight.tolist() == pytest.approx([1 / 3, 3.0, 3.0, 3.0, 3.0, 3.0])  # negatives / positives
    official = MPUCLateFusion().build(task, cfg_of(MPUCLateFusion, "tiny", pos_weight="official"), shapes)
    L.Trainer(**trainer).fit(official, torch.utils.data.DataLoader(Rows(labels), 4))
    # train.py L88-90 in the SDK order happy, sad, anger, surprise, disgust, fear; here reordered by name
    assert official.pos_weight.tolist() == pytest.approx([23.688004, 1.05285, 5.215074, 5.3373003, 19.489855,
                                                          7.0448384])
    logits, target = torch.tensor([[0.3, -1.0, 0.5, 2.0, -0.2, 0.1]]), torch.tensor([[1.0, 1, 0, 1, 0, 0]])
    by_hand = -(23.688004 * math.log(sigmoid(0.3)) + 1.05285 * math.log(sigmoid(-1.0)) + math.log(1 - sigmoid(0.5))
                + 5.3373003 * math.log(sigmoid(2.0)) + math.log(1 - sigmoid(-0.2)) + math.log(1 - sigmoid(0.1))) / 6
    assert float(official.loss_fn(logits, target)) == pytest.approx(by_hand, rel=1e-6)
    assert float(computed.loss_fn(logits, target)) != pytest.approx(by_hand, rel=1e-3)
    with pytest.raises(ConfigError, match="pos_weight=official holds the code's weights of the MOSEI emotions"):
        MPUCLateFusion().build(MOSEI, cfg_of(MPUCLateFusion, "tiny", pos_weight="official"), shapes)
    with pytest.raises(ConfigError, match="class_weights both weigh the BCE"):
        MPUCLateFusion().build(TaskSpec("multilabel", SIX, class_weights=(1.0,) * 6),
                               cfg_of(MPUCLateFusion, "tiny", pos_weight="official"), shapes)


def sigmoid(x: float) -> float:
    return 1 / (1 + math.exp(-x))


def test_code_mosei_sets_the_codes_weights_sampler_and_patience_and_paper_leaves_its_hash() -> None:
    code = cfg_of(MPUC, "code_mosei")
    assert (code.pos_weight, code.sampler, code.val_patience) == ("official", "class_balanced", 50)
    assert [(s.sampler, s.patience) for s in MPUC().stages(code, "linear_eval", True)] == [("class_balanced", 50)]
    paper = cfg_of(MPUC, "paper_mosei")
    assert (paper.pos_weight, paper.sampler, paper.val_patience) == ("computed", "shuffle", 0)
    assert [s.patience for s in MPUC().stages(paper, "linear_eval", True)] == [None, None]  # the protocol's 100
    # switches at their paper default stay out of the configuration, so cells made before them keep their hash
    assert not {"pos_weight", "val_patience"} & set(config_mod.to_dict(paper))
    assert {"pos_weight", "val_patience"} <= set(config_mod.to_dict(code))


RAVDESS_AUDIO = shared_path("ravdess", "audio_speech_16k_opus")


class ByHand(DatasetAdapter):
    name, task, label_names, label_names_source, modalities, layout = "by_hand", "classification", ("a", "b"), "", (), ""

    def __init__(self, samples: list[Sample]) -> None:
        self._samples = samples

    def samples(self) -> list[Sample]:
        return self._samples


def test_stratified_holdout_per_class_sizes_by_hand() -> None:
    # class 0: 20 groups -> pool int(18.0) = 18, val int(1.8) = 1, train 17, test 2; class 1: 10 -> 9, 0, 9, 1
    samples = [Sample(f"r{i}-{copy}", 0 if i < 20 else 1, {}, group=f"r{i}") for i in range(30) for copy in (0, 1)]
    [split] = make_splits({"scheme": "stratified_holdout", "pool": 0.9, "val_share": 0.1, "seed": 3}, samples,
                          ByHand(samples))
    klass = {s.id: s.label for s in samples}
    sizes = {side: Counter(klass[i] for i in getattr(split, side)) for side in ("train", "val", "test")}
    assert sizes == {"train": {0: 34, 1: 18}, "val": {0: 2}, "test": {0: 4, 1: 2}}  # two copies per group
    again = make_splits({"scheme": "stratified_holdout", "pool": 0.9, "val_share": 0.1, "seed": 4}, samples,
                        ByHand(samples))
    assert again[0].test != split.test
    with pytest.raises(ProtocolError, match=r"split.pool: must be a number in \(0, 1\)"):
        validate_scheme({"scheme": "stratified_holdout", "pool": 0}, "p.yaml")
    mixed = [*samples, Sample("r0-x", 1, {}, group="r0")]
    with pytest.raises(DataError, match="groups with samples of several classes: r0"):
        make_splits({"scheme": "stratified_holdout", "pool": 0.9}, mixed, ByHand(mixed))


@pytest.mark.skipif(not RAVDESS_AUDIO.is_dir(), reason="../shared/data/ravdess is absent")
def test_the_codes_class_split_has_its_sizes_on_real_ravdess() -> None:
    from bench import protocols
    from bench.data.adapters.ravdess import RAVDESS
    from bench.protocols import drawn_splits

    committed = drawn_splits.committed("ravdess_class_holdout")
    assert drawn_splits.verify("ravdess_class_holdout", RAVDESS_AUDIO, committed) == []
    real = RAVDESS(RAVDESS_AUDIO)
    samples = real.samples()
    [split] = make_splits(protocols.load("ravdess_class_holdout").split, samples, real)
    klass = {s.id: s.label for s in samples}
    per_class = {side: Counter(klass[i] for i in getattr(split, side)) for side in ("train", "val", "test")}
    # the code's counts (utils/utils.py split_dataset, actor_split False): 192 -> 155/17/20, neutral 96 -> 78/8/10
    assert per_class["train"] == {0: 78, **{c: 155 for c in range(1, 8)}}
    assert per_class["val"] == {0: 8, **{c: 17 for c in range(1, 8)}}
    assert per_class["test"] == {0: 10, **{c: 20 for c in range(1, 8)}}
    assert protocols.load("ravdess_class_holdout_linear").regime.pretrain


def test_crop_indices_draw_each_crop_over_the_whole_sequence() -> None:
    rng = np.random.default_rng(0)
    expected_starts = np.random.default_rng(0).integers(0, 100 - 10 + 1, size=2)  # drawn in turn
    got = crop_indices(100, 10, True, rng, crops=2)
    assert got.tolist() == [*range(expected_starts[0], expected_starts[0] + 10),
                            *range(expected_starts[1], expected_starts[1] + 10)]
    assert crop_indices(100, 10, False, None, crops=2).tolist() == [*range(10), *range(10)]  # eval: both at 0
    starts = {int(crop_indices(1000, 10, True, np.random.default_rng(s), crops=2)[10]) for s in range(200)}
    assert max(starts) > 900  # the second crop reaches the end of a long sequence, no window around the first


def test_code_presets_draw_crops_anywhere_and_the_paper_inside_a_window() -> None:
    code = cfg_of(MPUC, "code")
    assert (code.crop_range, code.window_frames) == ("sequence", 180)
    specs = MPUC().inputs(code, ["audio", "landmarks"])
    assert specs["audio"].params["num_frames"] == 90 and specs["audio"].params["crops"] == 2
    assert specs["landmarks"].params == {"num_frames": 90, "crops": 2}
    paper = cfg_of(MPUC)
    assert (paper.crop_range, paper.window_frames) == ("window", 120)
    assert "crops" not in MPUC().inputs(paper, ["landmarks"])["landmarks"].params
    assert cfg_of(MPUC, "code_mosei").crop_range == "sequence"
    module = MPUC().build(TaskSpec("classification", ("a", "b", "c")), cfg_of(MPUC, "code", crop_frames=12),
                          {"audio": (24, 128), "landmarks": (24, 51, 2)})
    batch = {"audio": torch.arange(24.0)[None, :, None].expand(3, 24, 128)}
    starts = module._starts(batch, 2)
    assert starts.tolist() == [[0, 0, 0], [12, 12, 12]]  # crop 2 is the second half of every item
