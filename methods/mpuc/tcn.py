"""MPUC's acoustic backbone: a Conv-TasNet temporal convolutional network on log-mel frames.

Built from the facts of REFERENCE 3.4 (the official ``models/TCN.py``, an adaptation of
Asteroid's TCN [68]; written here from that description): global layer norm and a 1x1
bottleneck ``mel_bins -> 64``; ``n_repeats x n_blocks`` residual blocks (1x1 conv to 128
hidden channels, PReLU, gLN, depth-wise dilated conv of kernel 3 with dilation
``2**block``, PReLU, gLN, 1x1 conv back to 64), dropout 0.1 after the bottleneck and on
every residual; then the mean over time, PReLU and ``Linear(64 -> 512)``. Random init.
"""

from __future__ import annotations

import torch
from torch import nn


class GlobalLayerNorm(nn.Module):
    """gLN (Conv-TasNet): normalise each sample over channels and time, then a per-channel gain and bias.

    Works on time-major ``[B, T, C]`` input (the gain and bias keep Conv-TasNet's ``[C, 1]`` shape)."""

    def __init__(self, channels: int, eps: float = 1e-8) -> None:
        super().__init__()
        self.gain = nn.Parameter(torch.ones(channels, 1))
        self.bias = nn.Parameter(torch.zeros(channels, 1))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mean = x.mean(dim=(1, 2), keepdim=True)
        var = (x - mean).pow(2).mean(dim=(1, 2), keepdim=True)
        return self.gain.view(-1) * (x - mean) / (var + self.eps).sqrt() + self.bias.view(-1)


def pointwise(conv: nn.Conv1d, x: torch.Tensor) -> torch.Tensor:
    """A kernel-1 ``Conv1d`` applied to time-major ``[B, T, C_in]`` as one matrix product: ``[B, T, C_out]``."""
    return nn.functional.linear(x, conv.weight.squeeze(-1), conv.bias)


def depthwise(conv: nn.Conv1d, x: torch.Tensor) -> torch.Tensor:
    """A depth-wise, dilated, zero-padded ``Conv1d`` (length kept) on time-major ``[B, T, C]``: the sum of
    ``kernel`` shifted copies, each scaled per channel (a cross-correlation, as ``Conv1d``)."""
    (dilation,), (pad,), kernel = conv.dilation, conv.padding, conv.kernel_size[0]
    steps = x.shape[1]
    padded = nn.functional.pad(x, (0, 0, pad, pad))
    weight = conv.weight[:, 0, :]  # [C, kernel]
    out = padded[:, :steps] * weight[:, 0]
    for j in range(1, kernel):
        out = out + padded[:, j * dilation : j * dilation + steps] * weight[:, j]
    return out + conv.bias


def prelu(unit: nn.PReLU, x: torch.Tensor) -> torch.Tensor:
    """PReLU with one shared slope, written out: its gradient avoids ATen's slow CPU prelu backward."""
    return torch.where(x >= 0, x, unit.weight * x)


class DilatedBlock(nn.Module):
    """One residual branch: 1x1 up, depth-wise dilated conv (length kept), 1x1 down (time-major)."""

    def __init__(self, channels: int, hidden: int, kernel: int, dilation: int) -> None:
        super().__init__()
        self.branch = nn.Sequential(
            nn.Conv1d(channels, hidden, 1), nn.PReLU(), GlobalLayerNorm(hidden),
            nn.Conv1d(hidden, hidden, kernel, padding=(kernel - 1) * dilation // 2, dilation=dilation,
                      groups=hidden),
            nn.PReLU(), GlobalLayerNorm(hidden),
            nn.Conv1d(hidden, channels, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        up, act1, norm1, conv, act2, norm2, down = self.branch
        x = norm1(prelu(act1, pointwise(up, x)))
        x = norm2(prelu(act2, depthwise(conv, x)))
        return pointwise(down, x)


class AcousticTCN(nn.Module):
    """``[B, T, mel_bins]`` log-mel frames (time-major) -> ``[B, out_dim]``.

    Computed time-major throughout (1x1 convolutions as matrix products, the depth-wise one as
    shifted sums): the same function and parameters as the channel-major ``Conv1d`` stack, faster
    on a CPU (benchmarks/mpuc_acoustic_epoch.py; measurements in REPRODUCE.md)."""

    def __init__(self, mel_bins: int, out_dim: int, blocks: int, repeats: int, bottleneck: int, hidden: int,
                 kernel: int, dropout: float) -> None:
        super().__init__()
        self.bottleneck = nn.Sequential(GlobalLayerNorm(mel_bins), nn.Conv1d(mel_bins, bottleneck, 1))
        self.blocks = nn.ModuleList(
            DilatedBlock(bottleneck, hidden, kernel, 2**b) for _ in range(repeats) for b in range(blocks))
        self.dropout = nn.Dropout(dropout)
        self.out = nn.Sequential(nn.PReLU(), nn.Linear(bottleneck, out_dim))

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        norm, conv = self.bottleneck
        x = self.dropout(pointwise(conv, norm(mel)))
        for block in self.blocks:
            x = x + self.dropout(block(x))
        return self.out(x.mean(dim=1))
