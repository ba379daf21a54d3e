"""``late_fusion``: the supervised reference method of bench (one encoder per modality → concat → MLP).

It is the "Late Fusion" kind of supervised baseline that MPUC (ICPR'22, Table I) and
ConCluGen (CVPRW'24, Table 2) compare against, kept deliberately small: it runs on any
dataset, any task kind and any non-empty subset of the four modalities, and proves the
method contract end to end. Its defaults are bench's own choices (no paper prescribes them);
``tiny`` shrinks it for CPU smoke runs.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

from bench.api import Method, ResourceHints, TaskSpec, TransformSpec
from bench.errors import ConfigError


@dataclasses.dataclass(frozen=True)
class LateFusionConfig:
    """Hyperparameters of the late-fusion baseline (all settable with ``--set key=value``)."""

    epochs: int = 30
    batch_size: int = 32
    lr: float = 1e-3
    weight_decay: float = 1e-4
    embed_dim: int = 64
    hidden_dim: int = 128
    dropout: float = 0.3
    class_weighted: bool = False
    num_frames: int = 8
    frame_size: int = 32
    num_mel_bins: int = 64
    # 4 s of 10 ms frames: a whole RAVDESS utterance (clips 2.9-5.3 s, speech from ~1.0 s to
    # ~2.8 s); shorter clips are zero-padded. 1 s (100) saw mostly the silence before speech.
    audio_frames: int = 400
    vocab_size: int = 4096
    max_tokens: int = 32
    landmark_frames: int = 8


class LateFusion(Method):
    """Per-modality encoders, concatenated, then a two-layer MLP head."""

    name = "late_fusion"
    paper = "bench reference baseline (late fusion as in MPUC, ICPR 2022, Table I)"
    modalities = ("video", "audio", "text", "landmarks")
    tasks = ("classification", "multilabel", "regression")
    regimes = ("supervised",)
    Config = LateFusionConfig
    presets: Mapping[str, Mapping[str, Any]] = {
        "paper": {},
        "tiny": {"epochs": 12, "embed_dim": 32, "hidden_dim": 64, "num_frames": 4, "frame_size": 24,
                 "audio_frames": 64, "num_mel_bins": 40},
    }
    resources = ResourceHints(gpus=0, cpus=2, mem_gb=4, time_min=15)

    def inputs(self, cfg: LateFusionConfig, modalities: Sequence[str]) -> dict[str, TransformSpec]:
        specs = {
            "video": TransformSpec("video_frames", {"num_frames": cfg.num_frames, "size": cfg.frame_size}),
            "audio": TransformSpec("audio_logmel", {"num_mel_bins": cfg.num_mel_bins, "max_frames": cfg.audio_frames}),
            "text": TransformSpec("text_hash", {"vocab_size": cfg.vocab_size, "max_tokens": cfg.max_tokens}),
            "landmarks": TransformSpec("landmarks_csv", {"num_frames": cfg.landmark_frames}),
        }
        return {m: specs[m] for m in modalities}

    def build(self, task: TaskSpec, cfg: LateFusionConfig, shapes: Mapping[str, tuple[int, ...]]) -> Any:
        from bench_methods.late_fusion.model import LateFusionModule

        if cfg.class_weighted and task.class_weights is None:
            raise ConfigError("late_fusion: class_weighted=true but this dataset's task defines no class weights")
        return LateFusionModule(task, cfg, shapes)
