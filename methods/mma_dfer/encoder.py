"""The two frozen unimodal encoders of MMA-DFER: timm ViTs with (progressive) learnable prompts.

MMA-DFER (Chumachenko et al., CVPRW 2024) §3, Fig. 1: a MAE-Face ViT-B/16 on each frame and an
AudioMAE ViT-B/16 on the log-mel spectrogram, both frozen. Each branch's token sequence is
``[CLS, patches, prompts] + pos_embed`` (official ``models_vit.py`` L46-56,
``audio_models_vit.py`` L52-61). The blocks, patch embedding, CLS token and final norm are
timm's own :class:`~timm.models.vision_transformer.VisionTransformer` modules; this subclass
only adds the prompts and the positional rows for them.

Prompts (§3.2, Eq. 1): ``M`` tokens ``P`` are appended after the patch embedding; with ``L``
progressive updates, ``L`` sets ``P^l`` of ``M / L`` tokens are added to prompt slots
``[l M/L, (l+1) M/L)`` after block ``l * depth / L`` (official: ``ii % 6 == 0``, i.e. after
blocks 0 and 6 of 12, 3 tokens each). Both prompt tables are drawn ``randn * dim^-0.5`` and the
positional rows of the prompts ``randn`` with std 1 (official ``Generate_Model.py`` L124, L154).
"""

from __future__ import annotations

from functools import partial

import torch
from timm.models.vision_transformer import VisionTransformer
from torch import nn

#: Parameter names (prefixes) of the pretrained backbone, frozen in every MMA-DFER variant
#: (official ``main.py`` L104-138: everything of ``image_encoder``/``audio_model`` except
#: prompts, positional embeddings and fusion layers). ``pos_embed`` is loaded but trainable.
BACKBONE_PREFIXES: tuple[str, ...] = ("cls_token", "patch_embed.", "blocks.", "norm.")


class PromptedViT(VisionTransformer):
    """A timm ViT whose sequence is ``[CLS, patches, num_prompts prompts]``.

    ``img_size`` is ``(H, W)`` of the input (``(time, mel)`` for audio: AudioMAE's
    non-overlapping 16x16 patches over a ``(1, 512, 128)`` spectrogram give a 32x8 grid).
    ``drop_path_rate`` is timm's stochastic depth (linearly increasing per block); the
    official encoders use 0.1, active in training mode although the encoders are frozen.
    """

    def __init__(self, *, img_size: tuple[int, int], in_chans: int, patch_size: int, embed_dim: int,
                 depth: int, num_heads: int, drop_path_rate: float, num_prompts: int,
                 prompt_updates: int) -> None:
        super().__init__(img_size=img_size, patch_size=patch_size, in_chans=in_chans, num_classes=0,
                         global_pool="token", embed_dim=embed_dim, depth=depth, num_heads=num_heads,
                         mlp_ratio=4.0, qkv_bias=True, norm_layer=partial(nn.LayerNorm, eps=1e-6),
                         drop_path_rate=drop_path_rate)
        self.num_patches = self.patch_embed.num_patches
        self.num_prompts = num_prompts
        self.update_every = depth // prompt_updates if prompt_updates else 0
        if num_prompts:
            std = embed_dim**-0.5
            self.learnable_prompts_init = nn.Parameter(torch.randn(num_prompts, embed_dim) * std)
            per_update = num_prompts // prompt_updates if prompt_updates else 0
            self.learnable_prompts_progr = nn.ParameterList(
                [nn.Parameter(torch.randn(per_update, embed_dim) * std) for _ in range(prompt_updates)])
            prompt_rows = torch.randn(1, num_prompts, embed_dim)
            self.pos_embed = nn.Parameter(torch.cat([self.pos_embed.detach(), prompt_rows], dim=1))

    @property
    def patches(self) -> slice:
        """Where the patch tokens sit in the sequence."""
        return slice(1, 1 + self.num_patches)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """Images ``(B, C, H, W)`` → tokens ``(B, 1 + N + M, D)``: patches, CLS, prompts, positions."""
        tokens = self.patch_embed(x)
        parts = [self.cls_token.expand(tokens.shape[0], -1, -1), tokens]
        if self.num_prompts:
            parts.append(self.learnable_prompts_init.expand(tokens.shape[0], -1, -1))
        return self.pos_drop(torch.cat(parts, dim=1) + self.pos_embed)

    def update_prompts(self, block: int, x: torch.Tensor) -> torch.Tensor:
        """Eq. 1 after ``block``: add ``P^l`` to prompt slots ``l``, when ``block`` is an update point."""
        if not self.update_every or block % self.update_every:
            return x
        level = block // self.update_every
        delta = self.learnable_prompts_progr[level]
        start = 1 + self.num_patches + level * delta.shape[0]
        stop = start + delta.shape[0]
        return torch.cat([x[:, :start], x[:, start:stop] + delta, x[:, stop:]], dim=1)

    def cls_features(self, x: torch.Tensor) -> torch.Tensor:
        """The final LayerNorm's CLS token, ``(B, D)`` (official ``global_pool=False`` output)."""
        return self.norm(x)[:, 0]

    def backbone_parameters(self) -> list[nn.Parameter]:
        """The pretrained, always-frozen parameters (see :data:`BACKBONE_PREFIXES`)."""
        return [p for name, p in self.named_parameters() if name.startswith(BACKBONE_PREFIXES)]

