"""AVCE's networks (Fig. 2, Sec. 4.2; code ``models.py``): encoder E, compressor C, regressor R, heads H, H1.

* E, from scratch (paper; code ``pretrained=None``): the AlexNet convolution stack
  (torchvision ``AlexNet().features``, 256×6×6 for a 224 input) or ResNet18 ``conv1 … layer4``;
  ``encoder_width`` (64, the paper's networks) narrows them for the CPU-sized tiny presets.
* C ("average pooling and FC layer"), giving z (d = 32, non-negative): AlexNet — 6×6 average
  pooling, dropout, 9216→d, ReLU (the "parameter-reduced AlexNet": the 4096-d layers of AlexNet
  are replaced by this head, code ``Regressor_Alex``); ResNet18 — global average pooling,
  512→1000 (the net's ``last_linear``), dropout, 1000→d, ReLU (code ``Regressor_R18``).
* R: dropout, d→256, ReLU, 256→2 = x (valence, arousal in the task's label order), unbounded.
* H (code ``SPRegressor_light``): d→256, ReLU, 256→2, 0.5·tanh; the same H maps z_a and z_n.
* H1 (code ``Variational_regressor``, deterministic): d→64, ReLU, 64→8, ReLU = v.

``head_batchnorm`` (paper: "H(/H1) and R are composed of FC layers and batch normalization")
puts a BatchNorm1d after each hidden FC layer of R, H and H1, before its ReLU (the paper's
appendix with the exact layout is not in our copy; the code has no BatchNorm). Initialisation
(code ``main.py`` L61-65 ``init_weights``): every Linear of H and H1 ~ N(0, 1), bias 0.01; E, C
and R keep PyTorch's defaults. The paper's "initialise to Normal" names no deviation, so the
code's is the one used.
"""

from __future__ import annotations

from collections import OrderedDict

import torch
import torch.nn.functional as F
from torch import nn

from bench_methods.avce.config import AVCEConfig

ALEXNET_POOL = 6
RESNET_LOGITS = 1000
VA_HIDDEN = 256
H1_HIDDEN = 64


class AlwaysOnDropout(nn.Module):
    """Element-wise dropout that ignores the module's mode: the code's ``F.dropout2d(x)`` on [B, C].

    ``F.dropout2d``'s functional default is ``training=True``, so in ``Regressor_R18`` it is
    active at evaluation too (official-code bug, ``always_on_dropout``).
    """

    def __init__(self, p: float) -> None:
        super().__init__()
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.dropout(x, self.p, training=True)


def alexnet_features(width: int) -> nn.Sequential:
    """AlexNet's convolution stack (Krizhevsky et al. 2012) with channels w, 3w, 6w, 4w, 4w.

    At w = 64 it is torchvision's ``AlexNet().features`` layer for layer (the code's
    ``alexnet._features``), and initialised alike (PyTorch's default, layer by layer).
    """
    c = (width, 3 * width, 6 * width, 4 * width, 4 * width)
    return nn.Sequential(
        nn.Conv2d(3, c[0], kernel_size=11, stride=4, padding=2), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2),
        nn.Conv2d(c[0], c[1], kernel_size=5, padding=2), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2),
        nn.Conv2d(c[1], c[2], kernel_size=3, padding=1), nn.ReLU(inplace=True),
        nn.Conv2d(c[2], c[3], kernel_size=3, padding=1), nn.ReLU(inplace=True),
        nn.Conv2d(c[3], c[4], kernel_size=3, padding=1), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2),
    )


def resnet18_trunk(width: int) -> nn.Sequential:
    """ResNet18's ``conv1 … layer4`` (He et al. 2016) with stage widths w, 2w, 4w, 8w.

    Assembled from torchvision's ``BasicBlock`` in its ``resnet18`` layout (two blocks per
    stage, 1×1 projection shortcuts) and initialised as torchvision does (Kaiming-normal
    fan-out convolutions, BatchNorm 1 / 0); at w = 64 it is ``resnet18()``'s trunk layer for
    layer, with the same state_dict keys (the code's ``Encoder_R18``).
    """
    from torchvision.models.resnet import BasicBlock

    stem = [("conv1", nn.Conv2d(3, width, kernel_size=7, stride=2, padding=3, bias=False)),
            ("bn1", nn.BatchNorm2d(width)), ("relu", nn.ReLU(inplace=True)),
            ("maxpool", nn.MaxPool2d(kernel_size=3, stride=2, padding=1))]
    stages, inplanes = [], width
    for number, planes in enumerate((width, 2 * width, 4 * width, 8 * width), 1):
        stride = 1 if number == 1 else 2
        shortcut = None
        if stride != 1 or inplanes != planes:
            shortcut = nn.Sequential(nn.Conv2d(inplanes, planes, kernel_size=1, stride=stride, bias=False),
                                     nn.BatchNorm2d(planes))
        stages.append((f"layer{number}", nn.Sequential(BasicBlock(inplanes, planes, stride, shortcut),
                                                       BasicBlock(planes, planes))))
        inplanes = planes
    trunk = nn.Sequential(OrderedDict(stem + stages))
    for layer in trunk.modules():
        if isinstance(layer, nn.Conv2d):
            nn.init.kaiming_normal_(layer.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(layer, nn.BatchNorm2d):
            nn.init.constant_(layer.weight, 1)
            nn.init.constant_(layer.bias, 0)
    return trunk


def encoder(backbone: str, width: int) -> tuple[nn.Module, int]:
    """E from scratch and the number of channels of its feature map."""
    if backbone == "alexnet":
        return alexnet_features(width), 4 * width
    if backbone == "resnet18":
        return resnet18_trunk(width), 8 * width
    raise ValueError(f"backbone must be 'alexnet' or 'resnet18', got {backbone!r}")


def _dropout(cfg: AVCEConfig) -> nn.Module:
    return AlwaysOnDropout(cfg.dropout) if cfg.always_on_dropout else nn.Dropout(cfg.dropout)


def compressor(cfg: AVCEConfig, channels: int) -> nn.Module:
    """C: the feature map of E → z ∈ R^d (non-negative)."""
    d = cfg.latent_dim
    if cfg.backbone == "alexnet":
        return nn.Sequential(nn.AdaptiveAvgPool2d(ALEXNET_POOL), nn.Flatten(), _dropout(cfg),
                             nn.Linear(channels * ALEXNET_POOL**2, d), nn.ReLU())
    return nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(channels, RESNET_LOGITS), _dropout(cfg),
                         nn.Linear(RESNET_LOGITS, d), nn.ReLU())


def _mlp(inputs: int, hidden: int, outputs: int, batchnorm: bool) -> list[nn.Module]:
    norm = [nn.BatchNorm1d(hidden)] if batchnorm else []
    return [nn.Linear(inputs, hidden), *norm, nn.ReLU(), nn.Linear(hidden, outputs)]


class HalfTanh(nn.Module):
    """0.5·tanh, the bound (−0.5, 0.5) of H's output (code ``models.py`` L215)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return 0.5 * torch.tanh(x)


def regressor(cfg: AVCEConfig, outputs: int) -> nn.Module:
    """R: z → x (one value per label axis)."""
    return nn.Sequential(_dropout(cfg), *_mlp(cfg.latent_dim, VA_HIDDEN, outputs, cfg.head_batchnorm))


def projection_head(cfg: AVCEConfig, outputs: int) -> nn.Module:
    """H: a view z_a or z_n → y ∈ (−0.5, 0.5)^2 in the AV space."""
    return nn.Sequential(*_mlp(cfg.latent_dim, VA_HIDDEN, outputs, cfg.head_batchnorm), HalfTanh())


def metric_head(cfg: AVCEConfig) -> nn.Module:
    """H1: z, z_a or z_n → v ∈ R^8 (non-negative), the metric space of L_dis."""
    return nn.Sequential(*_mlp(cfg.latent_dim, H1_HIDDEN, cfg.metric_dim, cfg.head_batchnorm), nn.ReLU())


def init_normal(module: nn.Module) -> None:
    """The code's ``init_weights``: each Linear weight ~ N(0, 1), bias = 0.01."""
    for layer in module.modules():
        if isinstance(layer, nn.Linear):
            nn.init.normal_(layer.weight)
            nn.init.constant_(layer.bias, 0.01)


class AVCENet(nn.Module):
    """E, C, R, H and H1 of one backbone, with the forward passes Algorithm 1 uses."""

    def __init__(self, cfg: AVCEConfig, outputs: int) -> None:
        super().__init__()
        self.encoder, channels = encoder(cfg.backbone, cfg.encoder_width)
        self.compressor = compressor(cfg, channels)
        self.regressor = regressor(cfg, outputs)
        self.head = projection_head(cfg, outputs)
        self.metric_head = metric_head(cfg)
        init_normal(self.head)
        init_normal(self.metric_head)

    def latent(self, images: torch.Tensor) -> torch.Tensor:
        """z = (C ∘ E)(IMG), [B, d]."""
        return self.compressor(self.encoder(images))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """The test-time path x = R(C(E(IMG))) (the green arrow of Fig. 2b; H is unused)."""
        return self.regressor(self.latent(images))
