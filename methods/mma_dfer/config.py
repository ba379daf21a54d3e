"""MMA-DFER's configuration: the paper's values as defaults, every paper-vs-code difference a switch.

Paper: Chumachenko, Iosifidis, Gabbouj, "MMA-DFER: MultiModal Adaptation of unimodal models
for Dynamic Facial Expression Recognition in-the-wild", CVPRW 2024 (§4.2 setup). Official code:
github.com/katerynaCh/MMA-DFER (commit 4b8891a, the files cited below). Where the paper states
a value it is the default and the code's value is the other side of a named switch; where the
paper is silent, the code's value is the default. The ``code`` preset (old name ``official``,
an alias) sets every switch to the code's side:

======================  ==========================================  ==========================================
switch                  paper (default)                              official code (``--preset code``)     
======================  ==========================================  ==========================================
``gates``               ``one``: a single alpha (Eq. 5)             ``per_layer_and_modality``: 24 gates
``fusion_tokens``       ``patches``: Eq. 3 averages the N patches   ``all``: CLS and prompts averaged/updated too
``lr_schedule``         ``cosine_to_zero``: per step, 0 at the end  ``cosine_per_epoch``: CosineAnnealingLR(25)
``frame_ordering``      ``numeric`` (temporal order)                ``lexicographic`` (scrambles MAFW)
``frame_count``         ``files``: every frame file of the clip     ``lists``: the lists' count, one fewer on
                                                                    MAFW's face crops
``missing_audio``       ``error``: a missing wav stops the run      ``zeros``: the all-zero fbank, normalised
``drop_last``           ``false`` (the paper is silent)             ``true``: the last, smaller batch dropped
``img_size``            160 (the ablations' resolution)             224 (``train_DFEW.sh``, ``train_MAFW.sh``)
``crop_from``           ``cached``: crops of the S x S frames       ``source``: crops of the source frames
                                                                    (stored at ``source_size``, 224)
``resize``              ``torch``: antialiased bilinear on floats   ``pil``: PIL bilinear on 8-bit frames
                        (the paper is silent)
======================  ==========================================  ==========================================

Official sources of the code side: ``models/models_vit.py:60`` and ``AudioMAE/audio_models_vit.py:66``
(one gate per block and branch, added to every token), ``main.py:157-158`` (``CosineAnnealingLR``
stepped per epoch), ``dataloader/video_dataloader.py:138-139`` (``glob`` + ``sort``),
``data_utils/process_ann_mfaw.py:26`` (``len(os.listdir(path)) - 1`` written as the MAFW frame
count, which ``_get_train_indices`` / ``_get_test_indices`` sample from, L57-75),
``dataloader/video_dataloader.py:151-152`` (a missing MAFW wav is ``torch.zeros(512, 128)``),
``main.py:173-178`` (``drop_last=True``), ``train_DFEW.sh`` / ``train_MAFW.sh`` (``--img-size 224``) and
``dataloader/video_transform.py:271`` (training: the random-sized crop resized with ``Image.BILINEAR``)
and ``:229`` (test: ``GroupResize``, the same) on the frames as PIL images.

The Table 2-7 ablations are the switches ``num_prompts`` / ``prompt_updates`` (Tables 4, 7),
``fusion`` and ``bottleneck_dim`` (Tables 3, 6), ``temporal`` and ``ita_dim`` (Tables 2, 4) and
``--modalities video`` / ``audio`` with ``unimodal`` (Table 5).
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar, Literal

Fusion = Literal["bottleneck", "add", "mult", "mult_concat", "none"]
Temporal = Literal["mtt", "ita", "mtt+ita", "none"]


@dataclasses.dataclass(frozen=True)
class MMADFERConfig:
    """Every MMA-DFER setting (``--set key=value``); see the module docstring for the switches.

    Training (§4.2; ``train_DFEW.sh``): AdamW (default betas), lr 1e-4, weight decay 1e-2 on
    every trainable tensor, batch 8, 25 epochs, cross-entropy; the last epoch is evaluated
    (the protocols' ``last_epoch`` rule). ``lr_schedule``: the paper anneals "to 0 over 25
    epochs" (here per step, reaching 0 after the last step); the code steps
    ``CosineAnnealingLR(T_max=epochs)`` once per epoch, so its last epoch trains at 3.9e-7.

    Inputs: ``num_frames`` (16) TSN frames at ``img_size`` (112, 160 or 224; 160 is the
    resolution of the ablations and of the "8 h per fold" timing), in ``frame_ordering``, in
    [0, 1] without mean/std normalisation (as the code); ``test_clips`` = 2 for the Table 1 "*"
    rows (a 2-clip average, not in the code). ``augment``: the code's per-clip train
    augmentation (brightness 0.5, random-sized crop, horizontal flip;
    ``dataloader/video_dataloader.py:173-178``), applied here on the batch. ``frame_count``
    ``lists`` samples a clip's frames by the count the official lists give: the file count on
    DFEW, one fewer on MAFW's face crops (a frame folder inside ``clips_faces/``).
    ``crop_from``: ``cached`` stores frames at S x S and crops those; ``source`` stores them at
    ``source_size`` (224: DFEW's ``clip_224x224`` frames as they are; MAFW's native-size crops
    are resized to it first, bench's approximation) and crops those, then resizes to S, as the
    code's ``GroupRandomSizedCrop(S)`` on the source frame; evaluation resizes to S.
    Audio: Kaldi fbank ``audio_frames`` x ``audio_mel_bins`` (512 x 128) with AudioSet
    normalisation; ``audio_sample_rate`` null and ``audio_channel`` first are the code's (no
    resampling, channel 0), 16000 / mean what AudioMAE was pre-trained on; ``missing_audio``
    zeros is the code's MAFW rule for a missing wav or audio track (a missing DFEW wav is an
    error there; ``code`` sets zeros for both).
    ``drop_last``: the training loader drops each epoch's last, smaller batch (the code).

    Encoders: ViT-B/16 (``embed_dim`` 768, ``depth`` 12, ``num_heads`` 12, ``patch_size`` 16),
    frozen, with stochastic depth ``drop_path_rate`` 0.1 active in training (code; 0 turns it
    off). ``vision_weights`` / ``audio_weights``: local MAE-Face / AudioMAE checkpoints (null =
    random init, recorded as such); ``checkpoint``: a released MMA-DFER checkpoint (it holds
    every weight, encoders included, so the two encoder files stay unset; with ``epochs=0``
    the run only evaluates it);
    ``trust_checkpoints``: allow ``torch.load(weights_only=False)`` for files whose extras are
    not on bench's allow-list (that runs code from the file: only for files you trust).

    Prompts (§3.2): ``num_prompts`` M (6; 0 = none), ``prompt_updates`` L (2: after blocks 0
    and 6), ``M / L`` tokens per update. Table 7's 12/6/4 updates cannot split M = 6 evenly;
    the code sizes prompts as 3 per update (``n_progr x depth // 6``), i.e. set ``num_prompts``
    to 36 / 18 / 12. Table 4's "Pr." without "Pr.Pr." is ``prompt_updates=0``.

    Fusion (§3.3, Table 3): ``fusion`` after every block (the code; the paper: "multiple
    intermediate stages"), ``bottleneck_dim`` 128 (Table 6: 64-512), ``mult_heads`` 2 (MULT).
    Temporal (§3.4, Table 2): ``joint_dim`` 512 (the joint adaptation layer), MTT of
    ``mtt_depth`` 1, ``mtt_heads`` 8 x ``mtt_dim_head`` 64, ``mtt_mlp_dim`` 1024; ``temporal``
    ``none`` averages the frames after joint adaptation (Table 4), ``ita`` adds intermediate
    temporal adapters of ``ita_dim`` inside the bottleneck (Table 2).

    ``unimodal`` (one modality): ``probe`` is Table 5's (the branch frozen, only a classifier
    on its CLS trained); ``adapted`` keeps prompts, positional tuning, joint adaptation and
    (video) the MTT. ``bf16``: bfloat16 autocast (the paper trains in fp32).
    """

    epochs: int = 25
    batch_size: int = 8
    lr: float = 1e-4
    weight_decay: float = 1e-2
    lr_schedule: Literal["cosine_to_zero", "cosine_per_epoch"] = "cosine_to_zero"
    num_frames: int = 16
    img_size: int = 160
    frame_ordering: Literal["numeric", "lexicographic"] = "numeric"
    frame_count: Literal["files", "lists"] = "files"
    crop_from: Literal["cached", "source"] = "cached"
    source_size: int = 224
    test_clips: int = 1
    augment: bool = True
    audio_frames: int = 512
    audio_mel_bins: int = 128
    audio_sample_rate: int | None = None
    audio_channel: Literal["first", "mean"] = "first"
    missing_audio: Literal["error", "zeros"] = "error"
    patch_size: int = 16
    embed_dim: int = 768
    depth: int = 12
    num_heads: int = 12
    drop_path_rate: float = 0.1
    vision_weights: str | None = None
    audio_weights: str | None = None
    checkpoint: str | None = None
    trust_checkpoints: bool = False
    num_prompts: int = 6
    prompt_updates: int = 2
    fusion: Fusion = "bottleneck"
    bottleneck_dim: int = 128
    gates: Literal["one", "per_layer_and_modality"] = "one"
    fusion_tokens: Literal["patches", "all"] = "patches"
    mult_heads: int = 2
    temporal: Temporal = "mtt"
    ita_dim: int = 128
    joint_dim: int = 512
    mtt_depth: int = 1
    mtt_heads: int = 8
    mtt_dim_head: int = 64
    mtt_mlp_dim: int = 1024
    unimodal: Literal["probe", "adapted"] = "probe"
    drop_last: bool = False
    bf16: bool = False
    resize: Literal["torch", "pil"] = "torch"
    recorded_when_set: ClassVar[tuple[str, ...]] = ("resize",)

    def __post_init__(self) -> None:
        for key in ("batch_size", "num_frames", "img_size", "source_size", "test_clips", "audio_frames", "audio_mel_bins",
                    "patch_size", "embed_dim", "depth", "num_heads", "bottleneck_dim", "mult_heads", "ita_dim",
                    "joint_dim", "mtt_heads", "mtt_dim_head", "mtt_mlp_dim"):
            _at_least(self, key, 1)
        for key in ("epochs", "num_prompts", "prompt_updates", "mtt_depth"):
            _at_least(self, key, 0)
        if not self.lr > 0 or self.weight_decay < 0 or not 0 <= self.drop_path_rate < 1:
            raise ValueError(f"need lr > 0, weight_decay >= 0 and 0 <= drop_path_rate < 1, got lr={self.lr}, "
                             f"weight_decay={self.weight_decay}, drop_path_rate={self.drop_path_rate}")
        for key in ("img_size", "audio_frames", "audio_mel_bins"):
            if getattr(self, key) % self.patch_size:
                raise ValueError(f"{key}={getattr(self, key)} is not a multiple of patch_size={self.patch_size}")
        if self.embed_dim % self.num_heads:
            raise ValueError(f"embed_dim={self.embed_dim} is not divisible by num_heads={self.num_heads}")
        if self.bottleneck_dim % self.mult_heads and self.fusion in ("mult", "mult_concat"):
            raise ValueError(f"bottleneck_dim={self.bottleneck_dim} is not divisible by mult_heads={self.mult_heads}")
        if self.prompt_updates:
            if not self.num_prompts or self.num_prompts % self.prompt_updates or self.depth % self.prompt_updates:
                raise ValueError(
                    f"prompt_updates={self.prompt_updates} must divide num_prompts={self.num_prompts} (> 0) and "
                    f"depth={self.depth} (e.g. num_prompts=3*prompt_updates, as the official code sizes them)")
        if "ita" in self.temporal and self.fusion != "bottleneck":
            raise ValueError(f"temporal={self.temporal!r} puts the adapters inside the fusion bottleneck: "
                             f"it needs fusion='bottleneck', got {self.fusion!r}")
        if "mtt" in self.temporal and not self.mtt_depth:
            raise ValueError(f"temporal={self.temporal!r} needs mtt_depth >= 1")


def stored_size(cfg: MMADFERConfig) -> int:
    """The side of the frames as stored: ``img_size``, or ``source_size`` when crops come from the source."""
    return cfg.source_size if cfg.crop_from == "source" else cfg.img_size


def _at_least(cfg: MMADFERConfig, key: str, low: int) -> None:
    if getattr(cfg, key) < low:
        raise ValueError(f"{key} must be >= {low}, got {getattr(cfg, key)}")


#: The official code's side of every paper-vs-code switch (see the module docstring).
CODE: dict[str, Any] = {
    "gates": "per_layer_and_modality",
    "fusion_tokens": "all",
    "lr_schedule": "cosine_per_epoch",
    "frame_ordering": "lexicographic",
    "frame_count": "lists",
    "missing_audio": "zeros",
    "drop_last": True,
    "img_size": 224,
    "crop_from": "source",
    "resize": "pil",
}

#: A small ViT that trains on a CPU in about a minute on the synthetic benchmark (5 folds):
#: depth 4 (prompt updates after blocks 0 and 2), width 64, 2 heads, 4 frames of 32 px (2 x 2
#: patches), a 96 x 32 fbank of the 1-s synthetic audio (6 x 2 patches), a 16-d bottleneck, a
#: one-layer 64-d MTT; batch 16, lr 1e-3 and no crop augmentation, so that 8 epochs on frozen
#: random encoders learn.
TINY: dict[str, Any] = {
    "epochs": 8, "batch_size": 16, "lr": 1e-3, "num_frames": 4, "img_size": 32, "augment": False,
    "audio_frames": 96, "audio_mel_bins": 32, "embed_dim": 64, "depth": 4, "num_heads": 2, "bottleneck_dim": 16,
    "ita_dim": 16, "joint_dim": 64, "mtt_heads": 2, "mtt_dim_head": 32, "mtt_mlp_dim": 128,
}
