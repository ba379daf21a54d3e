"""ConCluGen's LightningModule: self-supervised pretraining (eqs. 1-13), then linear eval or finetuning.

Stages (set by :meth:`ConCluGenModule.start_stage`): ``pretrain`` trains the representation
heads F and the pretraining heads (J, G, Q) on the variant's losses, without labels;
``linear_eval`` trains only the classifier on frozen F (code ``finetune_layers:
{representation_heads: null, classifier: all}``); ``finetune`` and ``supervised`` train F and
the classifier. Weighted CE (single-label) or BCE with ``pos_weight`` (multilabel) downstream.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import lightning as L
import torch
from torch import nn

from bench.api import TaskSpec
from bench.errors import ConfigError
from bench_methods.conclugen import class_weights, heads, kmeans, losses, official, schedules
from bench_methods.conclugen.config import ConCluGenConfig

ORDER = ("video", "audio", "text")
"""The code's modality order (``frames_2d_3d, audio_spectrograms, texts``), which fixes the MMS pairs."""


class ConCluGenModule(L.LightningModule):
    """Representation heads per modality, pretraining heads, and the downstream classifier."""

    def __init__(self, task: TaskSpec, cfg: ConCluGenConfig, shapes: Mapping[str, tuple[int, ...]],
                 provenance: Mapping[str, str]) -> None:
        super().__init__()
        self.task, self.cfg = task, cfg
        spec = cfg.spec
        self.losses = spec.losses
        self.order = tuple(m for m in ORDER if m in shapes and (spec.modalities is None or m in spec.modalities))
        self.eval_order = tuple(m for m in self.order if spec.eval_modalities is None or m in spec.eval_modalities)
        if not self.eval_order:
            raise ConfigError(f"conclugen variant {cfg.variant!r} has no usable modality among {sorted(shapes)}")
        if {"mms", "clu"} & self.losses and len(self.order) < 2:
            raise ConfigError(f"conclugen variant {cfg.variant!r}: the multi-modal losses need at least two of "
                              f"video, audio, text; this run has {', '.join(self.order)}")
        if "nce" in self.losses and "video" not in self.order:
            raise ConfigError(f"conclugen variant {cfg.variant!r} needs the video modality")
        dims = {m: int(shapes[m][-1]) for m in self.order}
        rep = cfg.representation_dim
        self.representation = nn.ModuleDict({m: heads.representation_head(m, dims[m], rep) for m in self.order})
        self.input_norm = nn.ModuleDict({m: nn.BatchNorm1d(dims[m], affine=False, momentum=None) if cfg.input_norm else nn.Identity()
                                         for m in self.order})
        if {"mms", "clu", "nce"} & self.losses:
            self.projection = heads.ProjectionHeads(self.order, rep, cfg.projection_dim, cfg.projection_head)
        if "clu" in self.losses:
            self.cluster_head = nn.Linear(cfg.projection_dim, cfg.num_clusters, bias=False)
        if "rec" in self.losses:
            self.reconstruction = nn.ModuleDict({
                m: heads.reconstruction_head(rep, cfg.reconstruction_dim, dims[m], cfg.reconstruction_final_relu)
                for m in self.order})
        self.classifier = heads.Classifier(rep * len(self.eval_order), task.num_outputs, cfg.dropout)
        if cfg.official_checkpoint:
            official.load(self, cfg.official_checkpoint)
        self.weights_provenance = dict(provenance)
        self.stage = "pretrain"
        self.loss_fn: nn.Module | None = None
        self._queue: list[torch.Tensor] = []
        self._centroids: torch.Tensor | None = None

    # ---------------------------------------------------------------- stages
    def start_stage(self, name: str) -> None:
        """Choose what trains: pretraining heads + F, the classifier only, or F + classifier."""
        self.stage = name
        self.requires_grad_(False)
        if name == "pretrain":
            self.requires_grad_(True)
            self.classifier.requires_grad_(False)
        elif name == "linear_eval":
            self.classifier.requires_grad_(True)
        else:
            self.input_norm.requires_grad_(True)
            self.representation.requires_grad_(True)
            self.classifier.requires_grad_(True)

    def on_train_start(self) -> None:
        if self.stage == "pretrain":
            return
        train_labels = self.trainer.train_dataloader.dataset.labels  # the training rows' labels, no others
        weights = class_weights.official_weights(self.task, train_labels) if self.cfg.class_weighting == "official" \
            else None
        tensor = None if weights is None else torch.tensor(weights, dtype=torch.float32, device=self.device)
        self.loss_fn = nn.CrossEntropyLoss(weight=tensor) if self.task.kind == "classification" \
            else nn.BCEWithLogitsLoss(pos_weight=tensor)

    def on_train_epoch_start(self) -> None:
        if self.stage == "linear_eval":  # frozen means frozen: no running-statistics updates either
            self.input_norm.eval()
        self._queue = []  # the code zeroes its k-means queue at every epoch start (L505-512)

    def configure_optimizers(self) -> Any:
        """AdamW over what trains in this stage; with ``lr_schedule='code'`` the stage's per-epoch
        warm-up + warm-restarts schedule (:mod:`.schedules`)."""
        pretrain = self.stage == "pretrain"
        optimizer = torch.optim.AdamW([p for p in self.parameters() if p.requires_grad],
                                      lr=self.cfg.pretrain_lr if pretrain else self.cfg.lr,
                                      weight_decay=self.cfg.pretrain_weight_decay if pretrain else self.cfg.weight_decay)
        if self.cfg.lr_schedule == "constant":
            return optimizer
        if pretrain:
            schedule = schedules.PRETRAIN_AS_RUN if self.cfg.pretrain_warmup == "last_epoch_10" else schedules.PRETRAIN
        else:
            schedule = schedules.DOWNSTREAM
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": schedule.scheduler(optimizer), "interval": "epoch"}}

    # ---------------------------------------------------------------- forward
    def features(self, batch: Mapping[str, torch.Tensor], view: int = 0) -> dict[str, torch.Tensor]:
        """The frozen backbone features of each used modality, through ``input_norm``: row ``view``
        of a modality stored with several rows, or — while a downstream stage trains with
        ``training_copies`` — one of the last ``training_copies`` rows drawn per sample (the code's
        one random ``aug<k>`` copy per ``__getitem__``, ``video_dataset.py`` L290)."""
        copies = self.cfg.training_copies
        draw = copies > 0 and self.training and self.stage != "pretrain"
        out = {}
        for m in self.order:
            x = batch[m].float()
            if x.dim() == 3 and draw:
                pick = x.shape[1] - copies + torch.randint(0, copies, (x.shape[0],), device=x.device)
                x = x[torch.arange(x.shape[0], device=x.device), pick]
            elif x.dim() == 3:
                x = x[:, view]
            out[m] = self.input_norm[m](x)
        return out

    def forward(self, batch: Mapping[str, torch.Tensor]) -> torch.Tensor:
        feats = self.features(batch)
        reps = {m: self.representation[m](feats[m]) for m in self.eval_order}
        return self.classifier(reps, self.eval_order)

    def predict_step(self, batch: Mapping[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        return self(batch)

    def training_step(self, batch: Mapping[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        if self.stage != "pretrain":
            label = batch["label"]
            return self.loss_fn(self(batch), label.float() if self.task.kind == "multilabel" else label)
        return losses.combine(self.pretraining_terms(batch), {"mms": self.cfg.weight_mms, "clu": self.cfg.weight_clu,
                                                               "rec": self.cfg.weight_rec, "nce": 1.0},
                              self.cfg.loss_combination)

    # ---------------------------------------------------------------- pretraining
    def pretraining_terms(self, batch: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """The active loss terms of this variant on one batch (eqs. 1, 5, 7, 10)."""
        cfg, terms = self.cfg, {}
        if "nce" in self.losses:
            rows = batch["video"].float()
            views = rows.shape[1] - 1 - cfg.training_copies  # rows: clip, Instance-Cont views, training copies
            first, second = (1 + torch.randperm(views)[:2]).tolist()
            z = [self.projection("video", self.representation["video"](self.input_norm["video"](rows[:, v])))
                 for v in (first, second)]
            terms["nce"] = losses.info_nce(z[0], z[1], cfg.nce_temperature)
            return terms
        feats = self.features(batch)
        reps = {m: self.representation[m](feats[m]) for m in self.order}
        if {"mms", "clu"} & self.losses:
            proj = {m: self.projection(m, reps[m]) for m in self.order}
        if "mms" in self.losses:
            terms["mms"] = losses.mms_loss({m: heads.normalised(p) for m, p in proj.items()}, self.order,
                                           cfg.margin, cfg.margin_form, cfg.mms_temperature)
        if "clu" in self.losses:
            g = {m: self.cluster_head(proj[m]) for m in self.order}
            fused = torch.stack([g[m] for m in self.order]).mean(dim=0)  # eq. 8
            centroids, assignment = self._cluster(fused.detach())
            if self.current_epoch >= cfg.kmeans_start_epoch:
                inputs = [fused] if cfg.kmeans_loss_mode == "joint" else [g[m] for m in self.order]
                terms["clu"] = sum(losses.clustering_loss(x, centroids, assignment, cfg.margin, cfg.margin_form)
                                   for x in inputs)
        if "rec" in self.losses:
            terms["rec"] = losses.reconstruction_loss(feats, {m: self.reconstruction[m](reps[m]) for m in self.order})
        return terms

    def _cluster(self, fused: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """k-means (eq. 9) on ``[queue; batch]`` every ``kmeans_every_steps`` steps, else assignment to
        the last centroids; returns the centroids and the batch's cluster labels."""
        cfg = self.cfg
        if self._centroids is None or self.global_step % cfg.kmeans_every_steps == 0:
            full = cfg.kmeans_queue_batches > 0 and len(self._queue) == cfg.kmeans_queue_batches
            data = torch.cat([*self._queue, fused]) if full else fused
            generator = torch.Generator().manual_seed(int(self.global_step))
            self._centroids, labels = kmeans.kmeans(data, cfg.num_clusters, cfg.kmeans_metric, cfg.kmeans_iters,
                                                    generator, loop=cfg.kmeans_loop, empty=cfg.kmeans_empty_cluster)
            assignment = labels[-fused.shape[0]:]
        else:
            assignment = kmeans.assign(fused, self._centroids, cfg.kmeans_metric)
        if cfg.kmeans_queue_batches > 0:
            queued = thin_for_queue(fused, cfg.pretrain_batch_size, cfg.kmeans_queue_reduction_factor)
            self._queue = [*self._queue, queued][-cfg.kmeans_queue_batches:]
        return self._centroids, assignment


def thin_for_queue(fused: torch.Tensor, batch_size: int, factor: int) -> torch.Tensor:
    """The rows of a batch's fused representation that enter the k-means queue.

    ``factor`` 0 keeps all; otherwise the code's ``kmeans_queue_reduction_factor``: runs of
    ``batch_size // 128`` consecutive rows, of which the first ``run // factor`` are kept. A
    short last batch keeps only its complete runs (the code's ``view`` would fail on it).
    """
    if factor <= 0:
        return fused
    run = batch_size // 128
    complete = fused.shape[0] - fused.shape[0] % run
    runs = fused[:complete].reshape(-1, run, fused.shape[1])
    return runs[:, : run // factor].reshape(-1, fused.shape[1])

