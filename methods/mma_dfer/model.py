"""The MMA-DFER network (Fig. 1): two prompted frozen encoders, per-block fusion, joint adaptation, MTT.

Per block ``i`` (official ``Generate_Model.py`` L165-178): the audio block, the vision block
(all frames of all clips as one batch), the fusion of both (Eq. 2-5), then each branch's
progressive prompt update (Eq. 1). After the last block, each branch's final norm gives its
CLS token; the frame CLS tokens ``(B, t, 768)`` plus the broadcast audio CLS go through the
joint adaptation layer ``vision_proj`` (768 → 512), the MTT and ``our_classifier`` (§3.4).
Module names follow the official code's top level (``image_encoder``, ``audio_model``,
``vision_proj``, ``temporal_net``, ``our_classifier``) so that its checkpoints map by name.

Trainable, as the official ``main.py`` L104-138 leaves it: prompts, both ``pos_embed`` tables,
fusion layers and gates, ``vision_proj``, the MTT and the classifier; frozen: each encoder's
patch embedding, CLS token, blocks and final norm. The unimodal ``probe`` variant (Table 5)
freezes each encoder whole and trains only a classifier on its CLS token.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from bench_methods.mma_dfer.config import MMADFERConfig
from bench_methods.mma_dfer.encoder import PromptedViT
from bench_methods.mma_dfer.fusion import (AddFusion, Fusion, FusionBottleneck, MultConcatFusion, MultFusion,
                                           TemporalAdapter)
from bench_methods.mma_dfer.temporal import TemporalTransformer


def _fusion(cfg: MMADFERConfig, vision: PromptedViT, audio: PromptedViT) -> Fusion:
    """One block's fusion of the kind ``cfg.fusion`` (not ``none``)."""
    where_v, where_a = ((vision.patches, audio.patches) if cfg.fusion_tokens == "patches"
                        else (slice(None), slice(None)))
    own = cfg.gates == "per_layer_and_modality"
    dim, latent = cfg.embed_dim, cfg.bottleneck_dim
    if cfg.fusion == "bottleneck":
        adapter = TemporalAdapter(latent, cfg.ita_dim, cfg.num_frames) if "ita" in cfg.temporal else None
        return FusionBottleneck(dim, latent, where_v, where_a, own, adapter)
    if cfg.fusion == "add":
        return AddFusion(where_v, where_a, own)
    if cfg.fusion == "mult":
        return MultFusion(dim, latent, cfg.mult_heads, where_v, where_a, own)
    return MultConcatFusion(dim, latent, cfg.mult_heads, where_v, where_a, own)


class MMADFERNet(nn.Module):
    """MMA-DFER on ``modalities`` (video, audio or both) for ``num_classes`` classes.

    Inputs: video ``(B, t, 3, S, S)`` in [0, 1], audio ``(B, frames, mel)`` (or with a channel
    axis ``(B, 1, frames, mel)``). Output: class logits ``(B, num_classes)``.
    """

    def __init__(self, cfg: MMADFERConfig, modalities: Sequence[str], num_classes: int) -> None:
        super().__init__()
        self.probe = len(modalities) == 1 and cfg.unimodal == "probe"
        prompts = (0, 0) if self.probe else (cfg.num_prompts, cfg.prompt_updates)
        common = dict(patch_size=cfg.patch_size, embed_dim=cfg.embed_dim, depth=cfg.depth, num_heads=cfg.num_heads,
                      drop_path_rate=cfg.drop_path_rate, num_prompts=prompts[0], prompt_updates=prompts[1])
        self.image_encoder = (PromptedViT(img_size=(cfg.img_size, cfg.img_size), in_chans=3, **common)
                              if "video" in modalities else None)
        self.audio_model = (PromptedViT(img_size=(cfg.audio_frames, cfg.audio_mel_bins), in_chans=1, **common)
                            if "audio" in modalities else None)
        both = self.image_encoder is not None and self.audio_model is not None
        self.fusion = nn.ModuleList(
            [_fusion(cfg, self.image_encoder, self.audio_model) for _ in range(cfg.depth)]
            if both and cfg.fusion != "none" else [])
        self.fusion_gate = nn.Parameter(torch.zeros(1)) if len(self.fusion) and cfg.gates == "one" else None
        if self.probe:
            self.vision_proj = self.temporal_net = None
            self.our_classifier = nn.Linear(cfg.embed_dim, num_classes)
        else:
            self.vision_proj = nn.Linear(cfg.embed_dim, cfg.joint_dim)
            self.temporal_net = (TemporalTransformer(cfg.num_frames, cfg.joint_dim, cfg.mtt_depth, cfg.mtt_heads,
                                                     cfg.mtt_dim_head, cfg.mtt_mlp_dim)
                                 if self.image_encoder is not None and "mtt" in cfg.temporal else None)
            self.our_classifier = nn.Linear(cfg.joint_dim, num_classes)
        for encoder in self.encoders:
            frozen = encoder.parameters() if self.probe else encoder.backbone_parameters()
            for parameter in frozen:
                parameter.requires_grad_(False)

    @property
    def encoders(self) -> list[PromptedViT]:
        """The encoders this variant has, vision first."""
        return [e for e in (self.image_encoder, self.audio_model) if e is not None]

    def _gates(self, block: int) -> tuple[torch.Tensor, torch.Tensor]:
        if self.fusion_gate is not None:
            return self.fusion_gate, self.fusion_gate
        return self.fusion[block].gate_v, self.fusion[block].gate_a

    def features(self, video: torch.Tensor | None, audio: torch.Tensor | None
                 ) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        """The encoders' final CLS tokens: vision ``(B, t, D)`` and audio ``(B, D)`` (None when absent)."""
        v = a = None
        frames = 0
        if self.image_encoder is not None:
            batch, frames = video.shape[:2]
            v = self.image_encoder.embed(video.flatten(0, 1))
        if self.audio_model is not None:
            a = self.audio_model.embed(audio if audio.dim() == 4 else audio.unsqueeze(1))
        for block in range(len(self.encoders[0].blocks)):
            if a is not None:
                a = self.audio_model.blocks[block](a)
            if v is not None:
                v = self.image_encoder.blocks[block](v)
            if len(self.fusion):
                v, a = self.fusion[block](v, a, frames, *self._gates(block))
            if v is not None:
                v = self.image_encoder.update_prompts(block, v)
            if a is not None:
                a = self.audio_model.update_prompts(block, a)
        v_cls = None if v is None else self.image_encoder.cls_features(v).unflatten(0, (batch, frames))
        a_cls = None if a is None else self.audio_model.cls_features(a)
        return v_cls, a_cls

    def forward(self, video: torch.Tensor | None, audio: torch.Tensor | None) -> torch.Tensor:
        v_cls, a_cls = self.features(video, audio)
        if self.probe:
            return self.our_classifier(v_cls.mean(dim=1) if v_cls is not None else a_cls)
        if v_cls is None:
            joint = a_cls[:, None]
        else:
            joint = v_cls if a_cls is None else v_cls + a_cls[:, None]
        joint = self.vision_proj(joint)
        pooled = self.temporal_net(joint) if self.temporal_net is not None else joint.mean(dim=1)
        return self.our_classifier(pooled)
