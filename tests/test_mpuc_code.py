"""MPUC's code-side settings: the MOSEI BCE's pos_weight, the code presets and their switches."""

from __future__ import annotations

import lightning as L
import pytest
import torch

from bench import config as config_mod
from bench.api import TaskSpec
from bench_methods.mpuc import MPUCLateFusion
from bench_methods.mpuc.module import positive_weights

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
