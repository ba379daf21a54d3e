"""MPUC's per-modality backbones, projection heads and the fusion classifier (ICPR'22 Sec. III).

Each backbone maps one modality's crop to a ``feature_dim`` (512) vector, the "basic feature"
that is concatenated and classified (Sec. III-C); in the code's order audio, landmarks,
video, text (``Encoder.py`` L130-194) every one but text ends with Dropout(0.1) (L117).

* audio: :class:`~bench_methods.mpuc.tcn.AcousticTCN` on ``[T, 128]`` log-mel;
* landmarks: :class:`~bench_methods.mpuc.stgcn.LandmarkSTGCN` on ``[T, 51, 2]``;
* video: :class:`FaceR2Plus1D`, torchvision's R(2+1)D-18 on ``video_clip_frames`` (8) frames
  spread evenly over the crop (``np.linspace(start, start + n - 1, 8)``, code L162);
* text: :class:`WordTransformer` on ``[T, 300]`` word vectors.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import nn

from bench.errors import ConfigError
from bench_methods.mpuc.config import EncoderConfig, TextPositional
from bench_methods.mpuc.stgcn import NUM_POINTS, LandmarkSTGCN
from bench_methods.mpuc.tcn import AcousticTCN

FEATURE_ORDER: tuple[str, ...] = ("audio", "landmarks", "video", "text")
"""The code's feature order; concatenation and the eq. 2 pair order follow it."""

KINETICS_MEAN = (0.43216, 0.394666, 0.37645)
KINETICS_STD = (0.22803, 0.22145, 0.216989)
"""R(2+1)D's Kinetics-400 normalisation (MOSEI loader L40-44)."""


class FaceR2Plus1D(nn.Module):
    """``[B, T, 3, H, W]`` face frames in [0, 1] -> ``[B, out_dim]`` with R(2+1)D-18.

    Frames are picked evenly over the crop, normalised with the Kinetics statistics and fed
    as ``[B, 3, frames, H, W]``; the classifier ``fc`` becomes Dropout(0.1) + Linear(512 ->
    out_dim) (``models/VideoEncoder.py``). The paper uses Kinetics-400 weights; bench never
    downloads: ``weights`` is a local torchvision ``r2plus1d_18`` state dict, else random init.
    """

    def __init__(self, out_dim: int, frames: int, dropout: float, weights: str) -> None:
        super().__init__()
        from torchvision.models.video import r2plus1d_18

        self.model = r2plus1d_18(weights=None)
        self.provenance = "random-init"
        if weights:
            path = Path(weights).expanduser()
            if not path.is_file():
                raise ConfigError(f"video_weights={weights!r}: no such file; expected a local torchvision "
                                  "r2plus1d_18 Kinetics-400 state dict (e.g. r2plus1d_18-91a641e6.pth)")
            try:
                self.model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
            except (RuntimeError, ValueError, OSError) as error:
                raise ConfigError(f"video_weights={weights!r}: not an r2plus1d_18 state dict ({error})") from error
            self.provenance = "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()
        self.model.fc = nn.Sequential(nn.Dropout(dropout), nn.Linear(self.model.fc.in_features, out_dim))
        self.frames = frames
        self.register_buffer("mean", torch.tensor(KINETICS_MEAN).view(1, 3, 1, 1, 1))
        self.register_buffer("std", torch.tensor(KINETICS_STD).view(1, 3, 1, 1, 1))

    def forward(self, clips: torch.Tensor) -> torch.Tensor:
        picks = torch.linspace(0, clips.shape[1] - 1, self.frames, device=clips.device).long()
        x = clips[:, picks].transpose(1, 2)
        return self.model((x - self.mean) / self.std)


def positional_table(length: int, dim: int) -> torch.Tensor:
    """Sinusoidal positions of Vaswani et al. [60]: ``[length, dim]``, sin on even, cos on odd columns."""
    position = torch.arange(length, dtype=torch.float32)[:, None]
    rate = torch.exp(torch.arange(0, dim, 2, dtype=torch.float32) * (-math.log(10000.0) / dim))
    table = torch.zeros(length, dim)
    table[:, 0::2] = torch.sin(position * rate)
    table[:, 1::2] = torch.cos(position * rate)
    return table


class WordTransformer(nn.Module):
    """``[B, T, 300]`` word vectors -> ``[B, out_dim]``: positions, a 6-layer encoder, mean, dropout, linear.

    ``positional="sequence"`` adds the offset of each step (the paper's Transformer [60]);
    ``"batch_index"`` adds the offset of the sample's position in the batch to all of its
    steps, the code's behaviour (``models/Encoder.py`` L29-31 on the batch-first input of L177). Each addition is followed by dropout 0.1.
    """

    def __init__(self, dim: int, out_dim: int, layers: int, heads: int, ff: int, dropout: float,
                 positional: TextPositional, max_len: int = 5000) -> None:
        super().__init__()
        self.register_buffer("positions", positional_table(max_len, dim))
        self.positional = positional
        layer = nn.TransformerEncoderLayer(dim, heads, ff, dropout, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.in_dropout = nn.Dropout(dropout)
        self.out_dropout = nn.Dropout(dropout)
        self.linear = nn.Linear(dim, out_dim)

    def forward(self, words: torch.Tensor) -> torch.Tensor:
        if self.positional == "sequence":
            offsets = self.positions[: words.shape[1]][None]
        else:
            offsets = self.positions[: words.shape[0]][:, None]
        x = self.encoder(self.in_dropout(words + offsets))
        return self.linear(self.out_dropout(x.mean(dim=1)))


def make_backbone(modality: str, shape: Sequence[int], cfg: EncoderConfig) -> nn.Module:
    """The backbone of ``modality`` for per-crop input ``shape`` (steps first), ending in its features."""
    d, p = cfg.feature_dim, cfg.dropout
    if modality == "audio":
        if tuple(shape[1:]) != (cfg.mel_bins,):
            raise ConfigError(f"mpuc: audio items are {list(shape)}, expected [steps, {cfg.mel_bins}] log-mel "
                              "(transform audio_logmel_mpuc)")
        tcn = AcousticTCN(cfg.mel_bins, d, cfg.tcn_blocks, cfg.tcn_repeats, cfg.tcn_bottleneck, cfg.tcn_hidden,
                          cfg.tcn_kernel, p)
        return nn.Sequential(tcn, nn.Dropout(p))
    if modality == "landmarks":
        if tuple(shape[1:]) != (NUM_POINTS, 2):
            raise ConfigError(f"mpuc: landmark items are {list(shape)}, expected [steps, {NUM_POINTS}, 2] "
                              "(the 51 non-jaw points; transform landmarks_openface_mpuc)")
        stgcn = LandmarkSTGCN(cfg.crop_frames, d, cfg.stgcn_channels, cfg.stgcn_spatial, p)
        return nn.Sequential(stgcn, nn.Dropout(p))
    if modality == "video":
        if len(shape) != 4 or shape[1] != 3:
            raise ConfigError(f"mpuc: video items are {list(shape)}, expected [frames, 3, H, W]")
        return nn.Sequential(FaceR2Plus1D(d, cfg.video_clip_frames, p, cfg.video_weights), nn.Dropout(p))
    if modality == "text":
        if tuple(shape[1:]) != (cfg.text_dim,):
            raise ConfigError(f"mpuc: text items are {list(shape)}, expected [steps, {cfg.text_dim}] word vectors")
        return WordTransformer(cfg.text_dim, d, cfg.text_layers, cfg.text_heads, cfg.text_ff, p,
                               cfg.text_positional)
    raise ConfigError(f"mpuc has no backbone for modality {modality!r}; it has {', '.join(FEATURE_ORDER)}")


def mlp(in_dim: int, hidden: int, out_dim: int) -> nn.Sequential:
    """``fc + ReLU + fc``: the projection heads (Sec. III-B) and the prediction layer (Sec. III-C)."""
    return nn.Sequential(nn.Linear(in_dim, hidden), nn.ReLU(), nn.Linear(hidden, out_dim))


class ConcatAttention(nn.Module):
    """The "Attention Mec." baseline's layer: q/k/v linears and multi-head attention over the
    concatenated features as ONE token (code ``models/attention.py``), so every attention
    weight is 1 and the layer is ``out_proj(v(x))`` in effect; kept as coded."""

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.query, self.key, self.value = nn.Linear(dim, dim), nn.Linear(dim, dim), nn.Linear(dim, dim)
        self.attention = nn.MultiheadAttention(dim, heads, batch_first=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        token = x[:, None]
        out, _ = self.attention(self.query(token), self.key(token), self.value(token), need_weights=False)
        return out[:, 0]
