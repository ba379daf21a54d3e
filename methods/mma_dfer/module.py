"""MMA-DFER's LightningModule: the network, its weights, the official training recipe."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import lightning as L
import torch
from torch import nn

from bench.api import TaskSpec
from bench.errors import ConfigError
from bench_methods.mma_dfer.augment import augment_clips
from bench_methods.mma_dfer.config import MMADFERConfig, stored_size
from bench_methods.mma_dfer.encoder import BACKBONE_PREFIXES
from bench_methods.mma_dfer.model import MMADFERNet
from bench_methods.mma_dfer.resize import Resize, resize_frames
from bench_methods.mma_dfer.weights import RANDOM_INIT, load_encoder, load_released


def expected_shapes(cfg: MMADFERConfig) -> dict[str, tuple[int, ...]]:
    """One training item per modality as the model expects it (what ``inputs()`` produces)."""
    side = stored_size(cfg)
    return {"video": (cfg.num_frames, 3, side, side), "audio": (cfg.audio_frames, cfg.audio_mel_bins)}


def to_model_size(video: torch.Tensor, size: int, resize: Resize = "torch") -> torch.Tensor:
    """Frames ``(..., 3, H, W)`` resized to ``size x size`` (bilinear, as ``resize`` says; the code's
    test-time ``GroupResize`` of the source frame, ``dataloader/video_dataloader.py:191``)."""
    if video.shape[-2:] == (size, size):
        return video
    return resize_frames(video, (size, size), resize)


def load_weights(net: MMADFERNet, cfg: MMADFERConfig) -> dict[str, str]:
    """Load the configured local weight files into ``net``; name → sha256 (or ``random-init``).

    A released MMA-DFER ``checkpoint`` holds the encoders too, so it is the only file read
    (the official code loads both encoder files first and then overwrites them).
    """
    if cfg.checkpoint:
        if cfg.vision_weights or cfg.audio_weights:
            raise ConfigError("mma_dfer: a checkpoint holds the encoder weights too; leave vision_weights and "
                              "audio_weights unset when checkpoint is set")
        return {"mma_dfer": load_released(net, Path(cfg.checkpoint), cfg.trust_checkpoints)}
    provenance = {}
    if net.image_encoder is not None:
        provenance["mae_face"] = (load_encoder(net.image_encoder, Path(cfg.vision_weights), "vision_weights",
                                               "MAE-Face vision", keep_width=False, trust=cfg.trust_checkpoints)
                                  if cfg.vision_weights else RANDOM_INIT)
    if net.audio_model is not None:
        provenance["audiomae"] = (load_encoder(net.audio_model, Path(cfg.audio_weights), "audio_weights",
                                               "AudioMAE audio", keep_width=True, trust=cfg.trust_checkpoints)
                                  if cfg.audio_weights else RANDOM_INIT)
    return provenance


def pretrained_tensors(net: MMADFERNet, provenance: Mapping[str, str]) -> frozenset[str]:
    """The module's ``state_dict`` keys read from an encoder file and frozen: each encoder's backbone
    (its ``pos_embed`` is not among them: the prompts' rows keep their seeded random init)."""
    loaded = [(name, encoder) for name, encoder, source in
              (("image_encoder", net.image_encoder, "mae_face"), ("audio_model", net.audio_model, "audiomae"))
              if encoder is not None and provenance.get(source, RANDOM_INIT) != RANDOM_INIT]
    return frozenset(f"net.{name}.{key}" for name, encoder in loaded for key in encoder.state_dict()
                     if key.startswith(BACKBONE_PREFIXES))


class MMADFERModule(L.LightningModule):
    """Cross-entropy training of the trainable set with AdamW and a cosine schedule (§4.2).

    ``weights_provenance`` (name → sha256 or ``random-init``) goes into the run record.
    ``predict_step`` returns class logits; for ``test_clips = K > 1`` items ``(B, K, t, 3, S, S)``
    it returns the log of the K clips' mean softmax (the paper's "mean prediction").
    """

    def __init__(self, task: TaskSpec, cfg: MMADFERConfig, shapes: Mapping[str, tuple[int, ...]]) -> None:
        super().__init__()
        if task.kind != "classification":
            raise ConfigError(f"mma_dfer classifies; this task is {task.kind}")
        expected = expected_shapes(cfg)
        modalities = [m for m in expected if m in shapes]
        if not modalities or set(shapes) - set(expected):
            raise ConfigError(f"mma_dfer uses video and/or audio, got inputs {sorted(shapes)}")
        for modality in modalities:
            if tuple(shapes[modality]) != expected[modality]:
                raise ConfigError(f"mma_dfer: {modality} items are {tuple(shapes[modality])}, the configuration "
                                  f"expects {expected[modality]} (num_frames, img_size or source_size, audio_frames, "
                                  f"audio_mel_bins)")
        if len(modalities) == 1 and "ita" in cfg.temporal and cfg.unimodal == "adapted":
            raise ConfigError(f"mma_dfer: temporal={cfg.temporal!r} lives in the fusion bottleneck, which a model "
                              f"on {modalities[0]} alone does not have; use temporal='mtt' or 'none'")
        self.cfg = cfg
        self.net = MMADFERNet(cfg, modalities, task.num_outputs)
        self.weights_provenance = load_weights(self.net, cfg)
        self.pretrained_tensors = pretrained_tensors(self.net, self.weights_provenance)
        self.loss_fn = nn.CrossEntropyLoss()

    def _autocast(self) -> contextlib.AbstractContextManager[Any]:
        # bf16=false must not switch off an autocast the Trainer entered (bench run --precision bf16-mixed)
        if not self.cfg.bf16:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=torch.bfloat16)

    def forward(self, video: torch.Tensor | None, audio: torch.Tensor | None) -> torch.Tensor:
        with self._autocast():
            return self.net(video, audio).float()

    def training_step(self, batch: Mapping[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        video = batch.get("video")
        if video is not None and self.cfg.augment:
            video = augment_clips(video, size=self.cfg.img_size, resize=self.cfg.resize)
        elif video is not None:
            video = to_model_size(video, self.cfg.img_size, self.cfg.resize)
        return self.loss_fn(self(video, batch.get("audio")), batch["label"])

    def predict_step(self, batch: Mapping[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        video, audio = batch.get("video"), batch.get("audio")
        video = None if video is None else to_model_size(video, self.cfg.img_size, self.cfg.resize)
        if video is None or video.dim() == 5:
            return self(video, audio)
        batch_size, clips = video.shape[:2]
        audio = None if audio is None else audio.repeat_interleave(clips, dim=0)
        probs = self(video.flatten(0, 1), audio).softmax(dim=-1).unflatten(0, (batch_size, clips))
        return probs.mean(dim=1).log()

    def trainable(self) -> Iterator[tuple[str, nn.Parameter]]:
        """Names and tensors of the trainable set (``net.`` prefix stripped)."""
        return ((name, p) for name, p in self.net.named_parameters() if p.requires_grad)

    def configure_optimizers(self) -> dict[str, Any]:
        optimizer = torch.optim.AdamW([p for _, p in self.trainable()], lr=self.cfg.lr,
                                      weight_decay=self.cfg.weight_decay)
        if self.cfg.lr_schedule == "cosine_per_epoch":
            scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(self.cfg.epochs, 1))
            return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "epoch"}}
        total = max(int(self.trainer.estimated_stepping_batches), 1)
        scheduler = torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda step: 0.5 * (1 + math.cos(math.pi * step / total)))
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}
