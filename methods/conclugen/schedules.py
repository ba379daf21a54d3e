"""ConCluGen's learning-rate schedules (official code, REFERENCE 1.6), stepped once per epoch.

The paper cites SGDR (Loshchilov & Hutter, warm restarts) and states no schedule in its text;
the code warms up linearly and then anneals with cosine warm restarts:

* pretraining: ``LinearLR(start_factor=0.1, total_iters=5)`` for 5 epochs, then
  ``CosineAnnealingWarmRestartsExpDecay(T_0=20, T_mult=2, eta_min=1e-6, gamma=0.75)``: SGDR whose
  peak lr is multiplied by ``gamma`` at every restart (``src/lr_schedulers/
  cosine_annealing_warm_restarts_exp.py``);
* downstream (``configs/testing.yaml``): a 5-epoch ``LinearLR`` warm-up, then plain
  ``CosineAnnealingWarmRestarts(T_0=20, T_mult=2, eta_min=1e-6)`` (``gamma = 1``); the warm-up's
  start factor is not in that config's excerpt, 0.1 (the pretraining one) is assumed.

Closed form at epoch ``e`` (base lr ``η``): ``e < W``: ``η · (s + (1 - s) · e / W)`` with ``s`` the
start factor and ``W`` the warm-up length; else, with ``t = e - W`` falling in restart cycle ``i``
(cycle lengths ``T_0 · T_mult^i``) at position ``t_i``:
``η_min + (η · γ^i - η_min) · (1 + cos(π t_i / T_i)) / 2``. Not reproduced: the pretraining
config's ``last_epoch: 10`` argument to ``SequentialLR`` (a resume offset, not a schedule).
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
"""The code's pretraining schedule (``CosineAnnealingWarmRestartsExpDecay``, γ = 0.75)."""
DOWNSTREAM = WarmRestarts()
"""The code's downstream schedule (``configs/testing.yaml``: ``CosineAnnealingWarmRestarts``)."""
