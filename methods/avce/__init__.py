"""AVCE (Kim & Song, "Emotion-aware Multi-view Contrastive Learning for Facial Emotion Recognition", ECCV 2022).

A face image is encoded to z = C(E(img)) (d = 32); R regresses x = (valence, arousal) from z
under L_AV; sparsemax and softmax turn z into the views z_a and z_n, projected by H into the
AV space, where L_AVCE (eq. 2 with the similarity f of eq. 4) contrasts (x, y_a) against
(x, y_n); a second pass trains H1 and the encoder with L_dis (eq. 8). At test time only
R(C(E(img))) is used. Modules: :mod:`.config` (every switch, paper vs official code),
:mod:`.networks`, :mod:`.views` (closed-form sparsemax), :mod:`.losses`, :mod:`.augment`,
:mod:`.module` (the two-pass update), :mod:`.official` (the code's state-dict layout).

Inputs: one face image per frame-level sample (``face_image``), or one frame of a clip
(``input=clip_frame``, ``video_frames`` with one segment) on bench's clip datasets. Length:
``iterations`` as the paper, or ``epochs`` as the code. Presets: ``paper`` (AlexNet, Table 1),
``paper_resnet18``, ``affwild`` / ``affwild_resnet18`` (100K iterations, Tables 2-3),
``table4_*`` (the Aff-Wild ablations), ``code`` / ``code_resnet18`` (the official code, its
bugs labelled in records; ``code_affwild*`` the same, paired with the Aff-Wild presets
``paper_affwild*`` = ``affwild*`` for the tables' "(as written)" rows), ``tiny`` / ``tiny_resnet18`` (CPU runs on synthetic_va).
REPRODUCE.md (AVCE) lists the data, the command of every table and the measured runs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from bench.api import Method, ResourceHints, Stage, TaskSpec, TransformSpec
from bench_methods.avce.config import AVCEConfig

AFFWILD_ITERATIONS = 100_000
"""Aff-Wild and Aff-Wild2 training length (Sec. 4.2)."""

_CODE_WEIGHTS: dict[str, Any] = {"contrastive_weight": 1e-4, "avce_reduction": "sum", "hold_weight": 0.01,
                                 "dis_reduction": "mean"}
"""The code's loss weights: L_AVCE as 1e-4 x its batch sum, the hold terms x 0.01, L_dis averaged."""

_CODE: dict[str, Any] = {
    **_CODE_WEIGHTS, "mu": 0.8, "cosine_scale": 0.5, "angle_scale": 0.25, "polarity_penalty": -0.05,
    "polarity_broadcast": True, "av_error": "mse", "loss_moments": "code", "delta2": 1.0,
    "pass2_moves_regressor": True, "head_batchnorm": False, "adam_betas": (0.5, 0.9), "sgd_momentum": 0.9,
    "random_flip": True, "eval_mode_training": True, "epochs": 100, "iterations": AFFWILD_ITERATIONS,
    "eval_every": 250, "eval_at": (50,),
}
"""Every official-code value (``kdhht2334/AVCE_FER`` ``main.py``, ``models.py``, ``utils.py``), its
length included: 100 epochs (``main.py`` L346), not the paper's 50K iterations, under the milestones
of 100K iterations (5K … 85K, ``main.py`` L335-338), and its evaluations after iteration 50 and every
250 (L229-237; a protocol selecting by best_test picks among them, marked on test)."""

_TABLE4: dict[str, dict[str, Any]] = {
    "infonce": {"contrastive": "infonce"},
    "barlow_twins": {"contrastive": "barlow_twins"},
    "without_dis": {"dis_loss": False},
    "f1": {"similarity": "f1"},
    "f2": {"polarity_penalty": -0.5},
    "mining": {"negative_mining": True},
}
"""The rows of Table 4 (Aff-Wild, AlexNet) as overrides of the paper's AVCE."""

_TINY: dict[str, Any] = {"input": "clip_frame", "resize": 72, "crop": 64, "encoder_width": 16, "iterations": 200,
                         "batch_size": 32, "lr": 1e-3, "lr_first_milestone": 160, "lr_every": 1000, **_CODE_WEIGHTS}
"""CPU-sized runs on the synthetic benchmark's 48-pixel clips: a quarter-width encoder, a larger Adam step,
a short schedule, and the code's loss weights (REPRODUCE.md, AVCE, gives the measurement behind them)."""


class AVCE(Method):
    """AVCE with AlexNet or ResNet18 from scratch, trained iteration by iteration."""

    name = "avce"
    paper = "Kim & Song, Emotion-aware Multi-view Contrastive Learning for Facial Emotion Recognition, ECCV 2022"
    modalities = ("video",)
    tasks = ("regression",)
    regimes = ("supervised",)
    Config = AVCEConfig
    presets: Mapping[str, Mapping[str, Any]] = {
        "paper": {},
        "paper_resnet18": {"backbone": "resnet18"},
        "affwild": {"iterations": AFFWILD_ITERATIONS},
        "affwild_resnet18": {"backbone": "resnet18", "iterations": AFFWILD_ITERATIONS},
        **{f"table4_{row}": {**over, "iterations": AFFWILD_ITERATIONS} for row, over in _TABLE4.items()},
        "code": _CODE,
        "code_resnet18": {**_CODE, "backbone": "resnet18", "always_on_dropout": True},
        "code_affwild": _CODE,
        "code_affwild_resnet18": {**_CODE, "backbone": "resnet18", "always_on_dropout": True},
        "paper_affwild": "affwild",
        "paper_affwild_resnet18": "affwild_resnet18",
        "tiny": _TINY,
        "tiny_resnet18": {**_TINY, "backbone": "resnet18", "iterations": 150},
    }
    resources = ResourceHints(gpus=1, cpus=8, mem_gb=32, time_min=720)

    def inputs(self, cfg: AVCEConfig, modalities: Sequence[str]) -> dict[str, TransformSpec]:
        """One face per sample: ``face_image`` (cached at ``face_size``, or ``resize`` for pre-cropped faces)."""
        if cfg.input == "clip_frame":
            return {"video": TransformSpec("video_frames", {"num_frames": 1, "size": cfg.resize})}
        size = cfg.face_size if cfg.face_policy == "avce_margin" else cfg.resize
        return {"video": TransformSpec("face_image", {"policy": cfg.face_policy, "size": size,
                                                      "margin": cfg.face_margin})}

    def stages(self, cfg: AVCEConfig, regime: str, pretrain: bool) -> list[Stage]:
        """One supervised fit: ``cfg.epochs`` epochs when set, else ``cfg.iterations`` iterations.

        In iterations its epoch count is only an upper bound: every epoch has at least one
        batch, so ``iterations`` epochs always suffice, and the module ends the fit after
        exactly ``iterations`` iterations.
        """
        return [Stage("supervised", cfg.epochs if cfg.epochs is not None else cfg.iterations, cfg.batch, labels=True)]

    def build(self, task: TaskSpec, cfg: AVCEConfig, shapes: Mapping[str, tuple[int, ...]]) -> Any:
        from bench_methods.avce.module import AVCEModule

        return AVCEModule(task, cfg, shapes)
