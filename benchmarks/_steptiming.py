"""Timing parts shared by the one-step benchmarks (``avce_step.py``, ``mma_dfer_step.py``).

Imported by those scripts from their own folder (``python benchmarks/<name>.py`` puts it first
on ``sys.path``).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import lightning as L
import torch


def sync(device: torch.device) -> None:
    """Wait for the device's queued work, so wall-clock times cover it (a no-op on CPU)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class StepClock(L.Callback):
    """Wall time from the start of step ``warmup`` to the end of the last step."""

    def __init__(self, warmup: int, device: torch.device) -> None:
        self.warmup, self.device, self.start, self.end = warmup, device, 0.0, 0.0

    def on_train_batch_start(self, trainer: L.Trainer, module: Any, batch: Any, batch_idx: int) -> None:
        if batch_idx == self.warmup:
            sync(self.device)
            self.start = time.perf_counter()

    def on_train_batch_end(self, trainer: L.Trainer, module: Any, outputs: Any, batch: Any, batch_idx: int) -> None:
        sync(self.device)
        self.end = time.perf_counter()


class RepeatedBatch(torch.utils.data.IterableDataset):
    """One batch, ``count`` times: a loader that costs nothing, so only the step is timed."""

    def __init__(self, batch: dict[str, torch.Tensor], count: int) -> None:
        self.batch, self.count = batch, count

    def __iter__(self) -> Iterator[dict[str, torch.Tensor]]:
        return (self.batch for _ in range(self.count))
