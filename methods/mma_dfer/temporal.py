"""The Multimodal Temporal Transformer (MTT, MMA-DFER §3.4).

Input: the joint-adapted sequence ``(B, t, d)`` (frame CLS tokens + the audio CLS, through
``vision_proj``). A learned CLS token is prepended and a learned position table
``(t + 1, d)`` added, both drawn ``randn`` with std 1; then ``depth`` pre-norm layers of
multi-head self-attention (bias-free q and kv projections, ``heads x dim_head`` inner width, an
output projection with bias) and a feed-forward ``d → mlp_dim → d`` with tanh-approximated GELU;
no final norm; the output is the CLS token. This is the official ``Temporal_Transformer_Cls``
(``Temporal_Model.py``; depth 1, 8 heads x 64, MLP 1024 at d = 512, dropout 0), whose unused
``PreNorm.norm2`` LayerNorms are left out here.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class TemporalLayer(nn.Module):
    """One pre-norm attention + feed-forward layer, each with a residual connection."""

    def __init__(self, dim: int, heads: int, dim_head: int, mlp_dim: int) -> None:
        super().__init__()
        inner = heads * dim_head
        self.heads = heads
        self.attn_norm = nn.LayerNorm(dim)
        self.to_q = nn.Linear(dim, inner, bias=False)
        self.to_kv = nn.Linear(dim, 2 * inner, bias=False)
        self.to_out = nn.Linear(inner, dim)
        self.ff_norm = nn.LayerNorm(dim)
        self.ff = nn.Sequential(nn.Linear(dim, mlp_dim), nn.GELU(approximate="tanh"), nn.Linear(mlp_dim, dim))

    def _split(self, x: torch.Tensor) -> torch.Tensor:
        return x.unflatten(-1, (self.heads, -1)).transpose(1, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.attn_norm(x)
        k, v = self.to_kv(h).chunk(2, dim=-1)
        out = F.scaled_dot_product_attention(self._split(self.to_q(h)), self._split(k), self._split(v))
        x = x + self.to_out(out.transpose(1, 2).flatten(2))
        return x + self.ff(self.ff_norm(x))


class TemporalTransformer(nn.Module):
    """MTT: CLS + positions, ``depth`` :class:`TemporalLayer` s, output the CLS token ``(B, d)``."""

    def __init__(self, frames: int, dim: int, depth: int, heads: int, dim_head: int, mlp_dim: int) -> None:
        super().__init__()
        self.cls_token = nn.Parameter(torch.randn(1, 1, dim))
        self.pos_embedding = nn.Parameter(torch.randn(1, frames + 1, dim))
        self.layers = nn.ModuleList([TemporalLayer(dim, heads, dim_head, mlp_dim) for _ in range(depth)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], dim=1) + self.pos_embedding
        for layer in self.layers:
            x = layer(x)
        return x[:, 0]
