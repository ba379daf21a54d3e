"""ConCluGen's configuration and its variants (Halawa, Blume et al., CVPRW 2024).

Defaults are the paper's values; where the paper is silent they are the official code's
(``tub-cv-group/conclugen`` @ dab52231), and where the two differ the field is a switch whose
docstring names both sides, its default the paper's and :data:`CODE` (preset ``code``) the
code's. Every variant of Tables 2-5 is a value of ``variant``; :data:`VARIANTS` says which
self-supervised losses each one switches on.
"""

from __future__ import annotations

import dataclasses
from typing import Literal

Variant = Literal[
    "conclugen", "conclu", "congen", "multi_cont", "instance_cont", "generative", "conclugen_vision",
    "multi_cont_wo_text", "multi_cont_wo_audio", "supervised",
]


@dataclasses.dataclass(frozen=True)
class VariantSpec:
    """What one variant of the paper pretrains with and which representations it evaluates on.

    ``losses`` is a subset of ``mms`` (eqs. 2-5), ``clu`` (eqs. 8-10), ``rec`` (eqs. 6-7) and
    ``nce`` (eq. 1); ``modalities`` (None = all the protocol's) are the modalities it uses at
    all; ``eval_modalities`` (None = the same) those whose representations feed the classifier.
    """

    losses: frozenset[str]
    modalities: tuple[str, ...] | None = None
    eval_modalities: tuple[str, ...] | None = None


VARIANTS: dict[str, VariantSpec] = {
    "conclugen": VariantSpec(frozenset({"mms", "clu", "rec"})),       # eq. 11
    "conclu": VariantSpec(frozenset({"mms", "clu"})),                 # eq. 12
    "congen": VariantSpec(frozenset({"mms", "rec"})),                 # eq. 13
    "multi_cont": VariantSpec(frozenset({"mms"})),                    # eq. 5, Sec. 3.3
    "instance_cont": VariantSpec(frozenset({"nce"}), ("video",)),     # eq. 1, Sec. 3.2
    "generative": VariantSpec(frozenset({"rec"})),                    # eq. 7, Sec. 3.4
    "conclugen_vision": VariantSpec(frozenset({"mms", "clu", "rec"}), None, ("video",)),
    "multi_cont_wo_text": VariantSpec(frozenset({"mms"}), ("video", "audio")),
    "multi_cont_wo_audio": VariantSpec(frozenset({"mms"}), ("video", "text")),
    "supervised": VariantSpec(frozenset()),                           # Table 2, no pretraining
}


@dataclasses.dataclass(frozen=True)
class ConCluGenConfig:
    """Hyperparameters and paper-vs-code switches (all settable with ``--set key=value``)."""

    variant: Variant = "conclugen"

    # --- frozen backbones (feature extraction stage, paper Sec. 3.1 and 4.1) ----------
    video_backbone_2d: Literal["resnet152", "resnet18", "tiny"] = "resnet152"
    """2D ResNet on frames at 1 fps (paper [24]; code: torchvision ResNet-152, ImageNet)."""
    video_backbone_3d: Literal["r3d_18", "r3d_34", "r3d_50", "r3d_101", "r3d_152", "tiny"] = "r3d_101"
    """3D ResNet on 16-frame windows, by depth (``backbones.R3D_DEPTHS``). The code uses pretorched
    ``resnet3d101`` (Kinetics-400, 2048-d): ``r3d_101`` with ``video_3d_stem`` pretorched is that
    network, and its checkpoint loads as shipped (keys renamed on loading); ``r3d_18`` with the
    torchvision stem is torchvision's ``r3d_18`` (512-d)."""
    video_3d_stem: Literal["pretorched", "torchvision"] = "pretorched"
    """The 3D ResNet's stem (``backbones.R3D_STEMS``): pretorched's 7x7x7 conv + max-pool (the code;
    the paper names no 3D network) or torchvision's 3x7x7 ``BasicStem``."""
    video_weights_2d: str | None = None
    """Local file with the 2D backbone's state_dict (loaded strictly); None = random init (recorded)."""
    video_weights_3d: str | None = None
    """Local file with the 3D backbone's state_dict (loaded strictly); None = random init (recorded)."""
    frame_size: int = 180
    """Frames are resized to this square (code: 180x180 face crops, ``configs/testing.yaml``)."""
    frame_folder_fps: float = 25.0
    """The rate assumed for a clip given as a folder of frame images (DFEW's ``clip_224x224``),
    which carries none; a video file's own rate is always used (the code reads video files)."""
    swap_2d_normalisation: bool = False
    """False: ImageNet mean/std for the 2D ResNet (what the paper's ImageNet ResNet expects).
    True: the code's swapped ``mean=[0.229,0.224,0.225], std=[0.485,0.456,0.406]``
    (``configs/model/conclu/concat/conclu_single.yaml``)."""
    instance_views: int = 10
    """Temporally consistent augmented views precomputed per clip for Instance-Cont (code: 10)."""
    instance_cont_frames: Literal["2d_3d", "3d"] = "2d_3d"
    """Instance-Cont's video features: ``2d_3d`` the concatenated 2D + 3D ResNet features every
    other variant uses (the paper's Sec. 3.2 names no other); ``3d`` the code's SimCLR model on
    the 3D ResNet features only (``configs/data/voxceleb2/voxceleb2_precomp_simclr_frames3d.yaml``)."""
    audio_width: int = 128
    """DAVEnet channel width: stages ``w, 2w, 4w, 8w`` (ResDAVEnet: 128 → 1024-d features)."""
    audio_first_conv_bins: int = 128
    """Height of DAVEnet's first conv: 128 = it spans the 128 mel bins (the paper's "DAVENet on
    spectrograms"); 40 = the code's ``feat_dim`` quirk that slides a 40-bin conv along the mel axis."""
    audio_weights: str | None = None
    """Local file with the DAVEnet state_dict (loaded strictly); None = random init (recorded)."""
    audio_layout: Literal["bench", "code"] = "bench"
    """The DAVEnet's layout (``backbones.DavEnet``): ``bench`` widths w, w, 2w, 4w, 8w; ``code`` the
    official ``ResDavenet`` as shipped (widths 128/256/256/512/1024, ``layerN``/``downsample`` keys,
    an unused ``batchnorm1``: ``dav_enet.py`` L56-127), into which the ResDAVEnet-VQ
    ``best_audio_model.pth`` the code downloads loads strictly."""
    text_model_dir: str | None = None
    """Local Hugging Face model directory of the text encoder (paper: DistilBERT; code:
    j-hartmann/emotion-english-distilroberta-base); None = a random-init hashed word embedding."""
    text_max_length: int = 512
    """Token limit of the text encoder (the code tokenises without truncation)."""
    tiny_dim: int = 32
    """Output width of the ``tiny`` backbones (cheap CPU stand-ins, tests and smoke runs only)."""

    # --- heads (paper Sec. 3.1, Fig. 1) ----------------------------------------------------
    official_checkpoint: str | None = None
    """Local official ConCluGen checkpoint (a released ``.ckpt`` or a state_dict in
    ``ConCluModel``'s names) loaded into the heads it covers (:mod:`.official`); None = random init."""
    input_norm: bool = False
    """False: F reads the backbone features as they are (paper and code). True: bench's addition
    for the random ``tiny`` stand-ins, whose features have tiny, uneven scales: a non-affine
    BatchNorm1d (cumulative statistics) standardises each modality's features before F (frozen after pretraining)."""
    representation_dim: int = 4096
    """Width of each representation head F (code ``configs/testing.yaml``: 4096)."""
    projection_head: Literal["per_modality", "shared"] = "per_modality"
    """per_modality: three heads J_v, J_t, J_a of two linear layers (paper Sec. 3.1);
    shared: ONE head Linear → BatchNorm → ReLU → Linear → ReLU for all modalities (code
    ``pretraining_heads.py`` L30-35)."""
    projection_dim: int = 1024
    num_clusters: int = 32
    reconstruction_dim: int = 1024
    reconstruction_final_relu: bool = False
    """True: the code's trailing ReLU on Q (cannot reproduce signed features); False: a linear
    output, which eq. 6's MSE to the input features needs."""

    # --- losses (eqs. 1-13) ------------------------------------------------------------------
    margin: float = 0.001
    """δ of eqs. 3-4 and 10 (code: 0.001)."""
    margin_form: Literal["paper", "code"] = "paper"
    """paper: eqs. 3-4 / 10 as printed: δ taken off the positive term in the numerator only
    (``e^{s}-δ`` in MMS, ``e^{s-δ}`` in clustering; eq. 3's missing ``+`` read as a sum);
    code: δ subtracted from the positive logit before a full softmax (``mms_loss.py`` L21-22,
    ``clustering_loss.py`` L25-43)."""
    mms_temperature: float | None = None
    """Temperature of the MMS logits; None = none (neither eqs. 3-4 nor the code have one)."""
    nce_temperature: float = 0.07
    """τ of eq. 1 (Instance-Cont); the paper gives no value, the code's ``SimCLRLoss`` uses 0.07."""
    loss_combination: Literal["sum", "mean"] = "sum"
    """sum: eqs. 11-13; mean: the code's ``LossesMergingLoss(mode='mean')`` of the active terms."""
    weight_mms: float = 1.0
    weight_clu: float = 1.0
    weight_rec: float = 1.0
    kmeans_metric: Literal["euclidean", "cosine"] = "euclidean"
    """euclidean: eq. 9 minimises |R - C|; cosine: the code's fast_pytorch_kmeans ``mode='cosine'``."""
    kmeans_iters: int = 100
    """k-means iterations per run (fast_pytorch_kmeans default max_iter 100, tol 1e-4)."""
    kmeans_loop: Literal["lloyd", "fast_pytorch_kmeans"] = "lloyd"
    """lloyd: labels of the final centroids, stop when no centroid moves more than 1e-4 (eq. 9);
    fast_pytorch_kmeans: the code's library loop — labels of the last assignment step, stop when
    the summed squared shift is at most 1e-4 (:mod:`.kmeans`)."""
    kmeans_empty_cluster: Literal["keep", "zero"] = "keep"
    """A cluster left without rows keeps its centroid (keep), or becomes the zero vector as the
    code's fast_pytorch_kmeans makes it (``nan_to_num`` of 0/0, zero)."""
    kmeans_every_steps: int = 1
    """Run k-means every N training steps (code: every step, L604); steps in between assign
    to the last centroids."""
    kmeans_queue_batches: int = 0
    """k-means runs on ``[queue; current batch]``, the queue holding this many past batches of
    fused R, reset at every epoch start and used once full (code ``kmeans_queue_size``)."""
    kmeans_queue_reduction_factor: int = 0
    """0: the queue keeps every row of the past batches (code default None). r > 0: the code's
    thinning (``contrastive_clustering_model.py`` L192-195, L557-566): a batch's fused rows are
    taken as 128 runs of ``pretrain_batch_size // 128`` consecutive rows and only the first
    ``(pretrain_batch_size // 128) // r`` of each run are queued (k-means still sees the whole
    current batch). Needs ``pretrain_batch_size`` >= 128 · r."""
    kmeans_start_epoch: int = 0
    """The clustering term counts from this epoch on (code ``kmeans_start_epoch``)."""
    kmeans_loss_mode: Literal["joint", "individual"] = "joint"
    """joint: eq. 10 on the fused R; individual: one term per modality g_m vs the joint labels (code)."""

    # --- training (the paper gives no schedule; the code's configs/defaults.yaml, testing.yaml) ---
    lr_schedule: Literal["code", "constant"] = "code"
    """code: per-epoch linear warm-up (5 epochs from 0.1·lr) then cosine warm restarts (T_0 20,
    T_mult 2, eta_min 1e-6; the peak × 0.75 at every restart in pretraining), :mod:`.schedules` —
    the paper states no schedule but cites SGDR; constant: the base lr throughout."""
    pretrain_warmup: Literal["configured", "last_epoch_10"] = "configured"
    """configured: pretraining warms up over 5 epochs as ``configs/defaults.yaml`` writes it;
    last_epoch_10: what its ``SequentialLR(..., last_epoch=10)`` does — one epoch at 0.1·lr, then
    the warm restarts from epoch 1 (:data:`.schedules.PRETRAIN_AS_RUN`)."""
    pretrain_epochs: int = 100
    pretrain_batch_size: int = 256
    pretrain_lr: float = 2e-5
    pretrain_weight_decay: float = 1e-3
    epochs: int = 100
    batch_size: int = 4096
    lr: float = 0.00967
    weight_decay: float = 0.004
    dropout: float = 0.5
    selection: Literal["protocol", "early_stop_loss"] = "protocol"
    """The downstream stage's model selection: the protocol's rule (best validation metric), or the
    code's early stopping on the class-weighted validation loss, testing the last epoch's weights
    (:mod:`.selection`; with ``epochs`` 1000, Lightning's default the code leaves in place)."""
    early_stop_patience: int = 15
    """Epochs without a lower validation loss before ``early_stop_loss`` stops (code: 15)."""
    training_copies: int = 0
    """Precomputed augmented copies of every clip's features for the downstream training stages,
    one drawn at random per sample and step, the clean features for evaluation and pretraining:
    0 = none (the paper states no downstream augmentation); the code: 10 (``aug1``..``aug10`` of
    ``configs/data/<ds>/<ds>_cropped_precomp_augmented.yaml``: video crop + flip, audio
    frequency + time masking, text word swap; :mod:`.features`)."""
    class_weighting: Literal["official", "none"] = "official"
    """official: the code's weights (:mod:`.class_weights`) — MELD CE [4,15,15,3,1,6,3], MOSEI BCE
    pos_weight [1.05285, 5.21507, 5.33730, 19.48985, 7.04484, 23.68800], CAER CE weights
    proportional to the training-side class counts; other datasets use the task's own
    class_weights, if any."""

    def __post_init__(self) -> None:
        for name in ("representation_dim", "projection_dim", "num_clusters", "reconstruction_dim", "audio_width",
                     "audio_first_conv_bins", "frame_size", "tiny_dim", "kmeans_iters", "kmeans_every_steps",
                     "pretrain_batch_size", "batch_size", "text_max_length"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.frame_folder_fps <= 0:
            raise ValueError(f"frame_folder_fps must be > 0, got {self.frame_folder_fps}")
        if self.audio_first_conv_bins > 128:
            raise ValueError("audio_first_conv_bins must be <= 128 (the spectrogram has 128 mel bins)")
        if self.mms_temperature is not None and self.mms_temperature <= 0:
            raise ValueError(f"mms_temperature must be > 0 or null, got {self.mms_temperature}")
        if self.nce_temperature <= 0:
            raise ValueError(f"nce_temperature must be > 0, got {self.nce_temperature}")
        if not 0 <= self.dropout < 1:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")
        if self.kmeans_queue_reduction_factor < 0:
            raise ValueError(f"kmeans_queue_reduction_factor must be >= 0 (0 = off), got {self.kmeans_queue_reduction_factor}")
        if self.kmeans_queue_reduction_factor and self.pretrain_batch_size // 128 < self.kmeans_queue_reduction_factor:
            raise ValueError(f"kmeans_queue_reduction_factor={self.kmeans_queue_reduction_factor} keeps "
                             f"(pretrain_batch_size // 128) // factor = 0 rows per run at pretrain_batch_size="
                             f"{self.pretrain_batch_size}; it needs pretrain_batch_size >= 128 x the factor")
        if self.early_stop_patience < 1:
            raise ValueError(f"early_stop_patience must be >= 1, got {self.early_stop_patience}")
        if self.training_copies < 0:
            raise ValueError(f"training_copies must be >= 0, got {self.training_copies}")
        if self.instance_views < 2:
            raise ValueError(f"instance_views must be >= 2 (a positive pair), got {self.instance_views}")

    @property
    def spec(self) -> VariantSpec:
        return VARIANTS[self.variant]


CODE: dict[str, object] = {
    "swap_2d_normalisation": True, "instance_cont_frames": "3d", "audio_first_conv_bins": 40, "audio_layout": "code",
    "projection_head": "shared", "reconstruction_final_relu": True, "margin_form": "code", "loss_combination": "mean",
    "kmeans_metric": "cosine", "kmeans_loop": "fast_pytorch_kmeans", "kmeans_empty_cluster": "zero",
    "pretrain_warmup": "last_epoch_10", "training_copies": 10, "selection": "early_stop_loss", "epochs": 1000,
}
"""Preset ``code``: every switch set to the official code's side (``tub-cv-group/conclugen`` @ dab52231)."""


TINY: dict[str, object] = {
    "video_backbone_2d": "tiny", "video_backbone_3d": "tiny", "frame_size": 32, "instance_views": 2,
    "audio_width": 8, "tiny_dim": 128, "input_norm": True, "representation_dim": 256, "projection_dim": 64,
    "num_clusters": 4, "reconstruction_dim": 64, "kmeans_iters": 10, "pretrain_epochs": 50, "pretrain_batch_size": 32,
    "pretrain_lr": 3e-3, "epochs": 100, "batch_size": 64, "lr": 1e-2, "weight_decay": 1e-4,
}
"""CPU sizes for the synthetic benchmark (192 training clips a fold) with tiny frozen backbones;
why these sizes: REPRODUCE.md, ConCluGen, "CPU checks"."""
