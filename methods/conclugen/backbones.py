"""ConCluGen's frozen backbones (paper Sec. 3.1, Fig. 1; code ``configs/model/conclu/concat/conclu_single.yaml``
L24-35, ``src/models/backbones/dav_enet.py``), and strict weight loading.

* video: a 2D ResNet per frame (paper [24]; code torchvision ResNet-152) and a 3D ResNet per
  16-frame window (paper [3]; code pretorched ``resnet3d101``: :func:`r3d` at depths 18-152 with
  pretorched's or torchvision's stem, and pretorched checkpoints renamed on loading);
* audio: a ResDAVEnet-style CNN on the mel spectrogram (paper [23], :class:`DavEnet`);
* tiny CPU stand-ins of the video backbones for tests (``tiny``).

Weights come only from user-given local files, loaded strictly: every key of the file must be
a key of the network with the same shape and vice versa, else a DataError lists the missing,
unexpected and mis-shaped keys. Without a file the network is randomly initialised from a
fixed seed (so a cached feature stays a function of its parameters) and reported as
``random-init``.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
import hashlib
from pathlib import Path
from typing import Literal

import torch
from torch import nn

from bench.errors import DataError

RANDOM_INIT = "random-init"
INIT_SEED = 0


@functools.lru_cache(maxsize=32)
def _sha256(path: str, size: int, mtime_ns: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def weights_sha256(path: str | None, what: str) -> str:
    """The sha256 of a weights file, or ``random-init`` when ``path`` is None; a missing file is a DataError."""
    if path is None or path == "":
        return RANDOM_INIT
    file = Path(path).expanduser()
    if not file.is_file():
        raise DataError(f"{file}: {what} weights file not found (give a local state_dict file, or null for random init)")
    stat = file.stat()
    return _sha256(str(file.resolve()), stat.st_size, stat.st_mtime_ns)


def load_strict(net: nn.Module, path: str, what: str,
                convert: Callable[[dict[str, torch.Tensor]], dict[str, torch.Tensor]] | None = None) -> None:
    """Load a state_dict file (``{'state_dict': ...}`` is unwrapped) into ``net``, strictly;
    ``convert`` renames another layout's keys first."""
    try:
        state = torch.load(Path(path).expanduser(), map_location="cpu", weights_only=True)
    except Exception as error:  # any unreadable file is the user's input error, named
        raise DataError(f"{path}: cannot read {what} weights ({type(error).__name__}: {error})") from None
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise DataError(f"{path}: {what} weights must be a state_dict (a mapping of names to tensors)")
    if convert is not None:
        state = convert(state)
    own = net.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    shaped = sorted(k for k in set(own) & set(state) if tuple(own[k].shape) != tuple(state[k].shape))
    if missing or unexpected or shaped:
        def show(keys: list[str]) -> str:
            return ", ".join(keys[:8]) + (f" (+{len(keys) - 8} more)" if len(keys) > 8 else "") if keys else "none"
        raise DataError(f"{path}: {what} weights do not match the network: missing keys: {show(missing)}; "
                        f"unexpected keys: {show(unexpected)}; shape mismatches: {show(shaped)}")
    net.load_state_dict(state, strict=True)


def _seeded(build: Callable[[], nn.Module]) -> nn.Module:
    """``build()`` with the global RNG seeded by INIT_SEED, every module it makes included."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(INIT_SEED)
        return build()


class _Tiny(nn.Module):
    """One strided convolution, ReLU and a global average: a cheap frozen stand-in backbone."""

    def __init__(self, conv: nn.Module) -> None:
        super().__init__()
        self.conv = conv

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.conv(x)).flatten(2).mean(dim=2)


def build_video_2d(arch: str, weights: str | None, tiny_dim: int) -> tuple[nn.Module, int]:
    """A frozen 2D backbone on ``[B, 3, H, W]`` frames → ``[B, D]`` (post-avgpool), and D."""
    import torchvision

    if arch == "tiny":
        net, dim = _seeded(lambda: _Tiny(nn.Conv2d(3, tiny_dim, 5, stride=2))), tiny_dim
    else:
        net = _seeded(functools.partial(getattr(torchvision.models, arch), weights=None))
        if weights:
            load_strict(net, weights, f"2D video backbone {arch}")
        dim = net.fc.in_features
        net.fc = nn.Identity()
        return net.eval().requires_grad_(False), dim
    if weights:
        load_strict(net, weights, "2D video backbone tiny")
    return net.eval().requires_grad_(False), dim


R3D_DEPTHS: dict[str, tuple[str, tuple[int, int, int, int]]] = {
    "r3d_18": ("basic", (2, 2, 2, 2)), "r3d_34": ("basic", (3, 4, 6, 3)), "r3d_50": ("bottleneck", (3, 4, 6, 3)),
    "r3d_101": ("bottleneck", (3, 4, 23, 3)), "r3d_152": ("bottleneck", (3, 8, 36, 3)),
}
"""3D ResNet depth → (block, blocks per stage): He et al.'s ResNet depths with full 3x3x3
convolutions (Hara et al.'s 3D ResNets; the code's pretorched ``resnet3d101`` is the 101 one,
bottleneck blocks, 2048-d features). ``r3d_18`` is torchvision's ``r3d_18``."""


R3D_STEMS: tuple[str, ...] = ("pretorched", "torchvision")
"""``pretorched``: Hara et al.'s stem as the code's pretorched ``ResNet3D`` has it (conv 7x7x7,
stride (1, 2, 2), padding 3, BN, ReLU, max-pool 3 stride 2); ``torchvision``: ``BasicStem``
(conv 3x7x7, stride (1, 2, 2), BN, ReLU, no pool). The residual stages are the same in both."""


def r3d(arch: str, stem: str = "torchvision") -> nn.Module:
    """A torchvision ``VideoResNet`` (Conv3DSimple blocks) of the depth ``arch`` names
    (:data:`R3D_DEPTHS`) with the ``stem`` of :data:`R3D_STEMS`, randomly initialised; state_dict
    keys in torchvision's naming (``stem.*``, ``layer1.*`` .., ``fc.*``). A pretorched checkpoint
    loads into the ``pretorched`` stem after :func:`pretorched_to_torchvision`."""
    from torchvision.models.video import resnet as video

    if arch not in R3D_DEPTHS:
        raise ValueError(f"unknown 3D ResNet {arch!r}; one of {', '.join(R3D_DEPTHS)}")
    if stem not in R3D_STEMS:
        raise ValueError(f"unknown 3D ResNet stem {stem!r}; one of {', '.join(R3D_STEMS)}")
    block, layers = R3D_DEPTHS[arch]
    net = video.VideoResNet(video.BasicBlock if block == "basic" else video.Bottleneck,
                            [video.Conv3DSimple] * 4, list(layers), video.BasicStem)
    if stem == "pretorched":
        net.stem = nn.Sequential(nn.Conv3d(3, 64, 7, stride=(1, 2, 2), padding=3, bias=False), nn.BatchNorm3d(64),
                                 nn.ReLU(inplace=True), nn.MaxPool3d(3, stride=2, padding=1))
        nn.init.kaiming_normal_(net.stem[0].weight, mode="fan_out", nonlinearity="relu")
    return net


_PRETORCHED_BLOCK = re.compile(r"^(layer\d+\.\d+)\.(conv|bn)([123])\.(.+)$")


def pretorched_to_torchvision(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """pretorched ``ResNet3D`` keys (``conv1``/``bn1`` stem, per-block ``convK``/``bnK``,
    ``last_linear`` after its ``modify_resnets``) renamed to :func:`r3d`'s ``pretorched`` layout
    (``stem.0``/``stem.1``, ``convK.0``/``convK.1``, ``fc``); ``downsample.*`` keys are the same.
    A state without pretorched's stem keys is returned unchanged."""
    if "conv1.weight" not in state or "bn1.weight" not in state:
        return state
    out: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        new = key
        if key.startswith("conv1."):
            new = "stem.0." + key[len("conv1."):]
        elif key.startswith("bn1."):
            new = "stem.1." + key[len("bn1."):]
        elif key.startswith("last_linear."):
            new = "fc." + key[len("last_linear."):]
        elif match := _PRETORCHED_BLOCK.match(key):
            layer, kind, k, rest = match.groups()
            new = f"{layer}.conv{k}.{0 if kind == 'conv' else 1}.{rest}"
        out[new] = value
    return out


def build_video_3d(arch: str, weights: str | None, tiny_dim: int,
                   stem: str = "pretorched") -> tuple[nn.Module, int]:
    """A frozen 3D backbone on ``[B, 3, T, H, W]`` windows → ``[B, D]``, and D (512 for depths 18
    and 34, 2048 for the bottleneck depths 50, 101 and 152); ``stem`` see :data:`R3D_STEMS`
    (a pretorched checkpoint is renamed on loading)."""
    if arch == "tiny":
        net, dim = _seeded(lambda: _Tiny(nn.Conv3d(3, tiny_dim, (3, 5, 5), stride=(1, 2, 2),
                                                   padding=(1, 0, 0)))), tiny_dim
    else:
        net = _seeded(functools.partial(r3d, arch, stem))
        if weights:
            load_strict(net, weights, f"3D video backbone {arch} ({stem} stem)",
                        pretorched_to_torchvision if stem == "pretorched" else None)
        dim = net.fc.in_features
        net.fc = nn.Identity()
        return net.eval().requires_grad_(False), dim
    if weights:
        load_strict(net, weights, "3D video backbone tiny")
    return net.eval().requires_grad_(False), dim


class _DavBlock(nn.Module):
    """A ResDAVEnet basic block: two (1 x 9) convolutions, the first strided by 2, and a 1x1
    projection on the skip path when the stride or width changes; ``skip`` names that projection
    (bench's ``shortcut``, the official ``downsample``, ``dav_enet.py`` L28-53)."""

    def __init__(self, cin: int, cout: int, stride: int, skip: str = "shortcut") -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, (1, 9), stride=stride, padding=(0, 4), bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, (1, 9), padding=(0, 4), bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.skip = skip
        setattr(self, skip, nn.Sequential(nn.Conv2d(cin, cout, 1, stride=stride, bias=False), nn.BatchNorm2d(cout))
                if stride != 1 or cin != cout else nn.Identity())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.relu(self.bn1(self.conv1(x)))
        return torch.relu(self.bn2(self.conv2(out)) + getattr(self, self.skip)(x))


AudioLayout = Literal["bench", "code"]


class DavEnet(nn.Module):
    """ResDAVEnet-style audio CNN (Harwath et al., paper [23]) on a ``[B, 1, 128, T]`` mel spectrogram.

    ``conv1`` is a ``(first_conv_bins x 1)`` convolution: with 128 it covers the whole mel axis
    (the paper's reading); with 40 it is the official code's ``feat_dim=40`` default on 128-bin
    input (``dav_enet.py`` L62, L73): the conv slides along the mel axis (height 89), which the
    four stride-2 stages halve to 6. Output: the mean over every non-channel position, ``[B, 8 w]``
    (code ``features_util.py`` L3-10, ``average_into_first_dim``).

    ``layout``: ``bench`` — stage widths ``w, w, 2w, 4w, 8w`` in ``stages.<i>.<j>`` with
    ``shortcut`` projections; ``code`` — the official ``ResDavenet`` as shipped (``dav_enet.py``
    L56-127): widths ``w, 2w, 2w, 4w, 8w`` (128/256/256/512/1024) in ``layer1``..``layer4`` with
    ``downsample`` projections, and a ``batchnorm1`` that its forward never applies (L72, L129-140),
    so the ResDAVEnet-VQ checkpoint the code loads strictly (131 tensors) loads here as shipped.
    """

    def __init__(self, width: int, first_conv_bins: int, layout: AudioLayout = "bench") -> None:
        super().__init__()
        if layout not in ("bench", "code"):
            raise ValueError(f"unknown DAVEnet layout {layout!r}; one of bench, code")
        self.layout = layout
        if layout == "code":
            self.batchnorm1 = nn.BatchNorm2d(1)
        self.conv1 = nn.Conv2d(1, width, (first_conv_bins, 1), bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        chans = [width, 2 * width if layout == "code" else width, 2 * width, 4 * width, 8 * width]
        skip = "downsample" if layout == "code" else "shortcut"
        stages = [nn.Sequential(_DavBlock(chans[i], chans[i + 1], 2, skip), _DavBlock(chans[i + 1], chans[i + 1], 1, skip))
                  for i in range(4)]
        if layout == "code":
            self.layer1, self.layer2, self.layer3, self.layer4 = stages
        else:
            self.stages = nn.Sequential(*stages)
        self.out_dim = 8 * width

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.bn1(self.conv1(mel)))
        if self.layout == "code":
            x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        else:
            x = self.stages(x)
        return x.flatten(2).mean(dim=2)


def build_audio(width: int, first_conv_bins: int, weights: str | None,
                layout: AudioLayout = "bench") -> tuple[nn.Module, int]:
    """A frozen :class:`DavEnet` of ``layout`` (random init from a fixed seed, or strict weights) and its width."""
    net = _seeded(functools.partial(DavEnet, width, first_conv_bins, layout))
    if weights:
        load_strict(net, weights, "DAVEnet audio backbone")
    return net.eval().requires_grad_(False), net.out_dim
