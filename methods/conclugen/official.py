"""Reading a state_dict of the official ``ConCluModel`` / ``SimCLRClassificationModel``
(``tub-cv-group/conclugen``) into :class:`~bench_methods.conclugen.module.ConCluGenModule`.

The official names (``contrastive_clustering_model.py`` L250-282) → bench's:

=====================================================================  ===============================
``_representation_heads.heads.<modality>.*``                           ``representation.<m>.*``
``_pretraining_heads.projection_head.{0,1,3}.*``                       ``projection.shared.{0,1,3}.*``
``_pretraining_heads.cluster_classification_head.weight``              ``cluster_head.weight``
``_pretraining_heads.reconstruction_heads.<modality>.{0,2}.*``         ``reconstruction.<m>.{0,2}.*``
``_classifier.linear_layers.0.1.*`` (index 0 is the Dropout)           ``classifier.linear.*``
=====================================================================  ===============================

with ``<modality>`` ``frames_2d_3d`` / ``frames_3d`` / ``frames_2d`` → ``video``,
``audio_spectrograms`` → ``audio``, ``texts`` → ``text``. Only the code's one shared projection
head has official weights (``projection_head='shared'``).
"""

from __future__ import annotations

import re
from pathlib import Path

import torch
from torch import nn

from bench.errors import DataError

MODALITIES = {"frames_2d_3d": "video", "frames_3d": "video", "frames_2d": "video", "audio_spectrograms": "audio",
              "texts": "text"}
_RULES = (
    (re.compile(r"^_representation_heads\.heads\.(\w+?)\.(.+)$"), "representation.{m}.{rest}"),
    (re.compile(r"^_pretraining_heads\.projection_head\.(.+)$"), "projection.shared.{rest}"),
    (re.compile(r"^_pretraining_heads\.cluster_classification_head\.(.+)$"), "cluster_head.{rest}"),
    (re.compile(r"^_pretraining_heads\.reconstruction_heads\.(\w+?)\.(.+)$"), "reconstruction.{m}.{rest}"),
    (re.compile(r"^_classifier\.linear_layers\.0\.1\.(.+)$"), "classifier.linear.{rest}"),
)


def to_bench(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The official keys renamed to bench's; a key no rule knows is a DataError naming it."""
    out: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        for pattern, target in _RULES:
            match = pattern.match(key)
            if match is None:
                continue
            groups = match.groups()
            if len(groups) == 2:
                if groups[0] not in MODALITIES:
                    raise DataError(f"official checkpoint key {key!r}: unknown modality {groups[0]!r} "
                                    f"(one of {', '.join(MODALITIES)})")
                out[target.format(m=MODALITIES[groups[0]], rest=groups[1])] = value
            else:
                out[target.format(rest=groups[0])] = value
            break
        else:
            raise DataError(f"official checkpoint key {key!r} is not one of ConCluModel's heads "
                            "(_representation_heads, _pretraining_heads, _classifier)")
    return out


def load(module: nn.Module, path: str) -> list[str]:
    """Load an official checkpoint (a PL ``.ckpt`` or a bare state_dict) into ``module``'s heads;
    every tensor of the file must land on a parameter or buffer of the same shape (the code loads
    with ``strict=False``, so heads the file lacks keep their initialisation). Returns the bench
    keys the file did not cover."""
    try:
        state = torch.load(Path(path).expanduser(), map_location="cpu", weights_only=True)
    except Exception as error:  # an unreadable file is the user's input error, named
        raise DataError(f"{path}: cannot read the official ConCluGen checkpoint ({type(error).__name__}: "
                        f"{str(error).splitlines()[0] if str(error) else ''})") from None
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise DataError(f"{path}: an official checkpoint must hold a state_dict (a mapping of names to tensors)")
    converted = {k: v for k, v in to_bench(state).items()}
    own = module.state_dict()
    unknown = sorted(k for k in converted if k not in own)
    shaped = sorted(k for k in converted if k in own and tuple(own[k].shape) != tuple(converted[k].shape))
    if unknown or shaped:
        raise DataError(f"{path}: official checkpoint does not fit this configuration: keys without a place: "
                        f"{', '.join(unknown[:8]) or 'none'}; shape mismatches: {', '.join(shaped[:8]) or 'none'}")
    module.load_state_dict(converted, strict=False)
    return sorted(set(own) - set(converted))
