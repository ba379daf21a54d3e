"""AVCE's feature transformations (Sec. 3.5): the two "views" z_a = Sp(z) and z_n = Sm(z).

Sp (eq. 6) is the Euclidean projection of z onto the simplex Δ^{d-1}. The paper and the
official code solve it with a CVXPY layer per sample (``cvx_utils.OptLayer``, CVXPY's default
solver; the paper says ECOS), on the CPU, differentiated through the KKT system. Here it is
the closed form of Martins & Astudillo (2016, the paper's ref. 28): sort z descending, take
the support size k(z) = max{k : 1 + k z_(k) > Σ_{j≤k} z_(j)}, the threshold
τ(z) = (Σ_{j≤k} z_(j) − 1) / k, and p = max(z − τ, 0). Its autograd Jacobian is the
sparsemax Jacobian diag(s) − s sᵀ / |S| (s = support indicator), which equals the KKT
solution away from the degenerate points where an entry is exactly at the threshold.

Sm (eq. 7) is the softmax; the code calls ``F.softmax(z)`` without ``dim``, i.e. over the
feature axis of the [B, d] batch, as here.
"""

from __future__ import annotations

import torch


def sparsemax(z: torch.Tensor) -> torch.Tensor:
    """Eq. 6, argmin_{p ∈ Δ^{d-1}} ||p − z||², row-wise for ``z`` of shape [B, d] (closed form)."""
    if z.dim() != 2:
        raise ValueError(f"sparsemax expects a [B, d] batch, got shape {tuple(z.shape)}")
    ordered, _ = torch.sort(z, dim=1, descending=True)
    excess = ordered.cumsum(dim=1) - 1.0
    k = torch.arange(1, z.shape[1] + 1, device=z.device, dtype=z.dtype)
    support = (k * ordered > excess).sum(dim=1, keepdim=True)
    tau = excess.gather(1, support - 1) / support.to(z.dtype)
    return torch.clamp(z - tau, min=0.0)


def softmax_view(z: torch.Tensor) -> torch.Tensor:
    """Eq. 7, e^z / Σ e^z over the feature axis of [B, d]."""
    return torch.softmax(z, dim=1)
