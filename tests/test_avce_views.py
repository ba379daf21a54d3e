"""AVCE's feature transformations: the closed-form sparsemax against hand cases and brute force."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.optimize
import torch

from bench_methods.avce.views import softmax_view, sparsemax


@pytest.mark.parametrize(("z", "expected"), [
    # sorted 1, 0.5, -1: support 2 (1 + 2·0.5 > 1.5, 1 - 3 < 0.5), tau = (1.5 - 1) / 2
    ([1.0, 0.5, -1.0], [0.75, 0.25, 0.0]),
    # full support: tau = (0.6 - 1) / 3
    ([0.1, 0.2, 0.3], [0.1 + 0.4 / 3, 0.2 + 0.4 / 3, 0.3 + 0.4 / 3]),
    # one dominant entry: tau = 2
    ([3.0, 0.0, 0.0], [1.0, 0.0, 0.0]),
])
def test_sparsemax_hand_cases(z: list[float], expected: list[float]) -> None:
    out = sparsemax(torch.tensor([z], dtype=torch.float64))
    np.testing.assert_allclose(out[0].numpy(), expected, atol=1e-12)


def _projection_bisection(z: np.ndarray) -> np.ndarray:
    """Sort-free reference: bisect the threshold tau with sum(max(z - tau, 0)) = 1."""
    lo, hi = z.min() - 1.0, z.max()
    for _ in range(200):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if np.maximum(z - mid, 0).sum() > 1 else (lo, mid)
    return np.maximum(z - (lo + hi) / 2, 0)


def _projection_qp(z: np.ndarray) -> np.ndarray:
    """Generic-solver reference (like the official CVXPY layer): min ||p - z||² s.t. p >= 0, sum p = 1."""
    result = scipy.optimize.minimize(
        lambda p: np.sum((p - z) ** 2), np.full_like(z, 1 / len(z)), jac=lambda p: 2 * (p - z),
        bounds=[(0, None)] * len(z), constraints=[{"type": "eq", "fun": lambda p: p.sum() - 1}],
        method="SLSQP", options={"ftol": 1e-12, "maxiter": 500})
    assert result.success, result.message
    return result.x


def test_sparsemax_equals_the_euclidean_projection_onto_the_simplex() -> None:
    rng = np.random.default_rng(0)
    # AVCE's z: 32 non-negative features (after ReLU) of various scales, plus signed ones
    z = np.concatenate([np.maximum(rng.normal(0, 1, (20, 32)), 0) * rng.uniform(0.1, 5, (20, 1)),
                        rng.normal(0, 2, (20, 32))])
    out = sparsemax(torch.from_numpy(z)).numpy()
    for row, p in zip(z, out):
        np.testing.assert_allclose(p, _projection_bisection(row), atol=1e-10)
    for row, p in zip(z[::8], out[::8]):
        np.testing.assert_allclose(p, _projection_qp(row), atol=1e-6)
    assert np.allclose(out.sum(1), 1) and (out >= 0).all() and (out == 0).any()


def test_sparsemax_jacobian_is_diag_s_minus_s_st_over_support() -> None:
    z = torch.tensor([0.9, 0.1, 0.6, -0.3, 0.55], dtype=torch.float64)
    jac = torch.autograd.functional.jacobian(lambda t: sparsemax(t[None])[0], z)
    s = (sparsemax(z[None])[0] > 0).double()
    expected = torch.diag(s) - torch.outer(s, s) / s.sum()
    assert s.tolist() == [1.0, 0.0, 1.0, 0.0, 1.0]
    torch.testing.assert_close(jac, expected)


def test_sparsemax_needs_a_batch() -> None:
    with pytest.raises(ValueError, match=r"\[B, d\]"):
        sparsemax(torch.zeros(4))


def test_softmax_view_normalises_each_sample_over_its_features() -> None:
    z = torch.tensor([[0.0, np.log(3.0)], [1.0, 1.0]], dtype=torch.float32)
    torch.testing.assert_close(softmax_view(z), torch.tensor([[0.25, 0.75], [0.5, 0.5]], dtype=torch.float32))
