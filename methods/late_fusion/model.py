"""The late-fusion network and its LightningModule."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import lightning as L
import torch
from torch import nn

from bench.api import TaskSpec


class VideoEncoder(nn.Module):
    """A small per-frame CNN on (T, 3, H, W) clips, averaged over time."""

    def __init__(self, out_dim: int) -> None:
        super().__init__()
        self.frames = nn.Sequential(
            nn.Conv2d(3, 16, 3, stride=2, padding=1), nn.ReLU(),
            nn.Conv2d(16, 32, 3, stride=2, padding=1), nn.ReLU(),
            nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(32, out_dim), nn.ReLU(),
        )

    def forward(self, clips: torch.Tensor) -> torch.Tensor:
        b, t = clips.shape[:2]
        return self.frames(clips.flatten(0, 1)).view(b, t, -1).mean(dim=1)


class AudioEncoder(nn.Module):
    """1-D convolutions over time on (frames, mel bins) log-mel features, averaged over time."""

    def __init__(self, num_bins: int, out_dim: int) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.BatchNorm1d(num_bins),
            nn.Conv1d(num_bins, 64, 5, padding=2), nn.ReLU(),
            nn.Conv1d(64, 64, 5, stride=2, padding=2), nn.ReLU(),
        )
        self.out = nn.Sequential(nn.Linear(64, out_dim), nn.ReLU())

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        return self.out(self.net(mel.transpose(1, 2)).mean(dim=2))


class TextEncoder(nn.Module):
    """Mean of learned embeddings of hashed word ids (0 is padding)."""

    def __init__(self, vocab_size: int, out_dim: int) -> None:
        super().__init__()
        self.bag = nn.EmbeddingBag(vocab_size, out_dim, mode="mean", padding_idx=0)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.bag(tokens.long()))


class LandmarkEncoder(nn.Module):
    """An MLP on the temporal mean and standard deviation of (T, 2P) landmark tracks."""

    def __init__(self, width: int, out_dim: int) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(2 * width, 128), nn.ReLU(), nn.Linear(128, out_dim), nn.ReLU())

    def forward(self, tracks: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([tracks.mean(dim=1), tracks.std(dim=1, unbiased=False)], dim=1))


def make_encoder(modality: str, shape: tuple[int, ...], cfg: Any) -> nn.Module:
    """The encoder of one modality for per-sample input ``shape``."""
    if modality == "video":
        return VideoEncoder(cfg.embed_dim)
    if modality == "audio":
        return AudioEncoder(shape[-1], cfg.embed_dim)
    if modality == "text":
        return TextEncoder(cfg.vocab_size, cfg.embed_dim)
    if modality == "landmarks":
        return LandmarkEncoder(shape[-1], cfg.embed_dim)
    raise ValueError(f"late_fusion has no encoder for modality {modality!r}")


class LateFusionModule(L.LightningModule):
    """Encoders per modality → concatenation → dropout-MLP → one output per label."""

    def __init__(self, task: TaskSpec, cfg: Any, shapes: Mapping[str, tuple[int, ...]]) -> None:
        super().__init__()
        self.task, self.cfg = task, cfg
        self.modalities = sorted(shapes)
        self.encoders = nn.ModuleDict({m: make_encoder(m, tuple(shapes[m]), cfg) for m in self.modalities})
        self.head = nn.Sequential(
            nn.Dropout(cfg.dropout), nn.Linear(cfg.embed_dim * len(self.modalities), cfg.hidden_dim), nn.ReLU(),
            nn.Dropout(cfg.dropout), nn.Linear(cfg.hidden_dim, task.num_outputs),
        )
        self.loss_fn = _loss(task, cfg.class_weighted)

    def forward(self, batch: Mapping[str, torch.Tensor]) -> torch.Tensor:
        return self.head(torch.cat([self.encoders[m](batch[m]) for m in self.modalities], dim=1))

    def training_step(self, batch: Mapping[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        return self.loss_fn(self(batch), batch["label"])

    def predict_step(self, batch: Mapping[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        return self(batch)

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.AdamW(self.parameters(), lr=self.cfg.lr, weight_decay=self.cfg.weight_decay)


def _loss(task: TaskSpec, weighted: bool) -> nn.Module:
    weights = torch.tensor(task.class_weights, dtype=torch.float32) if weighted and task.class_weights else None
    if task.kind == "classification":
        return nn.CrossEntropyLoss(weight=weights)
    if task.kind == "multilabel":
        return nn.BCEWithLogitsLoss(pos_weight=weights)
    return nn.MSELoss()
