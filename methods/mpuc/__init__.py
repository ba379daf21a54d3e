"""MPUC (Franceschini et al., ICPR 2022): modality-pairwise unsupervised contrastive learning.

One backbone per modality (acoustic TCN on 128-bin log-mel, ST-GCN on 51 facial landmarks,
R(2+1)D-18 on face crops, a transformer over word vectors), each with a projection head
``fc + ReLU + fc``; pretraining with the contrastive loss of every ordered pair of modalities
(eqs. 1-2, tau 0.07) on temporal crops, without labels; then the projection heads are dropped
and the concatenated 512-d features feed a prediction layer (fusion only at inference).
Paper-vs-code switches are fields of :class:`~bench_methods.mpuc.config.MPUCConfig`; the
``code*`` presets set the official code's side of them.

The methods of this package:

* ``mpuc`` (:class:`MPUC`): the proposed method, regime ``linear_eval`` with ``pretrain: true``,
  at least two modalities; presets ``paper``, ``paper_mosei``, ``code`` = ``code_ravdess``
  (the shipped ``config/params_ravdess.yaml``), ``code_mosei`` (``config/params_MOSEI.yaml``);
* the supervised baselines of Tables I-II with the same backbones, regime ``supervised``:
  ``mpuc_unimodal`` (:class:`MPUCUnimodal`, exactly one modality; ``code`` and
  ``acoustics_code`` hold the official code's acoustic pipeline and sampler), ``mpuc_late_fusion``
  (:class:`MPUCLateFusion`), ``mpuc_attention`` (:class:`MPUCAttention`) and
  ``mpuc_supervised`` (:class:`MPUCSupervised`, the same family, the row chosen by preset).

Inputs are bench transforms: ``audio_logmel_mpuc``, ``landmarks_openface_mpuc``,
``face_frames`` and ``text_glove`` (the latter needs a local GloVe file, ``glove_path``).
REPRODUCE.md (MPUC) lists the data each table needs, the commands and measured runs.

Numerics: the ``code*`` presets replay the official code in float32, bench's default
``--precision 32``: its ``--amp`` flag defaults to False (``main.py`` L170, passed on as
``use_amp`` at L144) and the README's launch line does not set it. Its ``--amp True`` path, float16
``torch.cuda.amp.autocast`` around the encoder, the classifiers and the losses with one
``GradScaler`` (``train.py``), is ``bench run --precision 16-mixed``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from bench.api import Method, ResourceHints, Stage, TaskSpec, TransformSpec
from bench.errors import ConfigError
from bench_methods.mpuc.config import AttentionConfig, EncoderConfig, MPUCConfig, SupervisedConfig, UnimodalConfig

_TINY_MODEL: dict[str, Any] = {
    "crop_frames": 12, "feature_dim": 32, "projection_hidden": 64, "tcn_blocks": 2, "tcn_repeats": 1,
    "tcn_bottleneck": 16, "tcn_hidden": 32, "stgcn_channels": 16, "stgcn_spatial": 8, "video_size": 32,
    "text_layers": 1, "text_ff": 64, "mel_bins": 128, "mel_sample_rate": 22050, "mel_hop_length": 512,
    "mel_decimate": 1,
}
"""The ``tiny`` presets: a CPU-sized model whose 12-step crop fits the synthetic benchmark's
16-frame landmark tracks and 1 s of audio (44 log-mel frames). MPUC's ``tiny`` pretrains at
``pretrain_lr`` 5e-5 without dropout (REPRODUCE.md, MPUC on the synthetic benchmark, says why).
Its mel is librosa's default (128 bins, 22050 Hz, hop 512: 44 frames a second)."""


_CODE_RAVDESS: dict[str, Any] = {"positives": "supervised", "loss_reduction": "mean_half", "probe": "online",
                                 "crop_range": "sequence"}
"""The shipped ``config/params_ravdess.yaml`` (``unsupervised: False``): label positives, the code's
loss reduction (``utils/SupConSeparate.py`` L101, L116), the classifier trained alongside the
encoder (``train.py`` L161-326), both crops drawn over the whole sequence (``data/RAVDESS.py`` L151-172)."""

_CODE_MOSEI: dict[str, Any] = {
    "crop_frames": 30, "lr_step_epochs": 5, "positives": "code", "loss_reduction": "mean_half", "probe": "online",
    "transductive": True, "text_positional": "batch_index", "crop_range": "sequence", "mel_bins": 128,
    "pos_weight": "official", "sampler": "class_balanced", "val_patience": 50}
"""The shipped ``config/params_MOSEI.yaml``: 128 acoustic channels (the TCN's input, ``models/Encoder.py``
L102), 30-step crops, x0.9 every 5 epochs, unsupervised positives as
coded (``utils/SupConSeparate.py`` L86-98), online probe, contrastive updates on the validation and test
inputs (``train.py`` L357-364), the text transformer's batch-indexed positions (``models/Encoder.py``
L29-31, L177), the BCE's constant ``pos_weight`` (``train.py`` L88-90), the label-weighted sampler
(``main.py`` L55-56) and patience 50 (``patience: 50``, read at ``train.py`` L52)."""

_CODE_BASELINE: dict[str, Any] = {"text_positional": "batch_index"}
"""The official ``Encoder``'s backbones as the supervised baselines use them: its text positions."""

_CODE_AUDIO: dict[str, Any] = {
    "mel_bins": 128, "mel_sample_rate": 22050, "mel_hop_length": 735, "mel_decimate": 1, "sampler": "class_balanced",
}
"""The official code's acoustic pipeline and sampler (presets ``code``): 128 mel channels on the
landmarks' 30 fps axis (22050 / 735), class-balanced sampling (RAVDESS: ``main.py`` L66-67)."""

_ACOUSTICS_ROW: dict[str, Any] = {"row_modality": "audio", "lr_step_epochs": 10, "epochs": 100, "batch_size": 32}
"""Table I's "Unimodal (Acoustics)" schedule (Sec. IV-B): lr 1e-3, x0.9 every 10 epochs, batch 32, 100 epochs."""


def _inputs(cfg: EncoderConfig, modalities: Sequence[str]) -> dict[str, TransformSpec]:
    if "text" in modalities and not cfg.glove_path:
        raise ConfigError(
            "mpuc: the text backbone reads GloVe word vectors: give a local vectors file with "
            "--set glove_path=/path/glove.840B.300d.txt (nothing is downloaded), or run without text "
            "(--modalities audio landmarks video: Table II's 'wout/ text' row)")
    window = cfg.window_frames
    crops = {"num_frames": window}
    if isinstance(cfg, MPUCConfig) and cfg.crop_range == "sequence":
        crops = {"num_frames": cfg.crop_frames, "crops": cfg.views}
    specs = {
        "audio": TransformSpec("audio_logmel_mpuc", {
            **crops, "n_mels": cfg.mel_bins, "sample_rate": cfg.mel_sample_rate, "hop_length": cfg.mel_hop_length,
            "decimate": cfg.mel_decimate, "crop": cfg.audio_crop, "vad_db": cfg.vad_db,
            "eval_windows": cfg.eval_windows}),
        "landmarks": TransformSpec("landmarks_openface_mpuc", crops),
        "video": TransformSpec("face_frames", {"policy": "mma_dfer_square", "num_frames": window,
                                               "size": cfg.video_size}),
        "text": TransformSpec("text_glove", {"vectors_path": cfg.glove_path, "dim": cfg.text_dim, **crops}),
    }
    return {m: specs[m] for m in modalities}


def _build(task: TaskSpec, cfg: EncoderConfig, shapes: Mapping[str, tuple[int, ...]]) -> Any:
    from bench_methods.mpuc.module import MPUCModule

    return MPUCModule(task, cfg, shapes)


class MPUC(Method):
    """The proposed method: pairwise contrastive pretraining, then a classifier on frozen features."""

    name = "mpuc"
    paper = ("Franceschini et al., Multimodal Emotion Recognition with Modality-Pairwise Unsupervised "
             "Contrastive Loss, ICPR 2022")
    modalities = ("audio", "landmarks", "video", "text")
    min_modalities = 2
    tasks = ("classification", "multilabel")
    regimes = ("pretrain", "linear_eval")
    Config = MPUCConfig
    presets: Mapping[str, Mapping[str, Any]] = {
        "paper": {},
        "paper_mosei": {"crop_frames": 30, "lr_step_epochs": 5},
        "code": {**_CODE_RAVDESS, **_CODE_AUDIO},
        "code_ravdess": "code",
        "code_mosei": _CODE_MOSEI,
        "tiny": {**_TINY_MODEL, "dropout": 0.0, "view_shift": 2, "pretrain_lr": 5e-5, "pretrain_epochs": 200,
                 "lr": 0.01, "epochs": 40, "pretrain_batch_size": 16, "batch_size": 16},
    }
    resources = ResourceHints(gpus=1, cpus=8, mem_gb=32, time_min=720)

    def inputs(self, cfg: MPUCConfig, modalities: Sequence[str]) -> dict[str, TransformSpec]:
        return _inputs(cfg, modalities)

    def stages(self, cfg: MPUCConfig, regime: str, pretrain: bool) -> list[Stage]:
        """``pretrain`` (labels only with supervised positives) then ``linear_eval``; or one online stage."""
        if regime != "linear_eval":
            raise ConfigError(f"mpuc trains by linear evaluation after pretraining, not regime {regime!r}; "
                              "the supervised baselines are method mpuc_supervised")
        patience = cfg.val_patience or None
        probe = Stage("linear_eval", cfg.epochs, cfg.batch_size, labels=True, sampler=cfg.sampler, patience=patience)
        if not pretrain:
            if cfg.probe == "online":
                raise ConfigError("mpuc: probe=online trains the encoder, so it needs a protocol with pretrain: true")
            return [probe]
        if cfg.probe == "online":
            return [Stage("pretrain_online_probe", cfg.epochs, cfg.pretrain_batch_size, labels=True,
                          sampler=cfg.sampler, patience=patience)]
        pre = Stage("pretrain", cfg.pretrain_epochs, cfg.pretrain_batch_size, labels=cfg.positives == "supervised")
        return [pre, probe]

    def build(self, task: TaskSpec, cfg: MPUCConfig, shapes: Mapping[str, tuple[int, ...]]) -> Any:
        return _build(task, cfg, shapes)


class MPUCSupervised(Method):
    """The supervised baselines of MPUC's Tables I-II (Unimodal, Late Fusion, Attention Mec.)."""

    name = "mpuc_supervised"
    paper = MPUC.paper + " (supervised baselines, Sec. IV-B)"
    modalities = MPUC.modalities
    tasks = MPUC.tasks
    regimes = ("supervised",)
    Config = SupervisedConfig
    presets: Mapping[str, Mapping[str, Any]] = {
        "paper": {},
        "unimodal_acoustics": {"lr_step_epochs": 10, "epochs": 100},
        "unimodal_faces": {"lr": 0.01, "epochs": 150},
        "unimodal_landmarks": {},
        "attention": {"head": "attention", "batch_size": 64},
        "code": {**_CODE_BASELINE, **_CODE_AUDIO},
        "tiny": {**_TINY_MODEL, "lr": 0.05, "epochs": 30, "batch_size": 16},
    }
    resources = MPUC.resources

    def inputs(self, cfg: SupervisedConfig, modalities: Sequence[str]) -> dict[str, TransformSpec]:
        return _inputs(cfg, modalities)

    def stages(self, cfg: SupervisedConfig, regime: str, pretrain: bool) -> list[Stage]:
        """One labelled fit, drawing its batches with ``cfg.sampler``, stopped by ``cfg.val_patience`` when set."""
        return [Stage(regime, cfg.epochs, cfg.batch_size, labels=True, sampler=cfg.sampler,
                      patience=cfg.val_patience or None)]

    def build(self, task: TaskSpec, cfg: SupervisedConfig, shapes: Mapping[str, tuple[int, ...]]) -> Any:
        return _build(task, cfg, shapes)


class MPUCUnimodal(MPUCSupervised):
    """Table I's "Unimodal" rows: one modality's backbone + fc + ReLU + fc, trained with labels."""

    name = "mpuc_unimodal"
    paper = MPUC.paper + " (Unimodal baselines, Sec. IV-B)"
    Config = UnimodalConfig
    presets: Mapping[str, Mapping[str, Any]] = {
        "paper": {},
        "code": {**_CODE_BASELINE, **_CODE_AUDIO},
        "acoustics": _ACOUSTICS_ROW,
        "acoustics_code": {**_ACOUSTICS_ROW, **_CODE_BASELINE, **_CODE_AUDIO},
        "faces": {"row_modality": "video", "lr": 0.01, "momentum": 0.9, "epochs": 150},
        "landmarks": {"row_modality": "landmarks", "lr": 1e-3, "momentum": 0.9},
        "tiny": {**_TINY_MODEL, "lr": 0.05, "epochs": 30, "batch_size": 16},
    }

    def inputs(self, cfg: UnimodalConfig, modalities: Sequence[str]) -> dict[str, TransformSpec]:
        if len(modalities) != 1:
            raise ConfigError(f"mpuc_unimodal trains one modality, got {', '.join(modalities)}; pick one with "
                              "--modalities (mpuc_late_fusion and mpuc_attention fuse several)")
        if cfg.row_modality and cfg.row_modality != modalities[0]:
            raise ConfigError(f"mpuc_unimodal: this configuration is the schedule of the {cfg.row_modality} row "
                              f"(row_modality={cfg.row_modality}), not of {modalities[0]}; use the preset of that "
                              "modality (acoustics = audio, faces = video, landmarks = landmarks)")
        return _inputs(cfg, modalities)


class MPUCLateFusion(MPUCSupervised):
    """Tables I-II's "Late Fusion": the backbones' concatenated features -> fc + ReLU + fc, end to end."""

    name = "mpuc_late_fusion"
    paper = MPUC.paper + " (Late Fusion baseline, Sec. IV-B)"
    Config = SupervisedConfig
    presets: Mapping[str, Mapping[str, Any]] = {
        "paper": {},
        "code": {**_CODE_BASELINE, **_CODE_AUDIO},
        "tiny": {**_TINY_MODEL, "lr": 0.05, "epochs": 30, "batch_size": 16},
    }


class MPUCAttention(MPUCSupervised):
    """Tables I-II's "Attention Mec.": multi-head attention over the concatenated features, then the head."""

    name = "mpuc_attention"
    paper = MPUC.paper + " (Attention Mec. baseline, Sec. IV-B)"
    Config = AttentionConfig
    presets: Mapping[str, Mapping[str, Any]] = {
        "paper": {},
        "code": {**_CODE_BASELINE, **_CODE_AUDIO},
        "tiny": {**_TINY_MODEL, "lr": 0.05, "epochs": 30, "batch_size": 16},
    }
