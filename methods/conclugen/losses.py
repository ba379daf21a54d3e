"""ConCluGen's self-supervised losses (paper eqs. 1-13), each with its official-code form as a switch.

All functions take batched tensors and return a scalar. ``form="paper"`` is the equation as
printed, ``form="code"`` is ``tub-cv-group/conclugen`` (``src/losses/``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

import torch
import torch.nn.functional as F

Form = Literal["paper", "code"]


def _directional(sim: torch.Tensor, margin: float, form: Form) -> torch.Tensor:
    """Mean over rows i of ``-log`` of the margin softmax of ``sim[i, i]`` against row i."""
    n = sim.shape[0]
    eye = torch.eye(n, dtype=torch.bool, device=sim.device)
    if form == "code":
        return F.cross_entropy(sim - margin * eye, torch.arange(n, device=sim.device))
    positive = torch.log(torch.exp(sim.diagonal()) - margin)
    return (torch.logsumexp(sim, dim=1) - positive).mean()


def mms_pair(p_a: torch.Tensor, p_b: torch.Tensor, margin: float, form: Form,
             temperature: float | None = None) -> torch.Tensor:
    """Masked-margin softmax loss of one modality pair, eqs. 2-4: ``L_ab + L_ba``.

    ``p_a``, ``p_b``: L2-normalised projections ``[N, P]`` of the same N clips; S = P_a·P_bᵀ
    (divided by ``temperature`` when given; neither the paper nor the code has one).

    * ``paper``: ``-1/N Σ_i log((e^{S_ii} - δ) / Σ_j e^{S_ij})`` over rows of S and of Sᵀ —
      eq. 3 prints the denominator as ``e^{S_ii} Σ_{j≠i} e^{S_ji}``, read as the sum including
      the positive; eq. 4 is the other direction.
    * ``code`` (``mms_loss.py`` L15-29): S ← S − δI, then cross-entropy of rows of S and of Sᵀ.
    """
    sim = p_a @ p_b.T
    if temperature is not None:
        sim = sim / temperature
    return _directional(sim, margin, form) + _directional(sim.T, margin, form)


def mms_loss(projections: Mapping[str, torch.Tensor], order: tuple[str, ...], margin: float, form: Form,
             temperature: float | None = None) -> torch.Tensor:
    """Eq. 5: the sum of :func:`mms_pair` over the pairs of ``order``.

    Three modalities give the cyclic pairs (m0, m1), (m1, m2), (m2, m0) — the code's order
    ``video, audio, text`` (``contrastive_clustering_model.py`` L514-536) and the same set as
    eq. 5's (v,h), (v,w), (h,w); two give one pair.
    """
    if len(order) < 2:
        raise ValueError(f"the MMS loss needs at least two modalities, got {order}")
    pairs = [(order[0], order[1])] if len(order) == 2 else [(order[i], order[(i + 1) % len(order)])
                                                            for i in range(len(order))]
    return sum(mms_pair(projections[a], projections[b], margin, form, temperature) for a, b in pairs)


def clustering_loss(fused: torch.Tensor, centroids: torch.Tensor, assignment: torch.Tensor, margin: float,
                    form: Form) -> torch.Tensor:
    """Eq. 10: ``-1/N Σ_i log(e^{R_i·C_a(i) - δ} / Σ_k e^{R_i·C_k})`` (raw dot products, no temperature).

    ``fused`` R ``[N, K']``, ``centroids`` C ``[K, K']``, ``assignment`` a(i) ``[N]`` (k-means).
    ``paper``: δ in the numerator only; ``code`` (``clustering_loss.py`` L25-43): δ taken off
    the assigned logit in the numerator and the denominator.
    """
    sim = fused @ centroids.T
    picked = sim.gather(1, assignment[:, None]).squeeze(1)
    if form == "code":
        sim = sim - margin * F.one_hot(assignment, sim.shape[1]).to(sim.dtype)
    return (torch.logsumexp(sim, dim=1) - (picked - margin)).mean()


def reconstruction_loss(targets: Mapping[str, torch.Tensor], outputs: Mapping[str, torch.Tensor]) -> torch.Tensor:
    """Eqs. 6-7: the sum over modalities of the element-mean MSE between backbone feature and Q_m(D_m)."""
    return sum(F.mse_loss(outputs[m], targets[m]) for m in targets)


def info_nce(z_a: torch.Tensor, z_b: torch.Tensor, temperature: float) -> torch.Tensor:
    """Eq. 1 (SimCLR NT-Xent): two views ``[N, P]`` of N clips, cosine similarity over τ.

    For each of the 2N views: ``-log(e^{sim(i, i')/τ} / Σ_{k≠i} e^{sim(i, k)/τ})``, averaged.
    """
    z = F.normalize(torch.cat([z_a, z_b]), dim=1)
    n = z_a.shape[0]
    sim = (z @ z.T) / temperature
    sim = sim.masked_fill(torch.eye(2 * n, dtype=torch.bool, device=z.device), float("-inf"))
    targets = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)]).to(z.device)
    return F.cross_entropy(sim, targets)


def combine(terms: Mapping[str, torch.Tensor], weights: Mapping[str, float],
            mode: Literal["sum", "mean"]) -> torch.Tensor:
    """Eqs. 11-13: ``Σ_t w_t L_t`` (``sum``), or the code's ``LossesMergingLoss(mode='mean')``:
    the same divided by the number of active terms (``losses_merging_loss.py`` L80)."""
    if not terms:
        raise ValueError("no loss term is active")
    total = sum(weights[name] * value for name, value in terms.items())
    return total / len(terms) if mode == "mean" else total
