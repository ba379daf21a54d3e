"""The official MPUC encoder's state-dict layout (``ricfrr/mpuc-mer`` ``models/Encoder.py``) in bench's names.

The official training saves ``encoder/encoder_epoch_top.pth`` = ``{"model_state_dict": ...}``
(``train.py`` L449-463) with the keys of ``Encoder``: ``audio_encoder.*`` (``models/TCN.py``),
``stgcn.*`` (``models/STGCN.py``), ``video_encoder.model.*`` (``models/VideoEncoder.py``),
``trnn1.*`` / ``text_linear.*`` (``Encoder.py`` L75-81) and the projection heads ``proj_*``.
:func:`encoder_state_dict` renames them to :class:`~bench_methods.mpuc.module.MPUCModule`'s
``backbones.*`` / ``projections.*`` and reshapes what bench stores differently:

* gLN ``gamma`` / ``beta`` ``[C]`` -> ``gain`` / ``bias`` ``[C, 1]``;
* a ``TimeBlock``'s three convolutions ``conv1..3`` -> one convolution of 3x the channels
  (:class:`~bench_methods.mpuc.stgcn.GatedTemporalConv` splits them back in that order);
* ``Theta1`` -> ``theta``, ``batch_norm`` -> ``norm``, ``last_temporal`` -> ``last``,
  ``fully`` -> ``per_node``, ``fc_out`` -> ``out``; ``res_conv`` is the residual branch's last layer.

The positional table ``text_pos_encoder.pe`` (a function of the shape) and the unused
``text_encoder_layer.*`` (a template the ``TransformerEncoder`` copies) are dropped.
:func:`load_encoder` reads such a checkpoint for the config key ``official_encoder``.
"""

from __future__ import annotations

import hashlib
import pickle
import re
from collections.abc import Mapping
from pathlib import Path

import torch
from torch import nn

from bench.errors import ConfigError

MODALITY_OF_PROJECTION = {"proj_audio": "audio", "proj_ld": "landmarks", "proj_video": "video", "proj_text": "text"}
DROPPED = ("text_pos_encoder.", "text_encoder_layer.")
_STGCN = {"Theta1": "theta", "batch_norm": "norm", "last_temporal": "last", "fully": "per_node", "fc_out": "out"}


def _tcn_name(rest: str) -> str:
    """A ``models/TCN.py`` name under bench's :class:`~bench_methods.mpuc.tcn.AcousticTCN`."""
    rest = re.sub(r"^TCN\.(\d+)\.shared_block\.", r"blocks.\1.branch.", rest)
    rest = re.sub(r"^TCN\.(\d+)\.res_conv\.", r"blocks.\1.branch.6.", rest)
    return rest.replace(".gamma", ".gain").replace(".beta", ".bias")


def encoder_state_dict(official: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """bench's ``backbones.*`` / ``projections.*`` tensors from an official ``Encoder`` state dict."""
    out: dict[str, torch.Tensor] = {}
    gated: dict[str, dict[str, torch.Tensor]] = {}
    for name, value in official.items():
        if name.startswith(DROPPED):
            continue
        head, _, rest = name.partition(".")
        if head in MODALITY_OF_PROJECTION:
            out[f"projections.{MODALITY_OF_PROJECTION[head]}.{rest}"] = value
        elif head == "audio_encoder":
            out[f"backbones.audio.0.{_tcn_name(rest)}"] = value[:, None] if rest.endswith((".gamma", ".beta")) else value
        elif head == "stgcn":
            renamed = ".".join(_STGCN.get(part, part) for part in rest.split("."))
            match = re.fullmatch(r"(.*)\.conv([123])\.(weight|bias)", renamed)
            if match:
                gated.setdefault(f"{match[1]}.conv.{match[3]}", {})[match[2]] = value
            else:
                out[f"backbones.landmarks.0.{renamed}"] = value
        elif head == "trnn1":
            out[f"backbones.text.encoder.{rest}"] = value
        elif head == "text_linear":
            out[f"backbones.text.linear.{rest}"] = value
        elif head == "video_encoder":
            out[f"backbones.video.0.{rest}"] = value
        else:
            raise KeyError(f"{name}: not a tensor of the official MPUC Encoder")
    for name, parts in gated.items():
        out[f"backbones.landmarks.0.{name}"] = torch.cat([parts["1"], parts["2"], parts["3"]])
    return out


DERIVED = ("backbones.landmarks.0.adjacency", "backbones.text.positions")
"""bench buffers computed from the shapes, never read from a checkpoint."""


def load_encoder(module: nn.Module, modalities: list[str], path: str) -> str:
    """Load an official encoder checkpoint into ``module``'s backbones and projection heads.

    Only the tensors of ``modalities`` are taken (a checkpoint of more modalities fits a run on
    fewer); the classifier stays as initialised. Returns ``sha256:<digest>`` for the record.
    A missing or unreadable file, or one lacking a modality's tensors, is a ConfigError.
    """
    file = Path(path).expanduser()
    if not file.is_file():
        raise ConfigError(f"official_encoder={path!r}: no such file; expected the code's "
                          "encoder/encoder_epoch_top.pth")
    try:
        state = torch.load(file, map_location="cpu", weights_only=True)
    except (RuntimeError, OSError, pickle.UnpicklingError) as error:
        raise ConfigError(f"{file}: not a checkpoint torch can read safely ({error})") from error
    state = state.get("model_state_dict", state) if isinstance(state, Mapping) else state
    try:
        converted = encoder_state_dict(state)
    except (KeyError, AttributeError) as error:
        raise ConfigError(f"{file}: not an official MPUC Encoder state dict ({error})") from error
    wanted = tuple(f"{part}.{m}." for part in ("backbones", "projections") for m in modalities)
    ours = {k: v for k, v in converted.items() if k.startswith(wanted)}
    try:
        missing, _ = module.load_state_dict(ours, strict=False)
    except RuntimeError as error:
        raise ConfigError(f"{file}: its tensors do not fit this configuration ({error})") from error
    lacking = [k for k in missing if k.startswith(wanted) and k not in DERIVED]
    if lacking:
        raise ConfigError(f"{file}: lacks tensors of this run's modalities: {', '.join(lacking[:5])}")
    return "sha256:" + hashlib.sha256(file.read_bytes()).hexdigest()
