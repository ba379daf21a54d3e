"""AVCE's configuration: defaults are the paper's values (Kim & Song, ECCV 2022, Sec. 3-4.2).

Where the official code (``kdhht2334/AVCE_FER`` at b47e9e7: ``main.py``, ``models.py``,
``utils.py``, ``evaluation.py``) differs from the paper, the difference is a field whose default is the paper's side; its
comment names the code's value. ``--preset code`` sets every code value at once. Values the
paper does not give (the 0.5·tanh bound of H, dropout 0.5, ImageNet normalisation, widths
of R/H/H1) are the code's. The optimisers' unstated hyperparameters are those of the
references the paper cites for them: Adam [20] β = (0.9, 0.999), SGD [39] without momentum.

Loss weights: the paper adds L_AVCE to L_AV with unit weight (Sec. 3.1, Algorithm 1) and sums
L_dis over the batch with unit hold weight (eq. 8); the code weighs L_AVCE by 1e-4 on a batch
sum (1e-4·N, ``main.py`` L167-182) and averages L_dis with hold weight 0.01 (L211-212); the
``tiny`` presets use the code's (REPRODUCE.md, AVCE, says why).

Official-code bugs, reproduced only on request and labelled in every record that uses them
(``weights_provenance["official_code_bugs"]``):

* ``eval_mode_training`` — ``evaluation.interm_evaluation`` calls ``train(False)`` on E, R and
  H and never switches back (``evaluation.py`` L29-31); the first evaluation runs after
  iteration 0 (``main.py`` L229-237), so from iteration 1 on E, C, R and H train in eval mode
  (AlexNet: dropout off; ResNet18: BatchNorm frozen on its running statistics), only H1 in
  train mode.
* ``always_on_dropout`` — ``Regressor_R18`` calls ``F.dropout2d(x)`` (``models.py`` L119-121), whose functional default
  is ``training=True`` (p = 0.5): dropout before ``lin0`` and ``lin1`` is active at test time too
  and R18 predictions are stochastic (on the code's 2-D input it is element-wise dropout).
* ``polarity_broadcast`` — ``main.py`` L164-165 subtracts the ``[B]`` polarity penalty from a
  ``[B, 1]`` similarity column, which broadcasts to ``[B, B]``: sample j's penalty is paired
  with every sample i's similarity, and the loop of L167-171 then averages over j.
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar, Literal

Backbone = Literal["alexnet", "resnet18"]
Contrastive = Literal["avce", "infonce", "barlow_twins"]
Similarity = Literal["f", "f1"]
Reduction = Literal["mean", "sum"]
AVError = Literal["rmse", "mse"]
Moments = Literal["standard", "code"]
InputKind = Literal["face_image", "clip_frame"]
FacePolicy = Literal["avce_margin", "none"]

PAPER_BATCH: dict[str, int] = {"alexnet": 256, "resnet18": 128}
"""Mini-batch of each backbone (paper Sec. 4.2; code ``main.py`` L291-296)."""
ALEXNET_MIN_CROP = 63
"""The smallest input side whose AlexNet feature map survives its three 3×3/2 max-pools."""


@dataclasses.dataclass(frozen=True)
class AVCEConfig:
    """Every hyperparameter of AVCE (settable with ``--set key=value``).

    Training length is counted in iterations as the paper does (Sec. 4.2): ``iterations``
    50K (AFEW-VA, AffectNet; ``--preset affwild`` 100K for Aff-Wild and Aff-Wild2). ``epochs``
    (None) counts it in passes over the training side instead, as the code does (100 epochs,
    ``main.py`` L346, no iteration cap): when set it overrides ``iterations``, and the fit runs
    exactly ``epochs`` epochs, i.e. ``epochs`` x steps-per-epoch iterations (steps-per-epoch =
    the training side's batches of ``batch``; a 1-image remainder batch is skipped, see
    :mod:`.module`); ``iterations`` then only bounds the learning-rate milestones. The learning
    rates are multiplied by ``lr_gamma`` 0.8 at ``lr_first_milestone`` (5K) and then every
    ``lr_every`` (20K) iterations below ``iterations``, per iteration as the code's
    ``MultiStepLR`` with its fixed milestones 5K, 25K, 45K, 65K, 85K (``main.py`` L335-338),
    those of 100K iterations, which the ``code`` preset sets beside its 100 epochs. ``batch_size`` None is the paper's batch of the backbone (256
    AlexNet, 128 ResNet18).
    """

    backbone: Backbone = "alexnet"
    iterations: int = 50_000
    epochs: int | None = None  # code 100 (main.py L346); overrides iterations when set
    batch_size: int | None = None
    # Optimisers (Sec. 4.2): Adam 1e-4 for E, C, R; SGD 1e-2 for H, H1.
    lr: float = 1e-4
    adam_betas: tuple[float, float] = (0.9, 0.999)  # code (0.5, 0.9), main.py L330-331
    head_lr: float = 1e-2
    sgd_momentum: float = 0.0  # code 0.9, main.py L332-333
    lr_gamma: float = 0.8
    lr_first_milestone: int = 5_000
    lr_every: int = 20_000
    # Inputs. face_image: one frame image per sample (AFEW-VA, Aff-Wild, Aff-Wild2), its face
    # cropped by bench's face_image transform; clip_frame: bench's clip datasets (synthetic_va),
    # one frame of the clip taken by video_frames with one segment (a random frame in training,
    # the centre frame at test). Training: resize to `resize`, random `crop`; test: centre crop.
    input: InputKind = "face_image"
    face_policy: FacePolicy = "avce_margin"  # MTCNN [57]; "none" for already cropped faces
    face_size: int = 224  # MTCNN(image_size=224, margin=20), code preprocessing.py
    face_margin: int = 20
    resize: int = 256  # code Resize(256), then RandomCrop(224) / CenterCrop(224)
    crop: int = 224
    random_flip: bool = False  # code RandomHorizontalFlip() (its ColorJitter() is a no-op)
    # Networks (Sec. 4.2: d = 32, dim v = 8; "H(/H1) and R are FC layers + batch normalization").
    latent_dim: int = 32
    metric_dim: int = 8
    encoder_width: int = 64  # first-stage channels of E; 64 = the paper's AlexNet / ResNet18 (tiny: narrower)
    dropout: float = 0.5
    head_batchnorm: bool = True  # code: no BatchNorm in R, H, H1 (models.py)
    # Similarity f (eq. 4; Sec. 4.2: angular similarity clipped to (0, 1]).
    similarity: Similarity = "f"  # "f1": ||x|| ||y|| cos(theta), the dot product (Table 4)
    mu: float = 0.75  # balance factor; code 0.8 (main.py L55)
    cosine_scale: float = 1.0  # code 0.5: cos computed as x.y / (2 ||x|| ||y||) (L147)
    angle_scale: float = 1.0  # code 0.25: clamp(1 - 0.25 theta / pi) (L149)
    polarity_penalty: float = 0.0  # added when valence signs differ: f2 (eq. 5) -0.5; code -0.05
    polarity_broadcast: bool = False  # official-code bug, see the module docstring
    # Contrastive term (eq. 2), maximised: L_main = L_AV - contrastive_weight * L_AVCE.
    contrastive: Contrastive = "avce"  # Table 4 rows: "infonce" (eq. 1), "barlow_twins" [56]
    alpha: float = 0.5
    beta: float = 0.005
    gamma: float = 0.5
    contrastive_weight: float = 1.0  # code 1e-4 (L182)
    avce_reduction: Reduction = "mean"  # expectations of eq. 2; code "sum" over the batch (L167-171)
    negative_mining: bool = False  # Table 4 "mining" row; code: utils.pair_mining, calls disabled
    barlow_lambda: float = 0.005  # Zbontar et al. 2021 (ref. 56), off-diagonal weight
    # Supervised term: L_AV = L_RMSE + (L_PCC + L_CCC) / 2 (Sec. 4.2).
    av_error: AVError = "rmse"  # code "mse": MSE_v + MSE_a (L176-182)
    loss_moments: Moments = "standard"  # code: PCC/CCC from biased covariance, unbiased std (utils.py)
    # Discriminative term L_dis (eq. 8), second pass.
    dis_loss: bool = True  # False: Table 4 "w/o L_dis" (no second pass)
    delta1: float = 1.0
    delta2: float = 0.8  # code 1.0 (L212)
    hold_weight: float = 1.0  # code 0.01 (L212)
    dis_reduction: Reduction = "sum"  # eq. 8 sums over the batch; code means (L211-212)
    pass2_moves_regressor: bool = False  # code: reg_opt.step() on R's zeroed grads (torch 1.7), see module
    # A folder with the code's encoder.t7 and regressor.t7 (E and R, e.g. the released
    # pretrained_weights/resnet18/) to start E, C and R from; "" = random init, as the paper.
    official_weights: str = ""
    # Official-code bugs (module docstring), labelled in the record.
    eval_mode_training: bool = False
    always_on_dropout: bool = False
    # Evaluation cadence: the paper tests the trained model once, at the end (0, ()); the code
    # evaluates after iteration 0 and every ``--freq`` 250 iterations and after iteration 50
    # (``if cnt % args.freq == 0 or cnt == 50``, main.py L229-237, L8) and keeps no selection: its
    # reported numbers are picked among those evaluations of the test side. A protocol selecting by
    # best_val / best_test evaluates at these iterations (counted from 0) instead of at epoch ends.
    eval_every: int = 0
    eval_at: tuple[int, ...] = ()
    recorded_when_set: ClassVar[tuple[str, ...]] = ("eval_every", "eval_at")

    def __post_init__(self) -> None:
        positive = {"iterations": self.iterations, "lr": self.lr, "head_lr": self.head_lr,
                    "lr_first_milestone": self.lr_first_milestone, "lr_every": self.lr_every,
                    "face_size": self.face_size, "resize": self.resize, "crop": self.crop,
                    "latent_dim": self.latent_dim, "metric_dim": self.metric_dim,
                    "encoder_width": self.encoder_width}
        if self.batch_size is not None:
            positive["batch_size"] = self.batch_size
        if self.eval_every < 0 or any(i < 0 for i in self.eval_at):
            raise ValueError(f"eval_every={self.eval_every}, eval_at={self.eval_at}: iterations must be >= 0")
        if self.epochs is not None:
            positive["epochs"] = self.epochs
        bad = [f"{k}={v!r}" for k, v in positive.items() if not v > 0]
        if bad:
            raise ValueError(f"{', '.join(bad)}: must be > 0")
        if self.backbone == "alexnet" and self.crop < ALEXNET_MIN_CROP:
            raise ValueError(f"crop={self.crop}: AlexNet needs inputs of at least {ALEXNET_MIN_CROP} pixels")
        if self.crop > self.resize:
            raise ValueError(f"crop={self.crop} is larger than resize={self.resize}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout={self.dropout!r} must be in [0, 1)")
        if not all(0.0 <= b < 1.0 for b in self.adam_betas):
            raise ValueError(f"adam_betas={self.adam_betas!r}: each must be in [0, 1)")
        if not 0.0 < self.cosine_scale <= 1.0:
            raise ValueError(f"cosine_scale={self.cosine_scale!r} must be in (0, 1] (the paper's 1, the code's 0.5)")
        if not 0.0 < self.lr_gamma <= 1.0:
            raise ValueError(f"lr_gamma={self.lr_gamma!r} must be in (0, 1]")
        if self.always_on_dropout and self.backbone != "resnet18":
            raise ValueError("always_on_dropout reproduces Regressor_R18's F.dropout2d; the AlexNet regressor "
                             "of the code uses nn.Dropout modules (set backbone=resnet18)")
        if self.polarity_broadcast and self.polarity_penalty == 0.0:
            raise ValueError("polarity_broadcast needs a polarity_penalty (the code's is -0.05)")
        if self.polarity_broadcast and self.contrastive != "avce":
            raise ValueError("polarity_broadcast is a bug of the code's L_AVCE; it has no meaning for "
                             f"contrastive={self.contrastive!r}")
        if self.negative_mining and self.contrastive != "avce":
            raise ValueError("negative_mining selects the negative pairs of L_AVCE (Table 4); "
                             f"contrastive={self.contrastive!r} has none")

    @property
    def batch(self) -> int:
        """The mini-batch: ``batch_size``, or the paper's for the backbone."""
        return self.batch_size if self.batch_size is not None else PAPER_BATCH[self.backbone]

    @property
    def milestones(self) -> list[int]:
        """Iterations at which the learning rates are multiplied by ``lr_gamma``."""
        return list(range(self.lr_first_milestone, self.iterations, self.lr_every))

    def evaluates_after(self, iteration: int) -> bool:
        """Whether the cadence evaluates after ``iteration`` (0-based)."""
        return (self.eval_every > 0 and iteration % self.eval_every == 0) or iteration in self.eval_at

    @property
    def official_code_bugs(self) -> list[str]:
        """The official-code bugs this configuration reproduces (labelled in records)."""
        return [name for name in ("eval_mode_training", "always_on_dropout", "polarity_broadcast")
                if getattr(self, name)]
