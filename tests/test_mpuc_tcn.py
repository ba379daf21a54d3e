"""MPUC's TCN against a reference written with ``F.conv1d`` and ``F.prelu`` from the same parameters."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from bench_methods.mpuc.tcn import AcousticTCN

pytestmark = pytest.mark.usefixtures("one_thread")


def _gln(norm: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Conv-TasNet's gLN on channel-major ``[B, C, T]``."""
    mean = x.mean(dim=(1, 2), keepdim=True)
    var = ((x - mean) ** 2).mean(dim=(1, 2), keepdim=True)
    return norm.gain * (x - mean) / torch.sqrt(var + norm.eps) + norm.bias


def _reference(tcn: AcousticTCN, mel: torch.Tensor) -> torch.Tensor:
    """The same network channel-major, as the ``Conv1d`` stack computes it (no dropout)."""
    norm, conv = tcn.bottleneck
    x = F.conv1d(_gln(norm, mel.transpose(1, 2)), conv.weight, conv.bias)
    for block in tcn.blocks:
        up, act1, norm1, dw, act2, norm2, down = block.branch
        y = _gln(norm1, F.prelu(F.conv1d(x, up.weight, up.bias), act1.weight))
        y = F.conv1d(y, dw.weight, dw.bias, padding=dw.padding, dilation=dw.dilation, groups=dw.groups)
        y = _gln(norm2, F.prelu(y, act2.weight))
        x = x + F.conv1d(y, down.weight, down.bias)
    prelu, linear = tcn.out
    return linear(F.prelu(x.mean(dim=-1), prelu.weight))


def test_tcn_equals_a_functional_reference() -> None:
    torch.manual_seed(0)
    tcn = AcousticTCN(20, 16, blocks=3, repeats=2, bottleneck=8, hidden=12, kernel=3, dropout=0.1).eval()
    with torch.no_grad():  # non-trivial slopes, gains and biases
        for module in tcn.modules():
            if isinstance(module, torch.nn.PReLU):
                module.weight.fill_(0.3)
        for name, p in tcn.named_parameters():
            if name.endswith(("gain", "bias")):
                p.add_(0.1 * torch.randn_like(p))
    mel = torch.randn(4, 30, 20, requires_grad=True)
    fast, slow = tcn(mel), _reference(tcn, mel)
    torch.testing.assert_close(fast, slow, rtol=1e-5, atol=1e-5)
    grads = torch.autograd.grad(fast.square().sum(), [mel, *tcn.parameters()])
    expected = torch.autograd.grad(slow.square().sum(), [mel, *tcn.parameters()])
    for got, want in zip(grads, expected, strict=True):
        torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-5)
