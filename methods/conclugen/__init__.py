"""``conclugen``: the ConCluGen family (Halawa, Blume et al., "Multi-Task Multi-Modal
Self-Supervised Learning for Facial Expression Recognition", CVPRW 2024) as one method with a
``variant`` switch: conclugen, conclu, congen, multi_cont, instance_cont, generative,
conclugen_vision, multi_cont_wo_text, multi_cont_wo_audio and the supervised baseline.

Frozen backbones → cached features (:mod:`.features`, registered transforms) → representation
heads → self-supervised pretraining on the training side with labels hidden → linear
evaluation or finetuning. Presets: ``paper`` (the defaults: the paper as written), ``code``
(every paper-vs-code switch on the official code's side, :data:`.config.CODE`) and ``tiny``
(CPU smoke runs); ``--set variant=...`` picks a row of Tables 2-5.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from bench.api import Method, ResourceHints, Stage, TaskSpec, TransformSpec
from bench.errors import ConfigError
from bench_methods.conclugen import features  # noqa: F401  (registers the feature transforms)
from bench_methods.conclugen.backbones import weights_sha256
from bench_methods.conclugen.config import CODE, TINY, VARIANTS, ConCluGenConfig
from bench_methods.conclugen.features import model_dir_sha256


def used_modalities(cfg: ConCluGenConfig, modalities: Sequence[str]) -> list[str]:
    """The protocol's modalities this variant uses (e.g. Instance-Cont: video only)."""
    wanted = VARIANTS[cfg.variant].modalities
    return [m for m in modalities if m in ("video", "audio", "text") and (wanted is None or m in wanted)]


def weights_provenance(cfg: ConCluGenConfig, modalities: Sequence[str]) -> dict[str, str]:
    """Backbone name → sha256 of its weights file, or ``random-init`` (the run record's ``weights``)."""
    out: dict[str, str] = {}
    if "video" in modalities:
        out[f"video_2d:{cfg.video_backbone_2d}"] = weights_sha256(cfg.video_weights_2d, "2D video backbone")
        out[f"video_3d:{cfg.video_backbone_3d}"] = weights_sha256(cfg.video_weights_3d, "3D video backbone")
    if "audio" in modalities:
        out["audio:davenet"] = weights_sha256(cfg.audio_weights, "DAVEnet audio backbone")
    if "text" in modalities:
        out["text:" + ("hf" if cfg.text_model_dir else "hashed_words")] = model_dir_sha256(cfg.text_model_dir)
    out["heads"] = weights_sha256(cfg.official_checkpoint, "official ConCluGen checkpoint")
    return out


class ConCluGen(Method):
    """The ConCluGen family: multi-task multi-modal self-supervised pretraining on frozen features."""

    name = "conclugen"
    paper = "Halawa, Blume et al., Multi-Task Multi-Modal Self-Supervised Learning for FER, CVPRW 2024"
    modalities = ("video", "audio", "text")
    tasks = ("classification", "multilabel")
    regimes = ("supervised", "pretrain", "linear_eval", "finetune")
    Config = ConCluGenConfig
    presets: Mapping[str, Mapping[str, Any]] = {"paper": {}, "code": CODE, "tiny": TINY}
    resources = ResourceHints(gpus=1, cpus=8, mem_gb=32, time_min=240)

    def inputs(self, cfg: ConCluGenConfig, modalities: Sequence[str]) -> dict[str, TransformSpec]:
        used = used_modalities(cfg, modalities)
        if not used:
            raise ConfigError(f"conclugen variant {cfg.variant!r} uses none of the modalities {list(modalities)}")
        if {"mms", "clu"} & cfg.spec.losses and len(used) < 2:  # before any feature is extracted
            single = sorted(v for v, spec in VARIANTS.items() if not {"mms", "clu"} & spec.losses)
            raise ConfigError(f"conclugen variant {cfg.variant!r}: the multi-modal losses (MMS, clustering) need at "
                              f"least two of video, audio, text; this run has {', '.join(used)}. Add a modality "
                              f"(--modalities) or pick a variant that needs one: {', '.join(single)}")
        specs = {
            "video": TransformSpec("conclugen_video_features", {
                "backbone_2d": cfg.video_backbone_2d, "backbone_3d": cfg.video_backbone_3d,
                "stem_3d": cfg.video_3d_stem, "weights_2d": cfg.video_weights_2d, "weights_3d": cfg.video_weights_3d, "size": cfg.frame_size,
                "folder_fps": cfg.frame_folder_fps,
                "swap_2d_normalisation": cfg.swap_2d_normalisation, "tiny_dim": cfg.tiny_dim,
                "views": cfg.instance_views if cfg.variant == "instance_cont" else 0,
                "parts": cfg.instance_cont_frames if cfg.variant == "instance_cont" else "2d_3d",
                "copies": cfg.training_copies}),
            "audio": TransformSpec("conclugen_audio_features", {
                "width": cfg.audio_width, "first_conv_bins": cfg.audio_first_conv_bins, "weights": cfg.audio_weights,
                "layout": cfg.audio_layout, "copies": cfg.training_copies}),
            "text": TransformSpec("conclugen_text_features", {
                "model_dir": cfg.text_model_dir, "max_length": cfg.text_max_length, "dim": cfg.tiny_dim,
                "copies": cfg.training_copies}),
        }
        return {m: specs[m] for m in used}

    def stages(self, cfg: ConCluGenConfig, regime: str, pretrain: bool) -> list[Stage]:
        """``pretrain`` (labels hidden) then the regime's stage; the supervised baseline (Table 2)
        and a supervised regime train F and the classifier on labels in one stage."""
        if cfg.variant == "supervised" or regime == "supervised":
            return [Stage("supervised", cfg.epochs, cfg.batch_size)]
        head = [Stage("pretrain", cfg.pretrain_epochs, cfg.pretrain_batch_size, labels=False)] if pretrain else []
        return [*head, Stage(regime, cfg.epochs, cfg.batch_size)]

    def selector(self, cfg: ConCluGenConfig, task: TaskSpec, validation: Any) -> Any:
        """``selection='early_stop_loss'``: the code's early stopping on the class-weighted validation loss."""
        if cfg.selection == "protocol":
            return None
        if validation is None:
            raise ConfigError("conclugen selection=early_stop_loss needs a validation side; this protocol's folds have none")
        from bench_methods.conclugen.selection import EarlyStopOnValidationLoss

        return EarlyStopOnValidationLoss(task, validation, cfg.class_weighting, cfg.early_stop_patience)

    def build(self, task: TaskSpec, cfg: ConCluGenConfig, shapes: Mapping[str, tuple[int, ...]]) -> Any:
        from bench_methods.conclugen.module import ConCluGenModule

        if task.kind not in self.tasks:
            raise ConfigError(f"conclugen handles {', '.join(self.tasks)} tasks, not {task.kind}")
        return ConCluGenModule(task, cfg, shapes, weights_provenance(cfg, list(shapes)))
