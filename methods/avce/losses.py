"""AVCE's objectives (Kim & Song, ECCV 2022): f (eqs. 2, 4, 5), L_AVCE (eq. 2), L_dis (eq. 8), L_AV.

Every function takes tensors and plain numbers; :func:`contrastive_loss` and
:func:`main_loss` read them from an :class:`~bench_methods.avce.config.AVCEConfig`.
Official-code facts are from ``kdhht2334/AVCE_FER`` ``main.py`` (L138-212) and ``utils.py``
(``pcc_ccc_loss`` L19-32, ``vector_difference`` L13-16, ``penalty_function`` L74-75); each
paper-vs-code difference is a parameter here.
"""

from __future__ import annotations

import dataclasses
import math

import torch
import torch.nn.functional as F

from bench_methods.avce.config import AVCEConfig

NORM_EPS = 1e-8
"""Added to each norm under the code's halved cosine (``a_norm = ||a|| + 1e-8``, L145-146)."""
ANGLE_FLOOR = 1e-6
"""The angular similarity is clipped to (0, 1] (Sec. 4.2) as ``clamp(·, 1e-6, 1)`` (code L149)."""
UNIT_EPS = 1e-6
"""``v / (||v|| + 1e-6)`` in the hold terms of L_dis (code ``utils.vector_difference``)."""
MINING_EPS = 5e-4
MINING_SHARE = 0.7
"""Constants of the code's threshold pair mining (``utils.pair_mining``, ``fixed_sample=0``)."""


def polarity_mismatch(x: torch.Tensor, y: torch.Tensor, valence: int) -> torch.Tensor:
    """1.0 where the valence signs of x and y differ (``torch.sign``, so 0 ≠ ±), else 0.0."""
    return (torch.sign(x[..., valence]) != torch.sign(y[..., valence])).to(x.dtype)


def similarity(x: torch.Tensor, y: torch.Tensor, kind: str, mu: float, cosine_scale: float = 1.0,
               angle_scale: float = 1.0) -> torch.Tensor:
    """f without the polarity term, for 2-D AV vectors on the last axis (leading axes broadcast).

    ``kind="f"`` (eq. 4): ``clamp(1 − angle_scale·θ/π, 1e-6, 1) + μ(1 − | ||x|| − ||y|| |)``.
    Paper (scales 1, μ 0.75): θ = ∠(x, y) ∈ [0, π], computed as atan2(|x × y|, x·y), which
    equals acos(x·y / (||x|| ||y||)) and keeps a finite gradient at θ = 0 and π. Code (μ 0.8,
    ``cosine_scale`` 0.5, ``angle_scale`` 0.25, L143-149): θ = acos(0.5·x·y / ((||x||+ε)(||y||+ε))),
    which lies in [π/3, 2π/3]. ``kind="f1"`` (Sec. 3.4): ||x|| ||y|| cos θ = x·y.
    """
    if x.shape[-1] != 2 or y.shape[-1] != 2:
        raise ValueError(f"similarity compares 2-D AV vectors, got shapes {tuple(x.shape)} and {tuple(y.shape)}")
    dot = (x * y).sum(-1)
    if kind == "f1":
        return dot
    if kind != "f":
        raise ValueError(f"similarity kind must be 'f' or 'f1', got {kind!r}")
    nx, ny = x.norm(dim=-1), y.norm(dim=-1)
    if cosine_scale == 1.0:
        cross = x[..., 0] * y[..., 1] - x[..., 1] * y[..., 0]
        theta = torch.atan2(cross.abs(), dot)
    else:
        theta = torch.acos(cosine_scale * dot / ((nx + NORM_EPS) * (ny + NORM_EPS)))
    angular = (1.0 - angle_scale * theta / math.pi).clamp(ANGLE_FLOOR, 1.0)
    return angular + mu * (1.0 - (nx - ny).abs())


def pair_scores(x: torch.Tensor, y: torch.Tensor, cfg: AVCEConfig, valence: int) -> torch.Tensor:
    """f(x_i, y_i) of eq. 4 (or f1) plus ``polarity_penalty``·1[valence signs differ] (eq. 5): [B].

    With ``polarity_broadcast`` (official-code bug, ``main.py`` L164-165) the penalty vector is
    subtracted from the similarity column and broadcasts: ``[B, B]`` with entry (i, j) =
    f_i + penalty·mismatch_j.
    """
    base = similarity(x, y, cfg.similarity, cfg.mu, cfg.cosine_scale, cfg.angle_scale)
    penalty = cfg.polarity_penalty * polarity_mismatch(x, y, valence)
    if cfg.polarity_broadcast:
        return base[:, None] + penalty[None, :]
    return base + penalty


def avce_objective(f_pos: torch.Tensor, f_neg: torch.Tensor, alpha: float, beta: float, gamma: float,
                   reduction: str) -> torch.Tensor:
    """Eq. 2 estimated on a batch: E⁺f − α E⁻f − β/2 E⁺f² − γ/2 E⁻f², to be maximised.

    The expectations are means over the entries of ``f_pos`` (pairs (x_i, y_a,i)) and
    ``f_neg`` (pairs (x_i, y_n,i)); ``reduction="sum"`` multiplies by the number of rows of
    ``f_pos``, the code's Σ_i [f⁺_i − α mean f⁻ − ½β (f⁺_i)² − ½γ mean (f⁻)²] (L167-171).
    """
    value = f_pos.mean() - alpha * f_neg.mean() - 0.5 * beta * f_pos.pow(2).mean() - 0.5 * gamma * f_neg.pow(2).mean()
    if reduction == "sum":
        return value * f_pos.shape[0]
    if reduction != "mean":
        raise ValueError(f"reduction must be 'mean' or 'sum', got {reduction!r}")
    return value


def mined_negatives(x: torch.Tensor, y_neg: torch.Tensor) -> torch.Tensor:
    """Rows kept by the code's threshold pair mining for negatives (``utils.pair_mining``).

    With S = x y_negᵀ and m_j = min_i S_ij, row i is kept when S_ij > m_j + 5e-4 for at least
    70 % of the columns j. The code's calls are commented out (``main.py`` L135-136); the
    paper applies mining "as post-processing for negative pair sampling" (Table 4, citing
    ref. 6). When no row qualifies every row is kept (the code would average an empty set).
    """
    with torch.no_grad():
        scores = x @ y_neg.T
        above = scores > scores.min(dim=0).values[None, :] + MINING_EPS
        kept = torch.nonzero(above.to(x.dtype).mean(dim=1) >= MINING_SHARE).flatten()
    return kept if kept.numel() else torch.arange(x.shape[0], device=x.device)


def infonce(f_pos: torch.Tensor, f_neg_matrix: torch.Tensor) -> torch.Tensor:
    """Eq. 1 estimated on a batch, to be maximised: mean_i log(e^{f⁺_i} / mean(e^{f⁺_i}, e^{f⁻_i1..iN})).

    bench's reading of the Table 4 row with AVCE's views: for anchor x_i the positive is
    (x_i, y_a,i) and the negatives are (x_i, y_n,j) for every j of the batch
    (``f_neg_matrix[i, j]``); the mean runs over these N + 1 terms, eq. 1's (1/N) Σ_{j=1}^{N}
    with the positive as term 1.
    """
    logits = torch.cat([f_pos[:, None], f_neg_matrix], dim=1)
    return (f_pos - torch.logsumexp(logits, dim=1) + math.log(logits.shape[1])).mean()


def barlow_twins(a: torch.Tensor, b: torch.Tensor, lam: float) -> torch.Tensor:
    """Barlow Twins (Zbontar et al. 2021, ref. 56), minimised: Σ_k (1 − C_kk)² + λ Σ_{k≠l} C_kl².

    C = ânᵀ b̂ / N of the embeddings standardised along the batch (biased variance, eps 1e-5,
    as ``BatchNorm1d(affine=False)``). bench's reading of the Table 4 row: the two views are
    x = R(z) and y_a = H(z_a), the positive pair of AVCE.
    """
    def standardised(t: torch.Tensor) -> torch.Tensor:
        return (t - t.mean(0)) / torch.sqrt(t.var(0, unbiased=False) + 1e-5)

    c = standardised(a).T @ standardised(b) / a.shape[0]
    diagonal = torch.diagonal(c)
    return (1.0 - diagonal).pow(2).sum() + lam * (c.pow(2).sum() - diagonal.pow(2).sum())


def contrastive_loss(cfg: AVCEConfig, x: torch.Tensor, y_a: torch.Tensor, y_n: torch.Tensor,
                     valence: int) -> torch.Tensor:
    """The contrastive term of L_main = L_AV + this: −w·L_AVCE (or −w·InfoNCE, or +w·L_BT).

    L_AVCE and InfoNCE are maximised (eq. 2's sup; the code's ``− 1e-4·AVCE``), so their
    negation is added; ``w`` is ``contrastive_weight`` (paper 1, code 1e-4).
    """
    if cfg.contrastive == "barlow_twins":
        return cfg.contrastive_weight * barlow_twins(x, y_a, cfg.barlow_lambda)
    f_pos = pair_scores(x, y_a, cfg, valence)
    if cfg.contrastive == "infonce":
        f_matrix = (similarity(x[:, None], y_n[None], cfg.similarity, cfg.mu, cfg.cosine_scale, cfg.angle_scale)
                    + cfg.polarity_penalty * polarity_mismatch(x[:, None], y_n[None], valence))
        return -cfg.contrastive_weight * infonce(f_pos, f_matrix)
    keep = mined_negatives(x, y_n) if cfg.negative_mining else slice(None)
    f_neg = pair_scores(x[keep], y_n[keep], cfg, valence)
    return -cfg.contrastive_weight * avce_objective(f_pos, f_neg, cfg.alpha, cfg.beta, cfg.gamma, cfg.avce_reduction)


@dataclasses.dataclass(frozen=True)
class AVTerms:
    """L_AV and its parts: the error term, L_PCC and L_CCC (each 1 − mean over the axes)."""

    total: torch.Tensor
    error: torch.Tensor
    pcc: torch.Tensor
    ccc: torch.Tensor


def correlations(pred: torch.Tensor, label: torch.Tensor, moments: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-axis PCC and CCC of [B, D] predictions and labels (each [D]).

    ``standard``: population moments, PCC = s_pl / (s_p s_l), CCC = 2 s_pl / (s_p² + s_l² + Δμ²).
    ``code`` (``utils.pcc_ccc_loss``): PCC = mean of the products / (unbiased std · unbiased std),
    CCC = 2 s_l s_p PCC / (s_l² + s_p² + Δμ²) with the unbiased stds. 1e-8 guards the
    denominators (a constant prediction gives 0 instead of the code's NaN).
    """
    dp, dl = pred - pred.mean(0), label - label.mean(0)
    cov = (dp * dl).mean(0)
    unbiased = moments == "code"
    if moments not in ("standard", "code"):
        raise ValueError(f"moments must be 'standard' or 'code', got {moments!r}")
    sp, sl = pred.std(0, unbiased=unbiased), label.std(0, unbiased=unbiased)
    pcc = cov / (sp * sl + 1e-8)
    shift = (pred.mean(0) - label.mean(0)).pow(2)
    ccc = 2.0 * sp * sl * pcc / (sp.pow(2) + sl.pow(2) + shift + 1e-8)
    return pcc, ccc


def av_loss(pred: torch.Tensor, label: torch.Tensor, error: str, moments: str) -> AVTerms:
    """L_AV = L_RMSE + (L_PCC + L_CCC)/2 (Sec. 4.2), L_C(/P)CC = 1 − (C(/P)CC_a + C(/P)CC_v)/2.

    ``error="rmse"``: Σ over the axes of the per-axis RMSE (bench's reading of L_RMSE, parallel
    to the code's MSE_v + MSE_a; the mean square is floored at 1e-12 so the root stays
    differentiable); ``"mse"``: the code's MSE_v + MSE_a.
    """
    squared = (pred - label).pow(2).mean(0)
    if error == "rmse":
        err = squared.clamp_min(1e-12).sqrt().sum()
    elif error == "mse":
        err = squared.sum()
    else:
        raise ValueError(f"error must be 'rmse' or 'mse', got {error!r}")
    pcc, ccc = correlations(pred, label, moments)
    l_pcc, l_ccc = 1.0 - pcc.mean(), 1.0 - ccc.mean()
    return AVTerms(err + 0.5 * (l_pcc + l_ccc), err, l_pcc, l_ccc)


def dis_loss(v: torch.Tensor, v_a: torch.Tensor, v_n: torch.Tensor, delta1: float, delta2: float,
             hold_weight: float, reduction: str) -> torch.Tensor:
    """Eq. 8: Σ [δ1 − ||v_a − v_n||²]_+ + w((||v̄_a|| − δ2) + (||v̄_n|| − δ2)), v̄_* = v̂_* − v̂.

    v̂ = v / (||v|| + 1e-6). Paper: sum over the batch, w = 1, δ1 = 1, δ2 = 0.8; code (L211-212):
    means, w = 0.01, δ2 = 1. The hold terms are linear in ||v̄||, so δ2 shifts the value only
    (its gradient does not depend on δ2).
    """
    push = F.relu(delta1 - (v_a - v_n).pow(2).sum(1))

    def unit(t: torch.Tensor) -> torch.Tensor:
        return t / (t.norm(dim=1, keepdim=True) + UNIT_EPS)

    hold = ((unit(v_a) - unit(v)).norm(dim=1) - delta2) + ((unit(v_n) - unit(v)).norm(dim=1) - delta2)
    per_sample = push + hold_weight * hold
    if reduction == "sum":
        return per_sample.sum()
    if reduction != "mean":
        raise ValueError(f"reduction must be 'mean' or 'sum', got {reduction!r}")
    return per_sample.mean()


def main_loss(cfg: AVCEConfig, x: torch.Tensor, y_a: torch.Tensor, y_n: torch.Tensor, label: torch.Tensor,
              valence: int) -> tuple[torch.Tensor, AVTerms, torch.Tensor]:
    """L_main of pass 1 (Algorithm 1): L_AV(x, GT) plus the contrastive term; also returns both parts."""
    av = av_loss(x, label, cfg.av_error, cfg.loss_moments)
    contrast = contrastive_loss(cfg, x, y_a, y_n, valence)
    return av.total + contrast, av, contrast
