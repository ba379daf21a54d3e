"""AVCE's LightningModule: Algorithm 1's two forward/backward passes per iteration (manual optimisation).

Pass 1: z = C(E(img)), x = R(z), z_a, z_n = Sp(z), Sm(z), y_a, y_n = H(z_a), H(z_n);
L_main = L_AV(x, GT) + the contrastive term (:func:`~bench_methods.avce.losses.main_loss`)
updates E, C, R (Adam, ``lr`` 1e-4) and H (SGD, ``head_lr`` 1e-2). Pass 2: z is recomputed by a
fresh forward of the same images (as the code does, L195-198; the pass-1 graph belongs to
weights that have just moved), v, v_a, v_n = H1(z), H1(z_a), H1(z_n), and L_dis (eq. 8)
updates E, C (Adam) and H1 (SGD). ``dis_loss=False`` skips pass 2 (Table 4, w/o L_dis).

Gradients are zeroed to None before each pass, so an optimiser leaves alone the parameters a
pass does not reach: R and H in pass 2, H1 in pass 1 — the paper's update sets. The code
(torch 1.7.1, whose ``zero_grad`` writes zeros) also steps R's Adam in pass 2 on zero
gradients, so R's ``lin1`` and ``va_regressor`` move by their Adam momentum and their step
count advances (``main.py`` L191-217): ``pass2_moves_regressor=True`` reproduces that by giving
R zero gradients before the pass-2 step.

Schedule: every optimiser's ``MultiStepLR`` steps once per iteration (``cfg.milestones``), and
the module stops the fit after ``cfg.iterations`` iterations, counted by the schedulers (saved
in Lightning checkpoints, so a resumed cell counts on); with ``cfg.epochs`` the fit is
``epochs`` whole epochs, however many iterations they hold. With ``eval_mode_training`` (official-
code bug) E, C, R and H run in eval mode from the second iteration on; H1 stays in train mode.
A batch of one image (an epoch's remainder; the runner keeps it) is skipped and not counted:
BatchNorm and the batch PCC/CCC of L_AV need two samples. The code keeps it (``DataLoader``
without ``drop_last``, ``main.py`` L295), but there its loss is NaN (``torch.std`` of one value,
``utils.py`` L20-21) and the step makes every weight NaN, so a valid official run never met one;
bench has no switch for it. Prediction is x = R(C(E(img))) on the centre crop.

Evaluation cadence (``cfg.eval_every``, ``cfg.eval_at``): the module says after which iterations
the protocol's best_val / best_test rule evaluates (:attr:`evaluates_by_iteration`,
:meth:`evaluation_due`), the code's ``cnt`` = the 0-based iteration just trained.

Non-finite predictions: a NaN or infinite loss stops training with a RunError naming the term
and the iteration, so a finished fit predicts finite values. Should a prediction still be
NaN or infinite (an overflow in the network on one image), it is scored as 0.0 — the centre
of the [-1, 1] label range, a constant predictor, whose PCC and CCC are 0 by bench's
definition (``bench.metrics``) — never as NaN; the number of such values is recorded in the
record's ``weights`` entry ``nonfinite_predictions`` (shown with every table row it feeds).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import lightning as L
import torch

from bench.api import TaskSpec
from bench.errors import ConfigError, RunError
from bench_methods.avce import augment
from bench_methods.avce.config import AVCEConfig
from bench_methods.avce.losses import dis_loss, main_loss
from bench_methods.avce.networks import AVCENet
from bench_methods.avce.official import load_released
from bench_methods.avce.views import softmax_view, sparsemax

AXES = ("valence", "arousal")


def image_layout(shape: tuple[int, ...]) -> bool:
    """Whether a video item of ``shape`` is one frame of a clip ([1, 3, H, W]) rather than an image ([3, H, W])."""
    shape = tuple(shape)
    if len(shape) == 3 and shape[0] == 3:
        return False
    if len(shape) == 4 and shape[:2] == (1, 3):
        return True
    raise ConfigError(f"avce: video items must be one image [3, H, W] (face_image) or one frame of a clip "
                      f"[1, 3, H, W] (video_frames with num_frames=1), got {list(shape)}")


class AVCEModule(L.LightningModule):
    """E, C, R, H, H1 trained by the two-pass update of Algorithm 1."""

    def __init__(self, task: TaskSpec, cfg: AVCEConfig, shapes: Mapping[str, tuple[int, ...]]) -> None:
        super().__init__()
        if task.kind != "regression" or sorted(task.label_names) != sorted(AXES):
            raise ConfigError(f"avce regresses valence and arousal; this task is {task.kind} over "
                              f"{', '.join(task.label_names)}")
        if "video" not in shapes:
            raise ConfigError("avce reads face images from the video modality, which this run does not provide")
        self.automatic_optimization = False
        self.cfg = cfg
        self.valence = task.label_names.index("valence")
        self.clip_frame = image_layout(shapes["video"])
        self.net = AVCENet(cfg, task.num_outputs)
        self.weights_provenance: dict[str, str] = {"all": "random-init"}
        if cfg.official_weights:
            self.weights_provenance = load_released(self.net, cfg.backbone, cfg.official_weights)
        self.nonfinite_predictions = 0
        self.evaluates_by_iteration = cfg.eval_every > 0 or bool(cfg.eval_at)
        self._due = False
        if cfg.official_code_bugs:
            self.weights_provenance["official_code_bugs"] = (
                f"{', '.join(cfg.official_code_bugs)}: reproduced on purpose (bench_methods.avce.config)")

    def images(self, batch: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """The batch's images [B, 3, H, W] in [0, 1] (a clip item's only frame for clip datasets)."""
        video = batch["video"]
        return video[:, 0] if self.clip_frame else video

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.net(images)

    def predict_step(self, batch: Mapping[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        cfg = self.cfg
        x = self.net(augment.pipeline(self.images(batch), cfg.resize, cfg.crop, train=False, flip=False))
        return self.finite(x)

    def finite(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` with NaN / ±inf replaced by 0.0 (a constant predictor), counted in ``weights_provenance``."""
        bad = ~torch.isfinite(x)
        if not bad.any():
            return x
        self.nonfinite_predictions += int(bad.sum())
        self.weights_provenance["nonfinite_predictions"] = (
            f"{self.nonfinite_predictions} predicted values were NaN or inf and are scored as 0.0 "
            "(the constant centre of the label range)")
        return torch.where(bad, torch.zeros_like(x), x)

    def configure_optimizers(self) -> tuple[list[torch.optim.Optimizer], list[dict[str, Any]]]:
        cfg, net = self.cfg, self.net
        adam = torch.optim.Adam([*net.encoder.parameters(), *net.compressor.parameters(),
                                 *net.regressor.parameters()], lr=cfg.lr, betas=cfg.adam_betas)
        sgd = torch.optim.SGD([*net.head.parameters(), *net.metric_head.parameters()], lr=cfg.head_lr,
                              momentum=cfg.sgd_momentum)
        schedulers = [torch.optim.lr_scheduler.MultiStepLR(opt, cfg.milestones, gamma=cfg.lr_gamma)
                      for opt in (adam, sgd)]
        return [adam, sgd], [{"scheduler": s, "interval": "step"} for s in schedulers]

    def set_modes(self, iteration: int) -> None:
        """Train mode for every network, or (``eval_mode_training``, iteration ≥ 1) the code's eval mode."""
        stuck = self.cfg.eval_mode_training and iteration >= 1
        for part in (self.net.encoder, self.net.compressor, self.net.regressor, self.net.head):
            part.train(not stuck)
        self.net.metric_head.train(True)

    def evaluation_due(self) -> bool:
        """Whether the iteration just trained is one the cadence evaluates after."""
        return self._due

    def training_step(self, batch: Mapping[str, torch.Tensor], batch_idx: int) -> torch.Tensor | None:
        cfg, net = self.cfg, self.net
        self._due = False
        if batch["label"].shape[0] < 2:
            return None  # an epoch's 1-image remainder: no batch statistics (BatchNorm, PCC, CCC); not an iteration
        adam, sgd = self.optimizers()
        schedulers = self.lr_schedulers()
        iteration = schedulers[0].last_epoch
        self.set_modes(iteration)
        images = augment.pipeline(self.images(batch), cfg.resize, cfg.crop, train=True, flip=cfg.random_flip)
        # Forward/backward pass 1: L_main updates E, C, R, H.
        z = net.latent(images)
        x, y_a, y_n = net.regressor(z), net.head(sparsemax(z)), net.head(softmax_view(z))
        loss, av, contrast = main_loss(cfg, x, y_a, y_n, batch["label"].float(), self.valence)
        _finite(loss, iteration,
                lambda: f"L_main (L_AV {float(av.total.detach()):.4g}, contrastive {float(contrast.detach()):.4g})")
        adam.zero_grad()
        sgd.zero_grad()
        self.manual_backward(loss)
        adam.step()
        sgd.step()
        if cfg.dis_loss:
            # Forward/backward pass 2: L_dis updates E, C, H1.
            adam.zero_grad()
            sgd.zero_grad()
            z = net.latent(images)
            v, v_a, v_n = net.metric_head(z), net.metric_head(sparsemax(z)), net.metric_head(softmax_view(z))
            dis = dis_loss(v, v_a, v_n, cfg.delta1, cfg.delta2, cfg.hold_weight, cfg.dis_reduction)
            _finite(dis, iteration, lambda: "L_dis")
            self.manual_backward(dis)
            if cfg.pass2_moves_regressor:
                for p in net.regressor.parameters():
                    p.grad = torch.zeros_like(p)
            adam.step()
            sgd.step()
        for scheduler in schedulers:
            scheduler.step()
        self._due = cfg.evaluates_after(iteration)
        if cfg.epochs is None and schedulers[0].last_epoch >= cfg.iterations:
            self.trainer.should_stop = True
        return loss.detach()


def _finite(loss: torch.Tensor, iteration: int, what: Callable[[], str]) -> None:
    """A RunError naming the term and the iteration when a loss is NaN or infinite (training diverged)."""
    if not torch.isfinite(loss):
        raise RunError(f"avce: {what()} is {float(loss.detach())} at iteration {iteration}; training diverged "
                       "(check the labels, the learning rates and the loss weights)")
