"""MPUC's landmark backbone: a spatio-temporal graph convolutional network on 51 facial points.

Written from the description of the official ``models/STGCN.py`` (``STGCN(51, 2, n_frames,
512, num_classes=512)``, ``models/Encoder.py`` L72; itself an adaptation of an ST-GCN [65]
implementation, with ``attention=False, edge_weight=False``):

* a gated temporal convolution (kernel 3, no padding): ``relu(P + sigmoid(Q) + R)`` of three
  parallel convolutions;
* a block = temporal conv (-> 64) -> graph conv ``relu(A_hat X Theta)`` (64 -> 16) -> temporal
  conv (-> 64) -> BatchNorm over the nodes; two blocks, a last temporal conv (64), dropout 0.1,
  so ``T`` steps shrink to ``T - 10``;
* ``Linear((T - 10) * 64 -> 512)`` per node, then ``Linear(51 * 512 -> 512)``. Random init.

The graph is the official ``config/adj.npy`` (51 x 51, 65 undirected edges, zero diagonal),
listed in :data:`FACE_EDGES`; like the code (``Encoder.py`` L60-64 adds I, its
``get_normalized_adj`` adds I again) the self-loops get weight 2 before the symmetric
normalisation ``D^-1/2 A D^-1/2``.
"""

from __future__ import annotations

import torch
from torch import nn

NUM_POINTS = 51
FIRST_POINT = 17
"""The 51 points are the 68-point layout without the jaw line 0-16."""

FACE_EDGES: tuple[tuple[int, int], ...] = (
    (17, 18), (17, 36), (18, 19), (19, 20), (20, 21), (21, 22), (22, 24), (23, 24), (23, 25), (25, 26),
    (26, 45), (27, 28), (27, 31), (27, 35), (27, 39), (27, 42), (28, 29), (29, 30), (30, 33), (31, 32),
    (32, 33), (33, 34), (33, 51), (34, 35), (36, 37), (36, 41), (36, 48), (37, 38), (38, 39), (39, 40),
    (40, 41), (42, 43), (42, 47), (43, 44), (44, 45), (45, 46), (45, 54), (46, 47), (48, 49), (48, 59),
    (48, 60), (49, 50), (50, 51), (50, 61), (51, 52), (51, 62), (52, 53), (52, 63), (53, 54), (54, 55),
    (54, 64), (55, 56), (56, 57), (57, 58), (58, 59), (60, 61), (60, 67), (61, 62), (61, 67), (62, 63),
    (63, 64), (63, 65), (64, 65), (65, 66), (66, 67),
)
"""The 65 edges of the official ``config/adj.npy``, in 68-point numbering (as read from that
file; note the brow chain 21-22-24-23-25-26 and the two inner-mouth chords 61-67, 63-65)."""


def face_adjacency() -> torch.Tensor:
    """The normalised adjacency the official code uses: ``D^-1/2 (A + 2I) D^-1/2``, ``[51, 51]``."""
    a = torch.zeros(NUM_POINTS, NUM_POINTS)
    for i, j in FACE_EDGES:
        a[i - FIRST_POINT, j - FIRST_POINT] = a[j - FIRST_POINT, i - FIRST_POINT] = 1.0
    a = a + 2.0 * torch.eye(NUM_POINTS)
    scale = a.sum(dim=1).rsqrt()
    return scale[:, None] * a * scale[None, :]


class GatedTemporalConv(nn.Module):
    """``[B, N, T, C_in] -> [B, N, T - k + 1, C_out]``: ``relu(P + sigmoid(Q) + R)``, one conv per term."""

    def __init__(self, in_channels: int, out_channels: int, kernel: int = 3) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, 3 * out_channels, (1, kernel))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        p, q, r = self.conv(x.permute(0, 3, 1, 2)).chunk(3, dim=1)
        return torch.relu(p + torch.sigmoid(q) + r).permute(0, 2, 3, 1)


class SpatioTemporalBlock(nn.Module):
    """Temporal conv, first-order graph conv with ``Theta``, temporal conv, BatchNorm over nodes."""

    def __init__(self, in_channels: int, spatial: int, out_channels: int, nodes: int) -> None:
        super().__init__()
        self.temporal1 = GatedTemporalConv(in_channels, out_channels)
        self.theta = nn.Parameter(torch.empty(out_channels, spatial).uniform_(-spatial**-0.5, spatial**-0.5))
        self.temporal2 = GatedTemporalConv(spatial, out_channels)
        self.norm = nn.BatchNorm2d(nodes)

    def forward(self, x: torch.Tensor, adjacency: torch.Tensor) -> torch.Tensor:
        mixed = torch.einsum("ij,bjtc->bitc", adjacency, self.temporal1(x))
        return self.norm(self.temporal2(torch.relu(mixed @ self.theta)))


class LandmarkSTGCN(nn.Module):
    """``[B, T, 51, 2]`` normalised landmark tracks -> ``[B, out_dim]``."""

    def __init__(self, steps: int, out_dim: int, channels: int, spatial: int, dropout: float) -> None:
        super().__init__()
        self.register_buffer("adjacency", face_adjacency())
        self.block1 = SpatioTemporalBlock(2, spatial, channels, NUM_POINTS)
        self.block2 = SpatioTemporalBlock(channels, spatial, channels, NUM_POINTS)
        self.last = GatedTemporalConv(channels, channels)
        self.dropout = nn.Dropout(dropout)
        self.per_node = nn.Linear((steps - 10) * channels, out_dim)
        self.out = nn.Linear(NUM_POINTS * out_dim, out_dim)

    def forward(self, tracks: torch.Tensor) -> torch.Tensor:
        x = tracks.permute(0, 2, 1, 3)
        x = self.block2(self.block1(x, self.adjacency), self.adjacency)
        x = self.dropout(self.last(x))
        return self.out(self.per_node(x.flatten(2)).flatten(1))
