"""MPUC's configurations: defaults are the paper's values (ICPR'22, Sec. III-D, IV-B).

Where the official code (``ricfrr/mpuc-mer`` at 1ae3add: ``train.py``, ``main.py``,
``models/Encoder.py``, ``utils/SupConSeparate.py``, ``data/*.py``, ``config/params_*.yaml``) differs
from the paper, the difference is a field here whose default is the paper's side and whose
other value is the code's; each field's comment names both. Values the paper does not give
(crop length, widths of the backbones) are the code's.

:class:`EncoderConfig` holds what the contrastive method and its supervised baselines share
(backbones, temporal crop, optimiser); :class:`MPUCConfig` adds the contrastive pretraining,
:class:`SupervisedConfig` the baselines' fusion head.
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar, Literal

from bench.data.vad import CropPolicy

Positives = Literal["paper", "code", "supervised"]
Reduction = Literal["sum", "mean_half"]
CropRange = Literal["window", "sequence"]
Probe = Literal["separate", "online"]
TextPositional = Literal["sequence", "batch_index"]
Head = Literal["mlp", "attention"]
RowModality = Literal["", "audio", "video", "landmarks"]
SamplerKind = Literal["shuffle", "class_balanced"]
PosWeight = Literal["computed", "official"]


@dataclasses.dataclass(frozen=True)
class EncoderConfig:
    """Backbones, temporal crop and optimiser (all settable with ``--set key=value``).

    Optimiser (Sec. III-D; code ``main.py`` L110-125, the same for encoder and classifiers):
    SGD, ``lr`` 1e-3 (the classifier's, code ``lr_linear``, and a baseline's whole network; the
    contrastive encoder's is ``MPUCConfig.pretrain_lr``), momentum 0.9, weight decay 1e-3;
    every learning rate is multiplied by ``lr_gamma`` 0.9 every ``lr_step_epochs`` epochs: 100
    for RAVDESS (the default), 5 for CMU-MOSEI (``--preset paper_mosei``). ``epochs`` 2000 is the paper's budget of the
    classifier stage; the protocol's ``selection.patience`` (100) stops it earlier.
    ``batch_size`` is that stage's batch: 64 for the downstream classifier (paper).
    """

    epochs: int = 2000
    batch_size: int = 64
    lr: float = 1e-3
    momentum: float = 0.9
    weight_decay: float = 1e-3
    lr_step_epochs: int = 100
    lr_gamma: float = 0.9
    # Temporal crop: consecutive steps fed to every backbone (code n_frames: RAVDESS 90, MOSEI 30).
    crop_frames: int = 90
    feature_dim: int = 512
    projection_hidden: int = 1024
    dropout: float = 0.1
    # Acoustic front end (transform audio_logmel_mpuc). Paper (Sec. IV-A): librosa mel "using 80
    # filter banks and by selecting one frame for every 16 frames"; read here as the 48 kHz
    # recording, hop 100, every 16th frame kept = 30 frames/s, the landmarks' rate. Code: the
    # TCN takes 128 channels (Encoder.py L102) from pickles cut with the ~30 fps landmark frame
    # indices (data/RAVDESS.py L151-172): preset ``code`` = 128 bins at 22050 Hz, hop 735.
    mel_bins: int = 80
    mel_sample_rate: int = 48000
    mel_hop_length: int = 100
    mel_decimate: int = 16
    # Which window of the clip is classified and where training crops come from: ``start``
    # (code: evaluation view starts at 0, data/RAVDESS.py L161-169), ``speech`` (centred on the
    # speech found by an energy detector, frames within ``vad_db`` of the loudest; training
    # windows around the same region) or ``mean`` (outputs averaged over ``eval_windows``
    # windows spread over the clip). The paper does not say; bench.data.vad.
    audio_crop: CropPolicy = "start"
    vad_db: float = 30.0
    eval_windows: int = 5
    # Training order: ``shuffle`` (the paper names no sampler) / ``class_balanced`` = the code's
    # WeightedRandomSampler with replacement, len(dataset) draws (main.py L66-67 RAVDESS: 1 / class
    # count; L55-56 MOSEI: per sample the sum of 1 / count over its labels, none = a "neutral" label).
    sampler: SamplerKind = "shuffle"
    # Multilabel BCE pos_weight: ``computed`` = each label's negatives / positives among the training
    # labels (the paper gives none) / ``official`` = the code's constants for happy, sad, anger,
    # surprise, disgust, fear [1.05285, 5.215074, 5.3373003, 19.489855, 7.0448384, 23.688004]
    # (train.py L88-90), matched by label name.
    pos_weight: PosWeight = "computed"
    # Patience of the last stage's selection: 0 = the protocol's (paper Sec. III-D: 100) / the code's
    # early stop, 50 for MOSEI (config/params_MOSEI.yaml, utils/ModelMonitor.py).
    val_patience: int = 0
    recorded_when_set: ClassVar[tuple[str, ...]] = ("pos_weight", "val_patience")
    # Acoustic TCN (code models/TCN.py, Encoder.py L102).
    tcn_blocks: int = 5
    tcn_repeats: int = 2
    tcn_bottleneck: int = 64
    tcn_hidden: int = 128
    tcn_kernel: int = 3
    # Landmark ST-GCN (code models/STGCN.py, Encoder.py L72) on 51 points.
    stgcn_channels: int = 64
    stgcn_spatial: int = 16
    # Facial images: R(2+1)D-18; the paper's Kinetics-400 weights only from a local file.
    video_clip_frames: int = 8
    video_size: int = 112
    video_weights: str = ""
    # Text transformer over 300-d word vectors (code Encoder.py L75-81); the GloVe vectors come
    # from a local file (text_glove transform), e.g. glove.840B.300d.txt.
    glove_path: str = ""
    text_dim: int = 300
    text_layers: int = 6
    text_heads: int = 5
    text_ff: int = 2048
    # paper: a Transformer [60] (positions along the sequence) / code: pe[:x.size(0)] on a
    # batch-first input adds the offset of the sample's BATCH position (Encoder.py L29-31, L177).
    text_positional: TextPositional = "sequence"

    def __post_init__(self) -> None:
        positive = {k: getattr(self, k) for k in (
            "epochs", "batch_size", "lr", "lr_step_epochs", "lr_gamma", "crop_frames", "feature_dim",
            "projection_hidden", "mel_bins", "mel_sample_rate", "mel_hop_length", "mel_decimate", "vad_db",
            "eval_windows", "tcn_blocks", "tcn_repeats", "tcn_bottleneck",
            "tcn_hidden", "tcn_kernel", "stgcn_channels", "stgcn_spatial", "video_clip_frames", "video_size",
            "text_dim", "text_layers", "text_heads", "text_ff")}
        bad = [f"{k}={v!r}" for k, v in positive.items() if not v > 0]
        if bad:
            raise ValueError(f"these must be > 0: {', '.join(bad)}")
        if self.val_patience < 0:
            raise ValueError(f"val_patience={self.val_patience}: must be >= 0 (0 = the protocol's patience)")
        if not 0.0 <= self.dropout < 1.0 or self.momentum < 0 or self.weight_decay < 0:
            raise ValueError("dropout must be in [0, 1), momentum and weight_decay >= 0")
        if self.crop_frames < 11:
            raise ValueError(f"crop_frames={self.crop_frames}: the ST-GCN's five temporal convolutions "
                             "(kernel 3) need at least 11 steps")
        if self.tcn_kernel % 2 == 0:
            raise ValueError(f"tcn_kernel={self.tcn_kernel}: an odd kernel keeps the TCN's length")
        if self.text_dim % self.text_heads or self.text_dim % 2:
            raise ValueError(f"text_dim={self.text_dim} must be even and divisible by text_heads={self.text_heads}")

    @property
    def views(self) -> int:
        """Temporal crops taken per sample and step (one: a supervised baseline)."""
        return 1

    @property
    def window_frames(self) -> int:
        """Steps of each item the data layer delivers; the module's crops lie inside it."""
        return self.crop_frames


@dataclasses.dataclass(frozen=True)
class MPUCConfig(EncoderConfig):
    """The contrastive method: pretraining (Sec. III-B) then the downstream classifier (III-C).

    Paper vs code switches (defaults = paper):

    * ``positives``: ``paper`` = eq. 1: the positive of ``z_i^m`` is ``z_i^n``, the denominator
      runs over ``j != i`` only (it excludes the positive). With ``crops=2`` (default) ``z^m`` and
      ``z^n`` come from the two overlapping crops of each sample, either way round (the paper's
      "augmentation in the temporal dimension": segments ``t..t+10`` and ``t+5..t+15`` "used in
      the same training", Sec. III-D); ``crops=1`` is the other reading, one fresh crop per step
      shared by both modalities.
      ``code`` = two crops per sample (``SupConSeparate.py`` L86-98): the only positive is
      the other crop of the same sample in the other modality, the same-crop pair is dropped
      from numerator and denominator, the denominator includes the positive.
      ``supervised`` = the shipped RAVDESS config (``unsupervised: False``): every same-class
      sample of both crops is a positive (labels are then seen while pretraining) and the
      last modality is never an anchor, so eq. 2 averages over (M-1)^2 pairs.
    * ``loss_reduction``: ``sum`` = ``L^{m,n} = sum_i L_i`` (paper) / ``mean_half`` = the mean
      over anchors of ``-sum_pos log p / (#pos + 1)``, i.e. an extra 1/2 with one positive (code).
    * ``probe``: ``separate`` = frozen features, then the classifier is trained (the paper's
      linear evaluation) / ``online`` = classifier trained from epoch 0 on detached features of
      the encoder in train mode, one stage, selected on validation like the code (``train.py``).
    * ``transductive``: off (paper) / on = after every pretraining epoch, contrastive updates
      on the validation and test inputs (no labels; the code's MOSEI config). Marked in the
      record's ``weights`` field, so every table row it feeds shows it.
    * ``text_positional`` (see :class:`EncoderConfig`).

    The MOSEI label rule (``> 0`` paper vs the code's effective ``>= 1``) is the mosei
    adapter's ``presence`` option (``"gt0"`` default / ``"ge1"``), set by a protocol's
    ``dataset_options: {presence: ge1}``, not a method setting.

    ``pretrain_epochs`` 2000 and ``pretrain_batch_size`` 32 are the paper's budget and batch
    (Sec. III-D). An unlabelled stage has no validation score to stop on, so the protocol's
    patience stops only the classifier stage; with ``probe=online`` the one joint stage runs
    ``epochs`` under that patience, as the code does.

    ``crops`` (2 or 1): temporal crops per sample and step; ``code`` / ``supervised`` need 2.

    ``crop_range``: where the two crops of a sample are drawn. ``window`` (the paper's
    overlapping segments, Sec. III-D): the data layer delivers a window of ``crop_frames +
    view_shift`` steps (``view_shift``, bench's, 30; random start in training, start 0 in
    evaluation) and the two crops start independently and uniformly inside it, so they overlap
    by at least ``crop_frames - view_shift`` steps. ``sequence`` (the code, ``data/CMU_MOSEI.py``
    L205-235, ``data/RAVDESS.py`` L151-172): each crop starts anywhere in the whole sequence;
    the transforms deliver the two crops one after the other (their ``crops`` parameter), drawn
    with the same generator for every modality, so equal-length modalities share the starts as
    the code's do. Face frames are TSN-sampled over the whole clip either way (``face_frames``,
    ``window_frames`` segments), so under ``sequence`` crop 1 is the first half of them and crop 2
    the second. Evaluation classifies the first ``crop_frames`` steps, as the code does.
    """

    temperature: float = 0.07
    # Encoder learning rate (code lr_encoder; ``lr`` is its lr_linear); the paper: 1e-3 for both.
    pretrain_lr: float = 1e-3
    positives: Positives = "paper"
    loss_reduction: Reduction = "sum"
    probe: Probe = "separate"
    transductive: bool = False
    pretrain_epochs: int = 2000
    pretrain_batch_size: int = 32
    crops: int = 2
    view_shift: int = 30
    crop_range: CropRange = "window"
    # The code's encoder checkpoint (encoder/encoder_epoch_top.pth, train.py L449-463) to start the
    # backbones and projection heads from; "" = random init (video: video_weights).
    official_encoder: str = ""

    def __post_init__(self) -> None:
        super().__post_init__()
        if not (self.temperature > 0 and self.pretrain_lr > 0 and self.pretrain_epochs >= 1
                and self.pretrain_batch_size >= 2):
            raise ValueError("temperature and pretrain_lr must be > 0, pretrain_epochs >= 1 and "
                             "pretrain_batch_size >= 2 (a contrastive batch needs negatives)")
        if self.view_shift < 0:
            raise ValueError(f"view_shift must be >= 0, got {self.view_shift}")
        if self.crops not in (1, 2):
            raise ValueError(f"crops must be 1 or 2, got {self.crops}")
        if self.crops == 1 and self.positives != "paper":
            raise ValueError(f"positives={self.positives} contrasts the two crops of each sample: it needs crops=2")

    @property
    def views(self) -> int:
        return self.crops

    @property
    def window_frames(self) -> int:
        if self.crop_range == "sequence":
            return self.views * self.crop_frames
        return self.crop_frames + (self.view_shift if self.views == 2 else 0)


@dataclasses.dataclass(frozen=True)
class SupervisedConfig(EncoderConfig):
    """The supervised baselines of Tables I-II: the MPUC backbones trained end to end with labels.

    ``head``: ``mlp`` = concatenated 512-d features -> fc + ReLU + fc (Unimodal with one
    modality, Late Fusion with several); ``attention`` = the "Attention Mec." baseline: the
    concatenation goes through query/key/value linears and multi-head attention
    (``attention_heads`` 4) before the same fc + ReLU + fc (code ``models/attention.py``: a
    length-1 sequence, so the attention weights are 1 and it acts as linear layers).
    Defaults are the Late Fusion row (batch 32, lr 1e-3, momentum 0.9, epochs by patience);
    the other rows are presets of ``mpuc_supervised``.
    """

    batch_size: int = 32
    head: Head = "mlp"
    attention_heads: int = 4

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.attention_heads < 1:
            raise ValueError(f"attention_heads must be >= 1, got {self.attention_heads}")


@dataclasses.dataclass(frozen=True)
class AttentionConfig(SupervisedConfig):
    """The "Attention Mec." baseline (Sec. IV-B): the concatenated 512-d features through multi-head
    attention [60] (``attention_heads`` 4, code ``models/attention.py``), then fc + ReLU + fc.

    The paper's settings for this row: batch 64, lr 1e-3, up to 2000 epochs with the patience of
    Sec. III-D, and "the same scheduler as the proposed method" (x0.9 every ``lr_step_epochs``).
    """

    batch_size: int = 64
    head: Head = "attention"


@dataclasses.dataclass(frozen=True)
class UnimodalConfig(SupervisedConfig):
    """The "Unimodal" baselines (Sec. IV-B): one backbone and fc + ReLU + fc, trained with labels.

    ``row_modality`` names the Table I row whose schedule the other fields hold ("" = none in
    particular); when set, a run on another modality is a ConfigError, so a row's schedule is never
    silently used for another row. The paper's schedules are presets of ``mpuc_unimodal``:
    ``acoustics`` (lr 1e-3, x0.9 every 10 epochs, batch 32, 100 epochs), ``faces`` (lr 0.01,
    momentum 0.9, 150 epochs), ``landmarks`` (lr 1e-3, momentum 0.9, epochs by patience: the
    defaults).
    """

    row_modality: RowModality = ""
