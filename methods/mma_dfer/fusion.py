"""Cross-modal fusion after an encoder block: the Fusion Bottleneck and the Table 3 alternatives.

Every fusion takes the vision tokens ``v`` ``(B*t, Lv, D)`` (the ``t`` frames of a clip are
consecutive rows) and the audio tokens ``a`` ``(B, La, D)`` after block ``i`` and returns both
updated as ``x + tanh(gate) * U`` (Eq. 5). Gates start at zero, so at initialisation every
fusion is the identity and the model equals its two frozen unimodal encoders.

``tokens`` chooses which tokens are pooled and updated (a paper-vs-code switch):
``"patches"`` — the paper's Eq. 3 averages the ``N`` patch tokens of each modality and the
update goes to them; ``"all"`` — the official code averages all tokens (CLS and prompts too,
``Generate_Model.py`` L171-175) and adds the update to every token.

Only the bottleneck exists in the official code; ``add``, ``mult`` and ``mult_concat`` are built
from the paper's one-line descriptions (§4.5) and share the bottleneck's projections
``G`` (Linear + LayerNorm) and ``F`` (Linear + GELU) so that only the mixing differs.
"""

from __future__ import annotations

import torch
from timm.layers import Attention
from torch import nn


def gated_add(x: torch.Tensor, update: torch.Tensor, gate: torch.Tensor, where: slice) -> torch.Tensor:
    """``x + tanh(gate) * update`` on the tokens ``where`` of ``x``; the other tokens are kept."""
    if where == slice(None):
        return x + torch.tanh(gate) * update
    start, stop = where.start, where.stop
    return torch.cat([x[:, :start], x[:, start:stop] + torch.tanh(gate) * update, x[:, stop:]], dim=1)


def _down(dim: int, latent: int) -> nn.Sequential:
    """``G``: Linear to the latent space, then LayerNorm (Eq. 2)."""
    return nn.Sequential(nn.Linear(dim, latent), nn.LayerNorm(latent))


def _up(latent: int, dim: int) -> nn.Sequential:
    """``F``: Linear back to the encoder width, then GELU (Eq. 4)."""
    return nn.Sequential(nn.Linear(latent, dim), nn.GELU())


class Fusion(nn.Module):
    """Base: which tokens of each branch take part, and (optionally) this block's own gates.

    With ``own_gates`` the block holds ``gate_v`` and ``gate_a`` (the official code: one gate
    per block and modality, 24 in all); otherwise the caller passes the model's single gate
    (the paper's one ``alpha``).
    """

    def __init__(self, where_v: slice, where_a: slice, own_gates: bool) -> None:
        super().__init__()
        self.where_v, self.where_a = where_v, where_a
        if own_gates:
            self.gate_v = nn.Parameter(torch.zeros(1))
            self.gate_a = nn.Parameter(torch.zeros(1))

    def mix(self, v: torch.Tensor, a: torch.Tensor, frames: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The updates ``U_v`` ``(B*t, n_v, D)`` and ``U_a`` ``(B, n_a, D)`` of the selected tokens."""
        raise NotImplementedError

    def forward(self, v: torch.Tensor, a: torch.Tensor, frames: int, gate_v: torch.Tensor,
                gate_a: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        u_v, u_a = self.mix(v, a, frames)
        return gated_add(v, u_v, gate_v, self.where_v), gated_add(a, u_a, gate_a, self.where_a)


class TemporalAdapter(nn.Module):
    """Intermediate temporal adapter (ITA, §4.4, Table 2): self-attention over the frames' CLS tokens.

    It works in the bottleneck's latent space: the frames' normalised latent CLS tokens
    (``G_V`` output) get a learned temporal position and go through pre-norm multi-head
    self-attention over time (``dim // 64`` heads, at least one); the result is added to every
    token of its frame before ``F_V``, so it reaches the vision branch through the bottleneck's
    gated expansion. At ``dim`` = the bottleneck width no projection is needed (the paper's
    reason for ITA-128 being smallest); otherwise Linear layers map latent → ``dim`` → latent.
    The paper gives no more detail and the official code has none (its ITA leftovers are dead
    code); parameters per 12 blocks: 0.82M (d=128), 0.41M (64), 4.0M (256) against the paper's
    0.8, 1.3 and 4.3M.
    """

    def __init__(self, latent: int, dim: int, frames: int) -> None:
        super().__init__()
        self.down = nn.Linear(latent, dim) if dim != latent else nn.Identity()
        self.pos = nn.Parameter(torch.zeros(1, frames, dim))
        nn.init.trunc_normal_(self.pos, std=0.02)
        self.norm = nn.LayerNorm(dim)
        self.attn = Attention(dim, num_heads=max(1, dim // 64), qkv_bias=True)
        self.up = nn.Linear(dim, latent) if dim != latent else nn.Identity()

    def forward(self, v_hat: torch.Tensor, frames: int) -> torch.Tensor:
        """Latent tokens ``(B*t, Lv, d)`` → a per-frame update ``(B*t, 1, d)``."""
        cls = v_hat[:, 0].reshape(-1, frames, v_hat.shape[-1])
        x = self.down(cls) + self.pos
        return self.up(self.attn(self.norm(x))).reshape(-1, 1, v_hat.shape[-1])


class FusionBottleneck(Fusion):
    """The Fusion Bottleneck (§3.3, Fig. 2, Eqs. 2-5).

    ``V^ = G_V(V)``, ``A^ = G_A(A)``; ``L_v`` = mean of ``V^`` over all frames and tokens of a
    clip, ``L_a`` = mean of ``A^`` over its tokens; ``U_v = F_V(V^ + L_a)`` and
    ``U_a = F_A(A^ + L_v)``. Official names: ``G_V`` = ``image_encoder.temporal_pre[i]`` +
    ``temporal_pre_norm[i]``, ``G_A`` = ``image_encoder.audio_proj_pre[i]``, ``F_V`` / ``F_A`` =
    ``image_encoder`` / ``audio_model.temporal_att_post[i]`` (Linear + GELU).
    """

    def __init__(self, dim: int, latent: int, where_v: slice, where_a: slice, own_gates: bool,
                 adapter: TemporalAdapter | None = None) -> None:
        super().__init__(where_v, where_a, own_gates)
        self.g_v, self.g_a = _down(dim, latent), _down(dim, latent)
        self.f_v, self.f_a = _up(latent, dim), _up(latent, dim)
        self.adapter = adapter

    def mix(self, v: torch.Tensor, a: torch.Tensor, frames: int) -> tuple[torch.Tensor, torch.Tensor]:
        v_hat = self.g_v(v)
        a_hat = self.g_a(a[:, self.where_a])
        selected = v_hat[:, self.where_v]
        l_v = selected.reshape(a.shape[0], -1, selected.shape[-1]).mean(dim=1)
        l_a = a_hat.mean(dim=1)
        mixed_v = selected + l_a.repeat_interleave(frames, dim=0)[:, None]
        if self.adapter is not None:
            mixed_v = mixed_v + self.adapter(v_hat, frames)
        return self.f_v(mixed_v), self.f_a(a_hat + l_v[:, None])


class AddFusion(Fusion):
    """ADD (Table 3): each branch gets the other's token mean, in the original space, no projections."""

    def mix(self, v: torch.Tensor, a: torch.Tensor, frames: int) -> tuple[torch.Tensor, torch.Tensor]:
        selected_v, selected_a = v[:, self.where_v], a[:, self.where_a]
        l_v = selected_v.reshape(a.shape[0], -1, v.shape[-1]).mean(dim=1)
        l_a = selected_a.mean(dim=1)
        u_v = l_a.repeat_interleave(frames, dim=0)[:, None].expand_as(selected_v)
        return u_v, l_v[:, None].expand_as(selected_a)


class MultFusion(Fusion):
    """MULT (Table 3, after Tsai et al. 2019): audio-to-vision and vision-to-audio cross-attention.

    Each frame's latent tokens attend to the clip's audio tokens and the audio tokens attend
    to all tokens of all frames; ``heads`` heads over the latent width (the paper: 2 heads,
    128 dimensions, to match the bottleneck). The outputs are expanded by ``F`` and gated.
    """

    def __init__(self, dim: int, latent: int, heads: int, where_v: slice, where_a: slice, own_gates: bool) -> None:
        super().__init__(where_v, where_a, own_gates)
        self.g_v, self.g_a = _down(dim, latent), _down(dim, latent)
        self.audio_to_vision = nn.MultiheadAttention(latent, heads, batch_first=True)
        self.vision_to_audio = nn.MultiheadAttention(latent, heads, batch_first=True)
        self.f_v, self.f_a = _up(latent, dim), _up(latent, dim)

    def mix(self, v: torch.Tensor, a: torch.Tensor, frames: int) -> tuple[torch.Tensor, torch.Tensor]:
        v_hat, a_hat = self.g_v(v[:, self.where_v]), self.g_a(a[:, self.where_a])
        audio_keys = a_hat.repeat_interleave(frames, dim=0)
        to_v = self.audio_to_vision(v_hat, audio_keys, audio_keys, need_weights=False)[0]
        vision_keys = v_hat.reshape(a.shape[0], -1, v_hat.shape[-1])
        to_a = self.vision_to_audio(a_hat, vision_keys, vision_keys, need_weights=False)[0]
        return self.f_v(to_v), self.f_a(to_a)


class MultConcatFusion(Fusion):
    """MULT-concat (Table 3): one Transformer layer over the concatenated latent tokens of a clip.

    All frames' and the audio's latent tokens form one sequence, go through one pre-norm
    Transformer encoder layer (``heads`` heads, MLP 4x, GELU); its global average is expanded
    by ``F_V`` / ``F_A`` and added to every selected token of each branch.
    """

    def __init__(self, dim: int, latent: int, heads: int, where_v: slice, where_a: slice, own_gates: bool) -> None:
        super().__init__(where_v, where_a, own_gates)
        self.g_v, self.g_a = _down(dim, latent), _down(dim, latent)
        self.joint = nn.TransformerEncoderLayer(latent, heads, dim_feedforward=4 * latent, dropout=0.0,
                                                activation="gelu", batch_first=True, norm_first=True)
        self.f_v, self.f_a = _up(latent, dim), _up(latent, dim)

    def mix(self, v: torch.Tensor, a: torch.Tensor, frames: int) -> tuple[torch.Tensor, torch.Tensor]:
        selected_v, selected_a = v[:, self.where_v], a[:, self.where_a]
        v_hat, a_hat = self.g_v(selected_v), self.g_a(selected_a)
        joint = torch.cat([v_hat.reshape(a.shape[0], -1, v_hat.shape[-1]), a_hat], dim=1)
        pooled = self.joint(joint).mean(dim=1)
        u_v = self.f_v(pooled).repeat_interleave(frames, dim=0)[:, None].expand_as(selected_v)
        return u_v, self.f_a(pooled)[:, None].expand_as(selected_a)
