"""The modality-pairwise contrastive loss of MPUC (ICPR'22, eqs. 1-2) and the official code's variants.

Every variant is one masked softmax over the cosine similarities of the anchors (projections
of modality ``m``) with the contrast rows (projections of modality ``n``), divided by ``tau``:

    log p(a, c) = s(a, c) / tau - log sum_{c' in D(a)} exp(s(a, c') / tau)
    L_a        = - sum_{c in P(a)} log p(a, c) / k(a)

with the positives ``P(a)``, the denominator set ``D(a)`` and the divisor ``k(a)`` of
:class:`~bench_methods.mpuc.config.MPUCConfig` ``positives`` / ``loss_reduction``:

============  ==============================================  =====================================
positives     P(a)                                            D(a)
============  ==============================================  =====================================
paper         the same sample in modality n (eq. 1); with     every other sample j != i (eq. 1's
              two crops, in the OTHER crop                    indicator: the positive is left out),
                                                              in the positive's crop
code          the same sample in n, in the OTHER crop         every column but the same sample in
                                                              the same crop (positive included)
supervised    every same-class row of n, either crop, but     as ``code``
              the same sample in the same crop
============  ==============================================  =====================================

``sum``: ``k = #P`` and ``L^{m,n} = sum_a L_a`` (the paper's ``sum_i L_i``); ``mean_half``:
``k = #P + 1`` and ``L^{m,n} = mean_a L_a`` (``SupConSeparate.py`` L101, L116: one positive
gives the extra 1/2). Eq. 2 averages ``L^{m,n}`` over the ordered pairs of
:func:`ordered_pairs`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
import torch.nn.functional as F

from bench_methods.mpuc.config import Positives, Reduction


def ordered_pairs(modalities: Sequence[str], positives: Positives = "paper") -> list[tuple[str, str]]:
    """The ordered pairs ``(m, n)``, ``m != n``, that eq. 2 sums over: ``|M|(|M|-1)`` of them.

    With ``supervised`` positives the code's label branch never uses the last modality as an
    anchor (``train.py`` L297: ``not idx_feat == len - 1``): ``(|M|-1)^2`` pairs.
    """
    anchors = modalities[:-1] if positives == "supervised" else modalities
    return [(m, n) for m in anchors for n in modalities if m != n]


def _masks(batch: int, views: int, positives: Positives, labels: torch.Tensor | None,
           device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Boolean ``(positive, denominator)`` masks over the ``[views*batch, views*batch]`` logits.

    Rows and columns are ordered view-major (all samples of crop 1, then of crop 2).
    """
    size = views * batch
    sample = torch.arange(size, device=device) % batch
    view = torch.arange(size, device=device) // batch
    same_sample = sample[:, None] == sample[None, :]
    same_view = view[:, None] == view[None, :]
    diagonal = same_sample & same_view
    if positives == "paper":
        if views == 1:
            return diagonal, same_view & ~diagonal
        return same_sample & ~same_view, ~same_view & ~same_sample
    if positives == "code":
        return same_sample & ~same_view, ~diagonal
    if labels is None:
        raise ValueError("supervised positives need the batch's labels")
    klass = labels.reshape(batch).repeat(views)
    return (klass[:, None] == klass[None, :]) & ~diagonal, ~diagonal


def pair_loss(anchor: torch.Tensor, contrast: torch.Tensor, *, positives: Positives, reduction: Reduction,
              temperature: float, labels: torch.Tensor | None = None) -> torch.Tensor:
    """``L^{m,n}`` for projections ``anchor`` (modality m) and ``contrast`` (n), each ``[V, B, D]``.

    ``V`` is the number of temporal crops (1 or 2 for ``paper``, 2 for ``code`` / ``supervised``);
    rows are L2-normalised here, so the dot products are eq. 1's cosine similarities. With
    ``paper`` and two crops every anchor (crop a of m) is eq. 1 against crop b != a of n.
    """
    views, batch = anchor.shape[:2]
    if positives == "paper" and views not in (1, 2):
        raise ValueError(f"paper positives (eq. 1) take one or two crops per sample, got {views}")
    if positives != "paper" and views != 2:
        raise ValueError(f"{positives} positives contrast two crops per sample, got {views}")
    a = F.normalize(anchor.reshape(views * batch, -1), dim=-1)
    c = F.normalize(contrast.reshape(views * batch, -1), dim=-1)
    logits = a @ c.T / temperature
    pos, denom = _masks(batch, views, positives, labels, logits.device)
    log_norm = torch.logsumexp(logits.masked_fill(~denom, float("-inf")), dim=1, keepdim=True)
    log_prob = (logits - log_norm).masked_fill(~pos, 0.0)
    count = pos.sum(dim=1).to(logits.dtype)
    if reduction == "sum":
        return (-log_prob.sum(dim=1) / count.clamp(min=1)).sum()
    return (-log_prob.sum(dim=1) / (count + 1)).mean()


def pairwise_loss(projections: Mapping[str, torch.Tensor], *, positives: Positives, reduction: Reduction,
                  temperature: float, labels: torch.Tensor | None = None) -> torch.Tensor:
    """Eq. 2: the mean of :func:`pair_loss` over :func:`ordered_pairs` of ``projections``' modalities.

    ``projections`` maps each modality, in the code's feature order, to ``[V, B, D]``.
    """
    pairs = ordered_pairs(list(projections), positives)
    if not pairs:
        raise ValueError(f"the pairwise loss needs at least two modalities, got {list(projections)}")
    total = sum(pair_loss(projections[m], projections[n], positives=positives, reduction=reduction,
                          temperature=temperature, labels=labels) for m, n in pairs)
    return total / len(pairs)
