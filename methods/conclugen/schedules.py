"""ConCluGen's learning-rate schedules (the official code's; the paper states none but cites
SGDR), stepped once per epoch.

* pretraining (``configs/defaults.yaml`` L57-73): ``SequentialLR(milestones=[5])`` of
  ``LinearLR(start_factor=0.1, total_iters=5)`` and ``CosineAnnealingWarmRestartsExpDecay(T_0=20,
  T_mult=2, eta_min=1e-6, gamma=0.75)``, SGDR whose peak lr is multiplied by ``gamma`` at every
  restart (``src/lr_schedulers/cosine_annealing_warm_restarts_exp.py`` L5-18). The config also
  passes ``last_epoch: 10`` (L61): ``SequentialLR`` then starts past its milestone, so the
  schedule runs one epoch at ``0.1·lr`` and the warm restarts from epoch 1 — the 5-epoch ramp
  never happens (:data:`PRETRAIN_AS_RUN`, config ``pretrain_warmup``);
* downstream (``configs/testing.yaml`` L25-38): the same 5-epoch ``LinearLR`` warm-up, then plain
  ``CosineAnnealingWarmRestarts(T_0=20, T_mult=2, eta_min=1e-6)`` (``gamma = 1``).

Closed form at epoch ``e`` (base lr ``η``): ``e < W``: ``η · (s + (1 - s) · e / W)`` with ``s`` the
start factor and ``W`` the warm-up length; else, with ``t = e - W`` falling in restart cycle ``i``
(cycle lengths ``T_0 · T_mult^i``) at position ``t_i``:
``η_min + (η · γ^i - η_min) · (1 + cos(π t_i / T_i)) / 2``. ``last_epoch: 10`` is ``W = 1``.
"""

from __future__ import annotations

import dataclasses
import math

import torch


@dataclasses.dataclass(frozen=True)
class WarmRestarts:
    """Linear warm-up then SGDR with per-restart decay of the peak (see the module docstring)."""

    warmup_epochs: int = 5
    start_factor: float = 0.1
    t_0: int = 20
    t_mult: int = 2
    eta_min: float = 1e-6
    gamma: float = 1.0

    def lr(self, base: float, epoch: int) -> float:
        """The learning rate of ``epoch`` (0-based) for base lr ``base``."""
        if epoch < self.warmup_epochs:
            return base * (self.start_factor + (1.0 - self.start_factor) * epoch / self.warmup_epochs)
        t, cycle, length = epoch - self.warmup_epochs, 0, self.t_0
        while t >= length:
            t, cycle, length = t - length, cycle + 1, length * self.t_mult
        peak = base * self.gamma ** cycle
        return self.eta_min + (peak - self.eta_min) * (1.0 + math.cos(math.pi * t / length)) / 2.0

    def scheduler(self, optimizer: torch.optim.Optimizer) -> torch.optim.lr_scheduler.LambdaLR:
        """A per-epoch LambdaLR following :meth:`lr` for each parameter group's initial lr."""
        bases = [group["lr"] for group in optimizer.param_groups]
        return torch.optim.lr_scheduler.LambdaLR(
            optimizer, [lambda e, b=b: self.lr(b, e) / b if b > 0 else 0.0 for b in bases])


PRETRAIN = WarmRestarts(gamma=0.75)
"""The code's pretraining schedule as configured (``CosineAnnealingWarmRestartsExpDecay``, γ = 0.75)."""
PRETRAIN_AS_RUN = WarmRestarts(warmup_epochs=1, gamma=0.75)
"""The same as ``SequentialLR(..., last_epoch=10)`` runs it: one epoch at 0.1·lr, restarts from epoch 1."""
DOWNSTREAM = WarmRestarts()
"""The code's downstream schedule (``configs/testing.yaml``: ``CosineAnnealingWarmRestarts``)."""
