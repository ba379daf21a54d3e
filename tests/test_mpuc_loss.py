"""MPUC's pairwise contrastive loss (ICPR'22 eqs. 1-2) and the official code's variants, by hand."""

from __future__ import annotations

import math

import pytest
import torch

from bench_methods.mpuc.loss import ordered_pairs, pair_loss, pairwise_loss

E = math.e
# Three samples, two modalities, unit vectors whose cosine similarities are 1, 0 or -1:
#   S[i][j] = a_i . c_j = [[1, 0, 0], [0, 1, -1], [-1, 0, 0]]
A = torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]])
C = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.0, -1.0]])


def test_paper_eq1_three_samples_by_hand() -> None:
    # L_i = -log(exp(S_ii) / sum_{j != i} exp(S_ij)), tau = 1, summed over i:
    # L_1 = -(1 - log 2), L_2 = -(1 - log(1 + 1/e)), L_3 = -(0 - log(1/e + 1)).
    expected = -(1 - math.log(2)) - (1 - math.log(1 + 1 / E)) + math.log(1 + 1 / E)
    got = pair_loss(A[None], C[None], positives="paper", reduction="sum", temperature=1.0)
    assert got.item() == pytest.approx(expected, abs=1e-6)
    # Scaling the vectors changes nothing (cosine similarity); tau divides every similarity.
    assert pair_loss(3 * A[None], 0.5 * C[None], positives="paper", reduction="sum",
                     temperature=1.0).item() == pytest.approx(expected, abs=1e-6)
    at_half = -(2 - math.log(2)) - (2 - math.log(1 + E**-2)) + math.log(1 + E**-2)
    assert pair_loss(A[None], C[None], positives="paper", reduction="sum",
                     temperature=0.5).item() == pytest.approx(at_half, abs=1e-6)


def test_paper_eq1_with_two_crops_contrasts_each_crop_with_the_other() -> None:
    # Anchors of crop a (modality m) take eq. 1 against crop b != a of modality n, so with two
    # identical crops the loss is twice the one-crop loss of the hand-computed case above ...
    one = -(1 - math.log(2)) - (1 - math.log(1 + 1 / E)) + math.log(1 + 1 / E)
    got = pair_loss(torch.stack([A, A]), torch.stack([C, C]), positives="paper", reduction="sum", temperature=1.0)
    assert got.item() == pytest.approx(2 * one, abs=1e-6)
    # ... and with crops (C, X) of n, crop-1 anchors see only X and crop-2 anchors only C.
    X = torch.tensor([[0.0, 1.0], [1.0, 0.0], [-1.0, 0.0]])
    mixed = pair_loss(torch.stack([A, A]), torch.stack([C, X]), positives="paper", reduction="sum", temperature=1.0)
    alone = pair_loss(A[None], X[None], positives="paper", reduction="sum", temperature=1.0)
    assert mixed.item() == pytest.approx(one + alone.item(), abs=1e-6)
    # X by hand: S = A X^T = [[0, 1, -1], [1, 0, 0], [0, -1, 1]]; L_i = -S_ii + log sum_{j != i} exp(S_ij)
    by_hand = (0 + math.log(E + 1 / E)) + (0 + math.log(E + 1)) + (-1 + math.log(1 + 1 / E))
    assert alone.item() == pytest.approx(by_hand, abs=1e-6)


def test_code_variant_three_samples_two_identical_crops_by_hand() -> None:
    # Both crops equal: the 6x6 logits are S tiled 2x2. Anchor (crop 1, i): positive (crop 2, i);
    # the same-crop pair (crop 1, i) is out of numerator and denominator; the positive stays in
    # the denominator: denom_i = sum_j exp(S_ij) + sum_{j != i} exp(S_ij).
    denominators = [E + 4, E + 2 + 2 / E, 3 + 2 / E]
    diagonal = [1.0, 1.0, 0.0]
    log_p = [s - math.log(d) for s, d in zip(diagonal, denominators)]
    views = lambda x: torch.stack([x, x])  # noqa: E731
    mean_half = pair_loss(views(A), views(C), positives="code", reduction="mean_half", temperature=1.0)
    assert mean_half.item() == pytest.approx(sum(-0.5 * lp for lp in log_p) / 3, abs=1e-6)  # code: the extra 1/2
    summed = pair_loss(views(A), views(C), positives="code", reduction="sum", temperature=1.0)
    assert summed.item() == pytest.approx(2 * sum(-lp for lp in log_p), abs=1e-6)


def test_supervised_positives_follow_the_class_mask() -> None:
    # labels [0, 1, 0]: anchor (crop 1, sample 1) has positives (crop 2, 1), (crop 1, 3), (crop 2, 3).
    views = torch.stack([A, A]), torch.stack([C, C])
    labels = torch.tensor([0, 1, 0])
    got = pair_loss(*views, positives="supervised", reduction="mean_half", temperature=1.0, labels=labels)
    logits = (A @ C.T).tolist()

    def row_loss(i: int) -> float:
        denom = sum(math.exp(v) for v in logits[i]) * 2 - math.exp(logits[i][i])
        pos = [(j, same) for j in range(3) for same in (True, False)
               if labels[j] == labels[i] and not (j == i and same)]
        return -sum(logits[i][j] - math.log(denom) for j, _ in pos) / (len(pos) + 1)

    assert got.item() == pytest.approx(sum(row_loss(i) for i in range(3)) / 3, abs=1e-6)
    with pytest.raises(ValueError, match="labels"):
        pair_loss(*views, positives="supervised", reduction="sum", temperature=1.0)


def test_loss_is_asymmetric_and_eq2_averages_ordered_pairs() -> None:
    kw = dict(positives="paper", reduction="sum", temperature=0.07)
    a, c = torch.randn(5, 4, generator=torch.Generator().manual_seed(0)), torch.eye(5, 4)
    mn = pair_loss(a[None], c[None], **kw)
    nm = pair_loss(c[None], a[None], **kw)
    assert abs(mn.item() - nm.item()) > 0.1  # negatives come from one modality only
    assert pairwise_loss({"audio": a[None], "landmarks": c[None]}, **kw).item() == pytest.approx((mn + nm).item() / 2)


def test_views_must_match_the_positives() -> None:
    with pytest.raises(ValueError, match="one or two crops"):
        pair_loss(torch.stack([A, A, A]), torch.stack([C, C, C]), positives="paper", reduction="sum", temperature=1.0)
    with pytest.raises(ValueError, match="two crops"):
        pair_loss(A[None], C[None], positives="code", reduction="sum", temperature=1.0)
    with pytest.raises(ValueError, match="at least two modalities"):
        pairwise_loss({"audio": A[None]}, positives="paper", reduction="sum", temperature=1.0)


@pytest.mark.parametrize("modalities, count", [(["audio", "landmarks"], 2), (["audio", "landmarks", "video"], 6),
                                               (["audio", "landmarks", "video", "text"], 12)])
def test_ordered_pairs_of_2_3_4_modalities(modalities: list[str], count: int) -> None:
    pairs = ordered_pairs(modalities)
    assert len(pairs) == count == len(modalities) * (len(modalities) - 1)
    assert len(set(pairs)) == count and all(m != n for m, n in pairs)
    assert {m for m, _ in pairs} == set(modalities)


def test_ordered_pairs_of_the_code_label_branch_skip_the_last_anchor() -> None:
    assert ordered_pairs(["audio", "landmarks"], "supervised") == [("audio", "landmarks")]
    three = ordered_pairs(["audio", "landmarks", "video"], "supervised")
    assert three == [("audio", "landmarks"), ("audio", "video"), ("landmarks", "audio"), ("landmarks", "video")]
    assert len(ordered_pairs(["audio", "landmarks", "video", "text"], "supervised")) == 9  # (M - 1)^2
