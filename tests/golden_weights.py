"""Deterministic weights for the golden fixtures: every tensor drawn from a seed and its own name.

The rule (written into every fixture under ``tests/golden_official/`` as ``weights_rule``), for a
tensor named ``name`` of a state dict in the official implementation's layout:

* ``g = torch.Generator().manual_seed((seed * 1_000_003 + zlib.crc32(name)) % 2**63)``,
  ``u = torch.rand(shape, generator=g, dtype=float64)``;
* integer tensors (``num_batches_tracked``): zeros;
* ``*running_var``: ``0.5 + u``; ``*running_mean``: ``0.2 * (2u - 1)``;
* tensors of two or more dimensions: ``(2u - 1) / sqrt(fan_in)``, ``fan_in = numel / shape[0]``;
* one-dimensional ``*weight`` / ``*gamma`` (norm gains, PReLU slopes): ``1 + 0.2 * (2u - 1)``;
* other one-dimensional tensors (biases, ``*beta``): ``0.1 * (2u - 1)``;

then cast to the tensor's dtype. Because a tensor's values depend only on the seed, its name and
its shape, a test regenerates the official state dict from the names and shapes stored in the
fixture, without any weight file, and loads it through bench's own conversion.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Mapping, Sequence

import torch

RULE = ("per tensor: torch.Generator().manual_seed((seed*1000003 + zlib.crc32(name)) % 2**63), "
        "u = torch.rand(shape, float64); int: 0; running_var: 0.5+u; running_mean: 0.2(2u-1); "
        "ndim>=2: (2u-1)/sqrt(numel/shape[0]); 1-D weight/gamma: 1+0.2(2u-1); other 1-D: 0.1(2u-1)")


def draw(name: str, shape: Sequence[int], dtype: torch.dtype, seed: int) -> torch.Tensor:
    """The tensor ``name`` of ``shape`` under :data:`RULE`."""
    if not dtype.is_floating_point:
        return torch.zeros(tuple(shape), dtype=dtype)
    g = torch.Generator().manual_seed((seed * 1_000_003 + zlib.crc32(name.encode())) % 2**63)
    u = torch.rand(tuple(shape), generator=g, dtype=torch.float64)
    if name.endswith("running_var"):
        value = 0.5 + u
    elif name.endswith("running_mean"):
        value = 0.2 * (2 * u - 1)
    elif len(shape) >= 2:
        value = (2 * u - 1) / math.sqrt(u.numel() / shape[0])
    elif name.endswith(("weight", "gamma")):
        value = 1 + 0.2 * (2 * u - 1)
    else:
        value = 0.1 * (2 * u - 1)
    return value.to(dtype)


def state_dict(layout: Mapping[str, Sequence[int]], seed: int, dtype: torch.dtype = torch.float32) -> dict[str, torch.Tensor]:
    """A whole state dict from ``{name: shape}``; names ending in ``num_batches_tracked`` are int64."""
    return {name: draw(name, shape, torch.int64 if name.endswith("num_batches_tracked") else dtype, seed)
            for name, shape in layout.items()}
