"""ConCluGen's trainable heads on frozen backbone features (paper Sec. 3.1, Fig. 1; code
``src/models/heads/``).

Representation heads F (the 3-layer gated embedding unit of MCN), projection heads J (per
modality as in the paper, or the code's one shared head), the one-layer cluster head G, the
per-modality reconstruction heads Q, and the downstream classifier. Submodule names follow
the official state_dict (``fc1``, ``context_gating.fc``, ``fc2``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn


class ContextGating(nn.Module):
    """``x · σ(W x + b)`` (MCN's context gating)."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.fc = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.sigmoid(self.fc(x))


class GatedEmbeddingUnit(nn.Module):
    """Linear → ReLU → context gating → Linear → ReLU (``representation_heads.py`` L13-27)."""

    def __init__(self, in_dim: int, out_dim: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(in_dim, out_dim)
        self.context_gating = ContextGating(out_dim)
        self.fc2 = nn.Linear(out_dim, out_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.fc2(self.context_gating(torch.relu(self.fc1(x)))))


def representation_head(modality: str, feature_dim: int, rep_dim: int) -> nn.Module:
    """F_m: GEU(feature → rep) for video and text; GEU(feature → feature) + Linear(feature → rep)
    for audio (code L188-190, no final ReLU)."""
    if modality == "audio":
        return nn.Sequential(GatedEmbeddingUnit(feature_dim, feature_dim), nn.Linear(feature_dim, rep_dim))
    return GatedEmbeddingUnit(feature_dim, rep_dim)


class ProjectionHeads(nn.Module):
    """J: ``per_modality`` — one Linear → ReLU → Linear per modality (paper Sec. 3.1: "three
    separate projection heads ... each consisting of two linear layers"); ``shared`` — the code's
    single Linear(rep → rep/8) → BatchNorm1d → ReLU → Linear(→ P) → ReLU (``pretraining_heads.py``
    L30-35). Returns the un-normalised projection (the cluster head's input; the MMS loss
    L2-normalises it, code L73)."""

    def __init__(self, modalities: tuple[str, ...], rep_dim: int, proj_dim: int,
                 kind: Literal["per_modality", "shared"]) -> None:
        super().__init__()
        hidden = max(rep_dim // 8, 1)
        self.kind = kind
        if kind == "shared":
            self.shared = nn.Sequential(nn.Linear(rep_dim, hidden), nn.BatchNorm1d(hidden), nn.ReLU(),
                                        nn.Linear(hidden, proj_dim), nn.ReLU())
        else:
            self.heads = nn.ModuleDict({m: nn.Sequential(nn.Linear(rep_dim, hidden), nn.ReLU(),
                                                         nn.Linear(hidden, proj_dim)) for m in modalities})

    def forward(self, modality: str, rep: torch.Tensor) -> torch.Tensor:
        return self.shared(rep) if self.kind == "shared" else self.heads[modality](rep)


def reconstruction_head(rep_dim: int, hidden: int, feature_dim: int, final_relu: bool) -> nn.Module:
    """Q_m: Linear(rep → hidden) → ReLU → Linear(→ feature) [→ ReLU, the code's, L57-61]."""
    layers: list[nn.Module] = [nn.Linear(rep_dim, hidden), nn.ReLU(), nn.Linear(hidden, feature_dim)]
    return nn.Sequential(*layers, nn.ReLU()) if final_relu else nn.Sequential(*layers)


class Classifier(nn.Module):
    """Dropout → Linear on the concatenated representations, kaiming-normal weights
    (``classification_head.py`` L26-36, ``num_classification_head_layers: 1``)."""

    def __init__(self, in_dim: int, num_outputs: int, dropout: float) -> None:
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.linear = nn.Linear(in_dim, num_outputs)
        nn.init.kaiming_normal_(self.linear.weight)
        nn.init.zeros_(self.linear.bias)

    def forward(self, reps: Mapping[str, torch.Tensor], order: tuple[str, ...]) -> torch.Tensor:
        return self.linear(self.dropout(torch.cat([reps[m] for m in order], dim=1)))


def normalised(projection: torch.Tensor) -> torch.Tensor:
    """L2-normalised rows (the MMS loss's input)."""
    return F.normalize(projection, dim=1)
