"""The official code's model selection for ConCluGen's downstream stage, as a selection callback.

``configs/defaults.yaml`` L28-37: ``EarlyStopping(monitor='val_loss_epoch', patience=15,
min_delta=0)`` on the class-weighted validation loss (the validation side's own weights,
``src/callbacks/set_class_weights_on_model.py``), ``max_epochs`` unset (``configs/testing.yaml`` L3 comments it out: Lightning 2.0's 1000), and
``trainer.test`` with ``ckpt_path: null`` (``configs/testing.yaml`` L45-50): the test runs on the
weights of the last epoch trained, not on a best checkpoint. The loss is taken over the whole
validation side at once (the code averages per-batch losses; with its batches of 4096 that is one
or two batches).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import lightning as L
import numpy as np
import torch
from torch import nn

from bench.api import TaskSpec
from bench_methods.conclugen import class_weights

Validation = Callable[[Any], tuple[np.ndarray, np.ndarray]]


def validation_loss(task: TaskSpec, outputs: np.ndarray, targets: np.ndarray, weighting: str) -> float:
    """The downstream loss on the validation side with the side's own official class weights."""
    logits = torch.from_numpy(np.asarray(outputs, dtype=np.float32))
    weights = class_weights.official_weights(task, targets) if weighting == "official" else None
    tensor = None if weights is None else torch.tensor(weights, dtype=torch.float32)
    if task.kind == "multilabel":
        return float(nn.BCEWithLogitsLoss(pos_weight=tensor)(logits, torch.from_numpy(np.asarray(targets, np.float32))))
    return float(nn.CrossEntropyLoss(weight=tensor)(logits, torch.from_numpy(np.asarray(targets, np.int64))))


class EarlyStopOnValidationLoss(L.Callback):
    """Stops the stage after ``patience`` epochs without a strictly lower validation loss and keeps
    the last epoch's weights (Lightning's ``EarlyStopping`` with ``min_delta=0``)."""

    def __init__(self, task: TaskSpec, validation: Validation, weighting: str, patience: int) -> None:
        self.task, self.validation, self.weighting, self.patience = task, validation, weighting, patience
        self.best: float | None = None
        self.wait = 0
        self.last_epoch = -1

    def on_train_epoch_end(self, trainer: Any, module: Any) -> None:
        self.last_epoch = trainer.current_epoch
        loss = validation_loss(self.task, *self.validation(module), self.weighting)
        if self.best is None or loss < self.best:
            self.best, self.wait = loss, 0
        else:
            self.wait += 1
        if self.wait >= self.patience:
            trainer.should_stop = True

    def on_train_start(self, trainer: Any, module: Any) -> None:
        if self.wait >= self.patience:  # a fit resumed after the stopping epoch stops where it did
            trainer.should_stop = True

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best, "wait": self.wait, "last_epoch": self.last_epoch}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.best, self.wait, self.last_epoch = state_dict["best"], state_dict["wait"], state_dict["last_epoch"]

    def restore(self, module: Any) -> int:
        """The weights stay those of the last epoch; returns that (0-based) epoch."""
        return self.last_epoch

    def describe(self) -> dict[str, Any]:
        return {"rule": "early_stop_val_loss", "metric": "class-weighted validation loss", "on_test": False,
                "patience": self.patience}
