"""MPUC's LightningModule: contrastive pretraining, then a classifier on the concatenated features.

Stages (the runner calls :meth:`MPUCModule.start_stage` before each ``Trainer.fit``):

=========================  ==================================================================
``pretrain``               backbones + projection heads on the pairwise loss (eq. 2), no
                           labels (unless ``positives="supervised"``); Sec. III-B
``linear_eval``            backbones frozen (eval mode, no gradients); the prediction layer
                           ``fc + ReLU + fc`` on the concatenated features; Sec. III-C
``pretrain_online_probe``  ``probe="online"``: both at once from epoch 0, the classifier on
                           DETACHED features of both crops, each with its own SGD (``train.py``)
``supervised``             the baselines: backbones and head trained end to end with labels
=========================  ==================================================================

Every item the data layer delivers is a window of ``cfg.window_frames`` steps (random start in
training, start 0 in evaluation, or as the audio crop policy ``cfg.audio_crop`` places it; with
``mean`` an evaluation item holds several windows, whose outputs are averaged). Training crops of ``crop_frames`` steps start uniformly
inside it, one start per sample and crop shared by every modality (the code cuts all
modalities with the same step indices); with ``crop_range="sequence"`` the transforms have
already drawn each crop over the whole sequence and laid them one after the other, so crop ``v``
is steps ``v * crop_frames`` onwards. Evaluation classifies the first ``crop_frames`` steps. Losses: cross-entropy (RAVDESS) or BCE with logits (CMU-MOSEI) whose ``pos_weight`` is
each label's negatives / positives in the training labels (:func:`positive_weights`), fixed at the
start of the first labelled stage; the task's ``class_weights`` take their place when a protocol
sets them, the code's constants (:data:`OFFICIAL_POS_WEIGHT`) with ``pos_weight="official"``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import lightning as L
import torch
import torch.nn.functional as F
from torch import nn

from bench.api import TaskSpec
from bench.errors import ConfigError, RunError
from bench_methods.mpuc.config import EncoderConfig, MPUCConfig, SupervisedConfig
from bench_methods.mpuc.encoders import FEATURE_ORDER, ConcatAttention, make_backbone, mlp
from bench_methods.mpuc.loss import pairwise_loss
from bench_methods.mpuc.official import load_encoder

STAGES = ("pretrain", "linear_eval", "pretrain_online_probe", "supervised")
TRANSDUCTIVE_NOTE = "encoder also trained contrastively on validation and test inputs every epoch (MPUC MOSEI config)"


def crop_starts(batch: int, window: int, crop: int, views: int) -> torch.Tensor:
    """Uniform random starts ``[views, batch]`` of ``crop``-step crops inside ``window`` steps."""
    return torch.randint(0, window - crop + 1, (views, batch))


def take_crop(x: torch.Tensor, starts: torch.Tensor, crop: int) -> torch.Tensor:
    """``x[b, starts[b] : starts[b] + crop]`` for every sample ``b`` of ``x`` ``[B, T, ...]``."""
    steps = starts.to(x.device)[:, None] + torch.arange(crop, device=x.device)
    return x[torch.arange(x.shape[0], device=x.device)[:, None], steps]


class MPUCModule(L.LightningModule):
    """Backbones per modality (code order), projection heads (contrastive only), fusion classifier."""

    def __init__(self, task: TaskSpec, cfg: EncoderConfig, shapes: Mapping[str, Sequence[int]]) -> None:
        super().__init__()
        self.automatic_optimization = False
        self.task, self.cfg = task, cfg
        self.contrastive = isinstance(cfg, MPUCConfig)
        if self.contrastive and cfg.positives == "supervised" and task.kind != "classification":
            raise ConfigError("mpuc: positives=supervised takes class labels (the shipped RAVDESS config); "
                              f"this task is {task.kind}")
        self.modalities = [m for m in FEATURE_ORDER if m in shapes]
        self.item_shapes = {m: tuple(shapes[m]) for m in self.modalities}
        for m in self.modalities:
            if shapes[m][0] != cfg.window_frames:
                raise ConfigError(f"mpuc: {m} items have {shapes[m][0]} steps, expected the window of "
                                  f"{cfg.window_frames} steps its transform was asked for (num_frames)")
        crop_shapes = {m: (cfg.crop_frames, *shapes[m][1:]) for m in self.modalities}
        self.backbones = nn.ModuleDict({m: make_backbone(m, crop_shapes[m], cfg) for m in self.modalities})
        d = cfg.feature_dim
        if self.contrastive:
            self.projections = nn.ModuleDict({m: mlp(d, cfg.projection_hidden, d) for m in self.modalities})
        width = d * len(self.modalities)
        head: list[nn.Module] = []
        if isinstance(cfg, SupervisedConfig) and cfg.head == "attention":
            if width % cfg.attention_heads:
                raise ConfigError(f"mpuc_supervised: {width} concatenated features are not divisible by "
                                  f"attention_heads={cfg.attention_heads}")
            head.append(ConcatAttention(width, cfg.attention_heads))
        self.classifier = nn.Sequential(*head, mlp(width, d, task.num_outputs))
        if task.kind not in ("classification", "multilabel"):
            raise ConfigError(f"mpuc handles classification and multilabel tasks, not {task.kind}")
        self.pos_weight = torch.tensor(task.class_weights, dtype=torch.float32) if task.class_weights else None
        if cfg.pos_weight == "official" and task.kind == "multilabel":
            self.pos_weight = torch.tensor(official_positive_weights(task), dtype=torch.float32)
        self.stage = "supervised"
        self._unlabelled: list[Iterable[Mapping[str, torch.Tensor]]] = []
        self.wants_unlabelled = self.contrastive and cfg.transductive
        self.weights_provenance = self._provenance()
        if self.contrastive and cfg.official_encoder:
            digest = load_encoder(self, self.modalities, cfg.official_encoder)
            self.weights_provenance.update({m: f"official encoder {digest}" for m in self.modalities})

    # ------------------------------------------------------------------ stages and records

    def start_stage(self, name: str) -> None:
        """Select what the next fit trains (see the module docstring)."""
        if name not in STAGES:
            raise RunError(f"mpuc: unknown stage {name!r}; stages: {', '.join(STAGES)}")
        if (name == "supervised") == self.contrastive:
            raise RunError(f"mpuc: stage {name!r} does not belong to a {type(self.cfg).__name__} module")
        self.stage = name

    def attach_unlabelled(self, loaders: Iterable[Iterable[Mapping[str, torch.Tensor]]]) -> None:
        """Give the module the validation and test inputs (labels unused); a runner does so only
        when ``wants_unlabelled`` is true (``transductive=true``)."""
        self._unlabelled = list(loaders)

    def _provenance(self) -> dict[str, str]:
        out = {m: "random-init" for m in self.modalities}
        if "video" in self.backbones:
            out["video"] = self.backbones["video"][0].provenance
        if self.wants_unlabelled:
            out["transductive"] = TRANSDUCTIVE_NOTE
        return out

    # ------------------------------------------------------------------ forward passes

    def features(self, batch: Mapping[str, torch.Tensor], starts: torch.Tensor) -> dict[str, torch.Tensor]:
        """Each modality's basic feature ``[B, feature_dim]`` of the crops starting at ``starts`` ``[B]``."""
        crop = self.cfg.crop_frames
        return {m: self.backbones[m](take_crop(batch[m], starts, crop)) for m in self.modalities}

    def classify(self, feats: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """Fusion at inference: the concatenated features through the prediction layer."""
        return self.classifier(torch.cat([feats[m] for m in self.modalities], dim=1))

    def _starts(self, batch: Mapping[str, torch.Tensor], views: int) -> torch.Tensor:
        size = batch[self.modalities[0]].shape[0]
        cfg = self.cfg
        if isinstance(cfg, MPUCConfig) and cfg.crop_range == "sequence":
            # the transforms drew crop v anywhere in the sequence and put it at steps v*crop .. (v+1)*crop
            return (torch.arange(views) * cfg.crop_frames)[:, None].expand(views, size)
        return crop_starts(size, cfg.window_frames, cfg.crop_frames, views)

    def contrastive_loss(self, batch: Mapping[str, torch.Tensor]) -> tuple[torch.Tensor, list[dict[str, torch.Tensor]]]:
        """Eq. 2 on ``cfg.views`` crops per sample; also returns each crop's basic features."""
        cfg = self.cfg
        per_view = [self.features(batch, starts) for starts in self._starts(batch, cfg.views)]
        projections = {m: torch.stack([self.projections[m](f[m]) for f in per_view]) for m in self.modalities}
        labels = batch.get("label") if cfg.positives == "supervised" else None
        if cfg.positives == "supervised" and labels is None:
            raise RunError("mpuc: positives=supervised needs labels in the pretraining stage")
        loss = pairwise_loss(projections, positives=cfg.positives, reduction=cfg.loss_reduction,
                             temperature=cfg.temperature, labels=labels)
        return loss, per_view

    def forward(self, batch: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """Outputs for the first ``crop_frames`` steps of each item; items of ``[K, ...]`` windows
        (crop policy ``mean``) give the log of the class probabilities averaged over the K windows
        (classification) or the mean of the K outputs (multi-label)."""
        multi = {m: batch[m].dim() == len(self.item_shapes[m]) + 2 for m in self.modalities}
        if not any(multi.values()):
            zeros = torch.zeros(batch[self.modalities[0]].shape[0], dtype=torch.long)
            return self.classify(self.features(batch, zeros))
        if not all(multi.values()) or len({batch[m].shape[1] for m in self.modalities}) > 1:
            raise RunError("mpuc: every modality must give the same number of evaluation windows per item, got "
                           + ", ".join(f"{m} {list(batch[m].shape)}" for m in self.modalities))
        size, windows = batch[self.modalities[0]].shape[:2]
        flat = {m: batch[m].flatten(0, 1) for m in self.modalities}
        outputs = self(flat).view(size, windows, -1)
        if self.task.kind == "classification":
            return outputs.softmax(dim=-1).mean(dim=1).log()
        return outputs.mean(dim=1)

    def predict_step(self, batch: Mapping[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        return self(batch)

    # ------------------------------------------------------------------ training

    def _step(self, optimizer: Any, loss: torch.Tensor) -> None:
        optimizer.zero_grad()
        self.manual_backward(loss)
        optimizer.step()

    def _target(self, batch: Mapping[str, torch.Tensor], views: int) -> torch.Tensor:
        label = batch["label"]
        return label.repeat(views, *([1] * (label.dim() - 1)))

    def training_step(self, batch: Mapping[str, torch.Tensor], batch_idx: int) -> torch.Tensor | None:
        optimizers = self.optimizers()
        opts = optimizers if isinstance(optimizers, list) else [optimizers]
        if self.stage in ("pretrain", "pretrain_online_probe"):
            if batch[self.modalities[0]].shape[0] < 2:
                return None  # a lone sample has no negatives: nothing to contrast
            loss, per_view = self.contrastive_loss(batch)
            self._step(opts[0], loss)
            if self.stage == "pretrain_online_probe":
                logits = torch.cat([self.classify({m: f[m].detach() for m in f}) for f in per_view])
                self._step(opts[1], self.loss_fn(logits, self._target(batch, len(per_view))))
            return loss.detach()
        starts = self._starts(batch, 1)[0]
        if self.stage == "linear_eval":
            with torch.no_grad():
                feats = self.features(batch, starts)
        else:
            feats = self.features(batch, starts)
        loss = self.loss_fn(self.classify(feats), batch["label"])
        self._step(opts[0], loss)
        return loss.detach()

    def on_train_start(self) -> None:
        """A multilabel task without ``class_weights`` weighs its BCE by the training labels' balance."""
        if self.task.kind != "multilabel" or self.pos_weight is not None or self.stage == "pretrain":
            return
        labels = getattr(self.trainer.train_dataloader.dataset, "labels", None)
        if labels is None:
            raise RunError("mpuc: the BCE's pos_weight comes from the training labels, but the training "
                           "dataset of this stage has none")
        self.pos_weight = torch.tensor(positive_weights(labels), dtype=torch.float32)

    def loss_fn(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Cross-entropy (classification) or BCE with logits weighted by ``pos_weight`` (multilabel)."""
        if self.task.kind == "classification":
            return F.cross_entropy(logits, target)
        weight = None if self.pos_weight is None else self.pos_weight.to(logits.device)
        return F.binary_cross_entropy_with_logits(logits, target.to(logits.dtype), pos_weight=weight)

    def on_fit_start(self) -> None:
        if self.wants_unlabelled and self.stage != "linear_eval" and not self._unlabelled:
            raise ConfigError("mpuc: transductive=true trains on the validation and test inputs, but none were "
                              "attached (module.attach_unlabelled; bench's runner does it when wants_unlabelled)")

    def on_train_epoch_start(self) -> None:
        if self.stage == "linear_eval":
            self.backbones.eval()

    def on_train_epoch_end(self) -> None:
        if self.wants_unlabelled and self.stage != "linear_eval":
            optimizers = self.optimizers()
            encoder_opt = optimizers[0] if isinstance(optimizers, list) else optimizers
            for loader in self._unlabelled:
                for batch in loader:
                    batch = {k: v.to(self.device) for k, v in batch.items() if k != "label"}
                    if batch[self.modalities[0]].shape[0] >= 2:
                        self._step(encoder_opt, self.contrastive_loss(batch)[0])
        schedulers = self.lr_schedulers()
        for scheduler in schedulers if isinstance(schedulers, list) else [schedulers]:
            scheduler.step()

    def configure_optimizers(self) -> Any:
        """SGD (momentum 0.9, weight decay 1e-3) and StepLR(lr_step_epochs, lr_gamma) per optimiser:
        the encoder at ``pretrain_lr``, the classifier (and a supervised baseline) at ``lr``."""
        cfg = self.cfg
        classifier = (list(self.classifier.parameters()), cfg.lr)
        if self.contrastive:
            encoder = ([*self.backbones.parameters(), *self.projections.parameters()], cfg.pretrain_lr)
            groups = {"pretrain": [encoder], "linear_eval": [classifier],
                      "pretrain_online_probe": [encoder, classifier]}[self.stage]
        else:
            groups = [([*self.backbones.parameters(), *self.classifier.parameters()], cfg.lr)]
        opts = [torch.optim.SGD(p, lr=lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay) for p, lr in groups]
        scheds = [torch.optim.lr_scheduler.StepLR(o, step_size=cfg.lr_step_epochs, gamma=cfg.lr_gamma) for o in opts]
        return opts, scheds


OFFICIAL_POS_WEIGHT: dict[str, float] = {"happy": 1.05285, "sad": 5.215074, "anger": 5.3373003,
                                          "surprise": 19.489855, "disgust": 7.0448384, "fear": 23.688004}
"""The code's MOSEI BCE ``pos_weight`` per emotion (``train.py`` L88-90, SDK order)."""


def official_positive_weights(task: TaskSpec) -> tuple[float, ...]:
    """``pos_weight="official"``: the code's constants, by label name, in the task's order."""
    if task.class_weights:
        raise ConfigError("mpuc: pos_weight=official and the protocol's class_weights both weigh the BCE; "
                          "drop one of them")
    if set(task.label_names) != set(OFFICIAL_POS_WEIGHT):
        raise ConfigError(f"mpuc: pos_weight=official holds the code's weights of the MOSEI emotions "
                          f"({', '.join(OFFICIAL_POS_WEIGHT)}); this task's labels are {', '.join(task.label_names)} "
                          "(use pos_weight=computed)")
    return tuple(OFFICIAL_POS_WEIGHT[name] for name in task.label_names)


def positive_weights(labels: Any) -> tuple[float, ...]:
    """Per label, negatives / positives among the training rows of ``labels`` ``[N, L]`` (a label is
    present when > 0): the BCE ``pos_weight`` of the code's MOSEI training (``train.py`` L88-90 holds
    them as constants, 1.05 for happy to 23.7 for fear). A label with no positive gets weight N."""
    present = torch.as_tensor(labels) > 0
    positives = present.sum(dim=0).to(torch.float64)
    negatives = present.shape[0] - positives
    return tuple(float(w) for w in negatives / positives.clamp(min=1.0))

