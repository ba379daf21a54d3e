"""Regression metrics: ``outputs`` and ``targets`` are values ``[N, D]``, one column per axis."""

from __future__ import annotations

import numpy as np

from bench.metrics.registry import _per_axis, _per_label, register

AVCE_BATCH_SIZE = 64
"""Batch size of the AVCE official evaluation loop, over which ``rmse_batched`` averages."""


def _constant(x: np.ndarray) -> bool:
    return bool(np.all(x == x[0]))


def _rms(d: np.ndarray) -> float:
    """Root mean square, computed on ``d / max|d|`` so huge or tiny values cannot over/underflow."""
    scale = np.max(np.abs(d))
    if scale == 0:
        return 0.0
    return float(scale * np.sqrt(np.mean((d / scale) ** 2)))


def _rescale(*xs: np.ndarray) -> tuple[np.ndarray, ...]:
    """Divide all arrays by their common largest magnitude (scale-invariant scores only)."""
    scale = max(float(np.max(np.abs(x))) for x in xs)
    return tuple(x / scale for x in xs) if scale > 0 else xs


def _pcc_axis(p: np.ndarray, y: np.ndarray) -> float:
    if _constant(p) or _constant(y):
        return 0.0
    (p,) = _rescale(p)
    (y,) = _rescale(y)
    dp = p - p.mean()
    dy = y - y.mean()
    r = np.sum(dp * dy) / np.sqrt(np.sum(dp * dp) * np.sum(dy * dy))
    return float(np.clip(r, -1.0, 1.0))


def _ccc_degenerate(p: np.ndarray, y: np.ndarray) -> float | None:
    """CCC when a side is constant: 1.0 if both are the same constant, else 0.0; None otherwise."""
    if _constant(p) or _constant(y):
        return float(_constant(p) and _constant(y) and p[0] == y[0])
    return None


def _ccc_axis(p: np.ndarray, y: np.ndarray) -> float:
    degenerate = _ccc_degenerate(p, y)
    if degenerate is not None:
        return degenerate
    p, y = _rescale(p, y)
    s_py = np.mean((p - p.mean()) * (y - y.mean()))
    return float(2 * s_py / (np.var(p) + np.var(y) + (p.mean() - y.mean()) ** 2))


def _sagr_axis(p: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean(np.sign(p) == np.sign(y)))


def _pcc_avce_axis(p: np.ndarray, y: np.ndarray) -> float:
    if _constant(p) or _constant(y):
        return 0.0
    (p,) = _rescale(p)
    (y,) = _rescale(y)
    cov_unbiased = np.sum((p - p.mean()) * (y - y.mean())) / (len(y) - 1)
    return float(cov_unbiased / (np.std(y) * np.std(p)))


def _ccc_avce_axis(p: np.ndarray, y: np.ndarray) -> float:
    degenerate = _ccc_degenerate(p, y)
    if degenerate is not None:
        return degenerate
    p, y = _rescale(p, y)
    cov_unbiased = np.sum((p - p.mean()) * (y - y.mean())) / (len(y) - 1)
    return float(2 * cov_unbiased / (np.var(y) + np.var(p) + (y.mean() - p.mean()) ** 2))


def _rmse_batched_axis(p: np.ndarray, y: np.ndarray) -> float:
    d = p - y
    starts = range(0, len(d), AVCE_BATCH_SIZE)
    return float(np.mean([_rms(d[s : s + AVCE_BATCH_SIZE]) for s in starts]))


def _sagr_avce_axis(p: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean((np.sign(p) == np.sign(y)) & (y != 0)))


@register("rmse", ("regression",), higher_is_better=False)
def rmse(outputs: np.ndarray, targets: np.ndarray, label_names: tuple[str, ...]) -> dict[str, float]:
    """Root mean squared error per axis, sqrt(Σ_i (ŷ_i − y_i)² / N); headline = mean over axes.

    The standard definition of the AVCE (ECCV 2022) tables (see ``rmse_batched`` for its code).
    """
    return _per_axis(lambda p, y: _rms(p - y), outputs, targets, label_names)


@register("pcc", ("regression",))
def pcc(outputs: np.ndarray, targets: np.ndarray, label_names: tuple[str, ...]) -> dict[str, float]:
    """Pearson r per axis, Σ(ŷ−μ_ŷ)(y−μ_y) / sqrt(Σ(ŷ−μ_ŷ)²·Σ(y−μ_y)²); mean over axes.

    Standard definition of the AVCE (ECCV 2022) tables. Constant predictions or constant
    labels leave r undefined; it is reported as 0.0 (no correlation), never NaN.
    """
    return _per_axis(_pcc_axis, outputs, targets, label_names)


@register("ccc", ("regression",))
def ccc(outputs: np.ndarray, targets: np.ndarray, label_names: tuple[str, ...]) -> dict[str, float]:
    """Lin's concordance per axis, 2·s_xy / (s_x² + s_y² + (μ_x − μ_y)²); mean over axes.

    Population (biased, 1/N) moments; standard definition of the AVCE (ECCV 2022) tables.
    One constant side gives 0.0 (the formula's value); both constant gives 1.0 if they are
    the same value and 0.0 otherwise, never NaN.
    """
    return _per_axis(_ccc_axis, outputs, targets, label_names)


@register("sagr", ("regression",))
def sagr(outputs: np.ndarray, targets: np.ndarray, label_names: tuple[str, ...]) -> dict[str, float]:
    """Sign agreement rate per axis, #{i: sign(ŷ_i) = sign(y_i)} / N; mean over axes.

    numpy ``sign``, so a 0 predicted for a 0 label agrees. Standard definition of the AVCE
    (ECCV 2022) tables (see ``sagr_avce`` for its code).
    """
    return _per_axis(_sagr_axis, outputs, targets, label_names)


@register("pcc_avce", ("regression",))
def pcc_avce(outputs: np.ndarray, targets: np.ndarray, label_names: tuple[str, ...]) -> dict[str, float]:
    """AVCE official code (kdhht2334/AVCE_FER src/evaluation.py): np.cov(l, p)[0,1] / (std(l)·std(p)).

    The covariance has ddof 1 and the stds ddof 0, so the value is N/(N−1) × Pearson r (it can
    exceed 1 in magnitude). Constant labels or predictions give 0.0, as for ``pcc``.
    """
    return _per_axis(_pcc_avce_axis, outputs, targets, label_names)


@register("ccc_avce", ("regression",))
def ccc_avce(outputs: np.ndarray, targets: np.ndarray, label_names: tuple[str, ...]) -> dict[str, float]:
    """AVCE official code: 2·np.cov(l, p)[0,1] / (var₀(l) + var₀(p) + (μ_l − μ_p)²).

    kdhht2334/AVCE_FER src/evaluation.py; the ddof-1 covariance makes it N/(N−1) × ``ccc``.
    Constant sides are handled as for ``ccc`` (0.0, or 1.0 for the same constant).
    """
    return _per_axis(_ccc_avce_axis, outputs, targets, label_names)


@register("rmse_batched", ("regression",), higher_is_better=False)
def rmse_batched(outputs: np.ndarray, targets: np.ndarray, label_names: tuple[str, ...]) -> dict[str, float]:
    """AVCE official code: mean over consecutive batches b of 64 samples of sqrt(MSE_b).

    kdhht2334/AVCE_FER src/evaluation.py averages the per-batch RMSE of its validation loader
    (the last batch may be smaller and counts as much as the others); not a global RMSE.
    """
    return _per_axis(_rmse_batched_axis, outputs, targets, label_names)


@register("sagr_avce", ("regression",))
def sagr_avce(outputs: np.ndarray, targets: np.ndarray, label_names: tuple[str, ...]) -> dict[str, float]:
    """AVCE official code: #{i: sign(l_i) = sign(p_i) and l_i ≠ 0} / N.

    kdhht2334/AVCE_FER src/evaluation.py: a label of exactly 0 always counts as a miss.
    """
    return _per_axis(_sagr_avce_axis, outputs, targets, label_names)


@register("ccc_per_video", ("regression",), grouped=True)
def ccc_per_video(outputs: np.ndarray, targets: np.ndarray, label_names: tuple[str, ...],
                  groups: np.ndarray) -> dict[str, float]:
    """Per-video CCC: per axis, the unweighted mean over videos g of ``ccc`` on g's frames only.

    Groups are the test samples' ``group`` (the video of a frame-level sample). Each video's
    CCC follows ``ccc``, constant sides included (a video whose labels or predictions are
    constant scores 0.0, or 1.0 when both are the same constant); a one-frame video has
    constant sides by definition. ``ccc`` itself is the pooled CCC over all test frames, the
    reading of the AVCE (ECCV 2022) tables and of its code's evaluation.
    """
    order = np.argsort(groups, kind="stable")
    names, starts = np.unique(groups[order], return_index=True)
    members = np.split(order, starts[1:])
    values = np.array([[_ccc_axis(outputs[m, j], targets[m, j]) for j in range(outputs.shape[1])] for m in members])
    return _per_label(values.mean(axis=0), label_names)
