"""AVCE's loss terms, each on a 3-sample case computed by hand (values in the comments)."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch

from bench_methods.avce.config import AVCEConfig
from bench_methods.avce.losses import (
    av_loss, avce_objective, barlow_twins, contrastive_loss, dis_loss, infonce, mined_negatives, pair_scores,
    similarity,
)

# x = (1, 0), (3, 4), (1, 0) against y = (0, 1), (0.6, 0.8), (-0.5, 0): angles pi/2, 0, pi;
# norms (1, 1), (5, 1), (1, 0.5); valence signs differ in pairs 1 (+ vs 0) and 3 (+ vs -).
X = torch.tensor([[1.0, 0.0], [3.0, 4.0], [1.0, 0.0]], dtype=torch.float64)
Y = torch.tensor([[0.0, 1.0], [0.6, 0.8], [-0.5, 0.0]], dtype=torch.float64)
PAPER = AVCEConfig()


def close(actual: torch.Tensor, expected: list[float] | float, tol: float = 1e-6) -> None:
    torch.testing.assert_close(actual, torch.tensor(expected, dtype=actual.dtype), atol=tol, rtol=0)


def test_f_of_eq_4_with_the_paper_values() -> None:
    # angular 1 - theta/pi: 0.5, 1, 0 -> clipped to 1e-6; intensity 0.75 (1 - |dnorm|): 0.75, -2.25, 0.375
    close(similarity(X, Y, "f", mu=0.75), [1.25, -1.25, 0.375001])


def test_f_with_the_codes_halved_cosine_and_quarter_angle() -> None:
    # theta' = acos(cos / 2) = pi/2, pi/3, 2pi/3 -> 1 - 0.25 theta'/pi = 0.875, 11/12, 5/6; intensity 0.8 (...)
    close(similarity(X, Y, "f", mu=0.8, cosine_scale=0.5, angle_scale=0.25),
          [0.875 + 0.8, 11 / 12 - 2.4, 5 / 6 + 0.4])


def test_f1_is_the_dot_product() -> None:
    close(similarity(X, Y, "f1", mu=0.75), [0.0, 5.0, -0.5])


def test_f2_adds_the_polarity_penalty_where_valence_signs_differ() -> None:
    f2 = dataclasses.replace(PAPER, polarity_penalty=-0.5)
    close(pair_scores(X, Y, f2, valence=0), [1.25 - 0.5, -1.25, 0.375001 - 0.5])
    # on axis 1 the signs are (0, +), (+, +), (0, 0): only pair 1 differs
    close(pair_scores(X, Y, f2, valence=1), [1.25 - 0.5, -1.25, 0.375001])


def test_l_avce_mean_and_the_codes_batch_sum() -> None:
    f_pos = torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64)
    f_neg = torch.tensor([0.0, 1.0, 2.0], dtype=torch.float64)
    # 2 - 0.5*1 - 0.0025*14/3 - 0.25*5/3
    close(avce_objective(f_pos, f_neg, 0.5, 0.005, 0.5, "mean"), 1.5 - 0.035 / 3 - 1.25 / 3)
    # the code's loop: sum_i [f+_i - 0.5 mean f- - 0.0025 (f+_i)^2 - 0.25 mean (f-)^2] = 6 - 1.5 - 0.035 - 1.25
    close(avce_objective(f_pos, f_neg, 0.5, 0.005, 0.5, "sum"), 3.215)


def _code_avce_loop(pos: torch.Tensor, neg: torch.Tensor, alpha: float, beta: float, gamma: float) -> torch.Tensor:
    """main.py L167-171 transcribed: the loop over rows of the (broadcast) similarity, then .mean()."""
    total = 0.0
    for i in range(pos.shape[0]):
        total = total + pos[i] - alpha * neg.mean() - 0.5 * beta * pos[i].pow(2) - 0.5 * gamma * neg.pow(2).mean()
    return torch.as_tensor(total).mean()


def test_polarity_broadcast_reproduces_the_codes_b_by_b_similarity() -> None:
    code = dataclasses.replace(PAPER, mu=0.8, cosine_scale=0.5, angle_scale=0.25, polarity_penalty=-0.05,
                               polarity_broadcast=True, avce_reduction="sum")
    y_neg = torch.tensor([[-1.0, 1.0], [0.2, 0.1], [0.3, -0.3]], dtype=torch.float64)
    pos, neg = pair_scores(X, Y, code, 0), pair_scores(X, y_neg, code, 0)
    assert pos.shape == neg.shape == (3, 3)
    base = similarity(X, Y, "f", 0.8, 0.5, 0.25)
    close(pos, (base[:, None] - 0.05 * torch.tensor([1.0, 0.0, 1.0], dtype=torch.float64)[None, :]).tolist())
    reference = _code_avce_loop(pos, neg, 0.5, 0.005, 0.5)
    close(avce_objective(pos, neg, 0.5, 0.005, 0.5, "sum"), float(reference), tol=1e-12)
    per_sample = dataclasses.replace(code, polarity_broadcast=False)
    unbugged = avce_objective(pair_scores(X, Y, per_sample, 0), pair_scores(X, y_neg, per_sample, 0),
                              0.5, 0.005, 0.5, "sum")
    assert abs(float(unbugged) - float(reference)) > 1e-4  # the bug changes the value


def test_infonce_on_a_hand_case() -> None:
    f_pos = torch.tensor([1.0, 0.0, 2.0], dtype=torch.float64)
    # every negative similarity 0: row i gives f_i - log((e^{f_i} + 3) / 4)
    expected = sum(f - math.log((math.exp(f) + 3) / 4) for f in (1.0, 0.0, 2.0)) / 3
    close(infonce(f_pos, torch.zeros(3, 3, dtype=torch.float64)), expected, tol=1e-12)


def test_barlow_twins_on_a_hand_case() -> None:
    a = torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, -1.0]], dtype=torch.float64)
    # biased variances 2/3, covariance 1/3: C = r [[1, .5], [.5, 1]], r = (2/3) / (2/3 + 1e-5) (the eps)
    r = (2 / 3) / (2 / 3 + 1e-5)
    close(barlow_twins(a, a, 0.005), 2 * (1 - r) ** 2 + 0.005 * 2 * (0.5 * r) ** 2, tol=1e-12)
    close(barlow_twins(a, -a, 0.005), 2 * (1 + r) ** 2 + 0.005 * 2 * (0.5 * r) ** 2, tol=1e-12)


def test_l_av_paper_and_code_forms() -> None:
    label = torch.tensor([[-1.0, 1.0], [0.0, 0.0], [1.0, -1.0]], dtype=torch.float64)
    pred = torch.tensor([[-0.5, 2.0], [0.0, 1.0], [0.5, 0.0]], dtype=torch.float64)
    # valence: RMSE sqrt(1/6), PCC 1, CCC (2/3) / (2/3 + 1/6) = 0.8; arousal: RMSE 1, PCC 1,
    # CCC (4/3) / (2/3 + 2/3 + 1) = 4/7
    terms = av_loss(pred, label, "rmse", "standard")
    close(terms.error, math.sqrt(1 / 6) + 1)
    close(terms.pcc, 0.0)
    close(terms.ccc, 1 - (0.8 + 4 / 7) / 2)
    close(terms.total, math.sqrt(1 / 6) + 1 + 0.5 * (1 - (0.8 + 4 / 7) / 2))
    close(av_loss(pred, label, "mse", "standard").error, 1 / 6 + 1)
    # the code's moments: PCC = biased cov / unbiased stds = r (N-1)/N = 2/3 on both axes;
    # CCC = 2 s_l s_p PCC / (s_l^2 + s_p^2 + dmu^2) with unbiased s: (2/3)/1.25 and (4/3)/3
    code = av_loss(pred, label, "mse", "code")
    close(code.pcc, 1 / 3)
    close(code.ccc, 1 - ((2 / 3) / 1.25 + (4 / 3) / 3) / 2)
    close(code.total, 1 / 6 + 1 + 0.5 * (1 / 3 + 1 - ((2 / 3) / 1.25 + (4 / 3) / 3) / 2))


V = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]], dtype=torch.float64)
V_A = torch.tensor([[2.0, 0.0], [0.0, 1.0], [-1.0, 0.0]], dtype=torch.float64)
V_N = torch.tensor([[1.5, 0.0], [0.0, 3.0], [0.0, -1.0]], dtype=torch.float64)
# push [1 - ||v_a - v_n||^2]_+: 0.75, 0, 0; unit-vector differences ||v^_a - v^||, ||v^_n - v^||:
# (0, 0), (sqrt 2, sqrt 2), (sqrt 2, 2)


def test_l_dis_of_eq_8_with_the_paper_values() -> None:
    hold = 3 * math.sqrt(2) + 2 - 6 * 0.8
    close(dis_loss(V, V_A, V_N, 1.0, 0.8, 1.0, "sum"), 0.75 + hold, tol=1e-5)


def test_l_dis_with_the_code_values() -> None:
    hold_mean = (3 * math.sqrt(2) + 2 - 6 * 1.0) / 3
    close(dis_loss(V, V_A, V_N, 1.0, 1.0, 0.01, "mean"), 0.25 + 0.01 * hold_mean, tol=1e-6)


def test_delta2_shifts_l_dis_without_changing_its_gradient() -> None:
    grads = []
    for delta2 in (0.8, 1.0):
        v_a = V_A.clone().requires_grad_()
        loss = dis_loss(V, v_a, V_N, 1.0, delta2, 1.0, "sum")
        loss.backward()
        grads.append((float(loss.detach()), v_a.grad))
    assert grads[0][0] - grads[1][0] == pytest.approx(6 * 0.2)
    torch.testing.assert_close(grads[0][1], grads[1][1])


def test_mining_drops_the_negatives_that_are_the_easiest_in_every_column() -> None:
    x = torch.tensor([[1.0, 0.0], [2.0, 0.0], [3.0, 0.0]])
    y_neg = torch.ones(3, 2)
    # S_ij = x_i0: row 0 is the column minimum everywhere, rows 1 and 2 exceed it in 100 % of columns
    assert mined_negatives(x, y_neg).tolist() == [1, 2]
    assert mined_negatives(torch.ones(3, 2), y_neg).tolist() == [0, 1, 2]  # none qualifies: all kept


def test_mining_restricts_the_negative_expectation_of_l_avce() -> None:
    cfg = dataclasses.replace(PAPER, negative_mining=True)
    x = torch.tensor([[1.0, 0.0], [2.0, 0.0], [3.0, 0.0]], dtype=torch.float64)
    y_a = torch.tensor([[0.4, 0.1], [0.3, -0.2], [0.1, 0.1]], dtype=torch.float64)
    y_n = torch.tensor([[0.2, 0.2], [0.2, 0.2], [0.2, 0.2]], dtype=torch.float64)
    f_pos = pair_scores(x, y_a, cfg, 0)
    expected = -avce_objective(f_pos, pair_scores(x[1:], y_n[1:], cfg, 0), 0.5, 0.005, 0.5, "mean")
    close(contrastive_loss(cfg, x, y_a, y_n, 0), float(expected), tol=1e-12)
    unmined = contrastive_loss(PAPER, x, y_a, y_n, 0)
    assert abs(float(unmined) - float(expected)) > 1e-3


def test_contrastive_term_signs_and_weights() -> None:
    y_n = torch.tensor([[0.1, -0.3], [0.2, 0.2], [-0.4, 0.1]], dtype=torch.float64)
    objective = avce_objective(pair_scores(X, Y, PAPER, 0), pair_scores(X, y_n, PAPER, 0), 0.5, 0.005, 0.5, "mean")
    close(contrastive_loss(PAPER, X, Y, y_n, 0), -float(objective), tol=1e-12)  # maximised
    weighted = dataclasses.replace(PAPER, contrastive_weight=1e-4, avce_reduction="sum")
    close(contrastive_loss(weighted, X, Y, y_n, 0), -1e-4 * 3 * float(objective), tol=1e-12)
    bt = dataclasses.replace(PAPER, contrastive="barlow_twins")
    close(contrastive_loss(bt, X, Y, y_n, 0), float(barlow_twins(X, Y, 0.005)), tol=1e-12)  # minimised
