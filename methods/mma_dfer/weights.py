"""Pretrained weights from local files: MAE-Face, AudioMAE and released MMA-DFER checkpoints.

Nothing is downloaded: the user names the files (``vision_weights``, ``audio_weights``,
``checkpoint``) and the sha256 of each goes into the run record (``weights_provenance``);
an encoder without a file is ``random-init``.

Layouts (official ``models/Generate_Model.py:109-156`` loads the first two, ``main.py:209-215``
writes the third):

* MAE-Face and AudioMAE (MAE ``save_model``): ``{'model': state_dict, ...}`` with the encoder
  keys ``cls_token``, ``pos_embed``, ``patch_embed.proj.*``, ``blocks.N.*``, ``norm.*`` plus
  the pre-training decoder (``decoder_*``) and ``mask_token``, which are dropped. AudioMAE also
  stores ``optimizer``, ``epoch``, ``scaler`` and ``args`` (a pickled ``argparse.Namespace``).
  ``pos_embed`` is resized bicubically (``align_corners=False``, no antialias, as the official
  timm ``resize_pos_embed`` copy) to the encoder's grid — MAE-Face's square 14x14 grid to
  ``(size/16)^2``, AudioMAE's 64 (time) x 8 (frequency) to 32 x 8, keeping the frequency axis —
  and written into the rows of CLS and patches; the prompts' rows keep their random init.
* Released MMA-DFER (``main.py:304-305`` ``save_checkpoint``): ``{'epoch', 'state_dict', 'best_acc',
  'optimizer', 'recorder'}``, ``state_dict`` keys prefixed ``module.`` (DataParallel) and
  named after the official modules; :data:`RENAMES` maps them onto this model's names. The
  unused 12- and 1000-way encoder heads and the MTT's unused ``PreNorm.norm2`` are dropped.

Loading is strict: after the documented drops, every key must match a model key of the same
shape and every model key must be given, else a :class:`~bench.errors.DataError` lists the
missing, unexpected and mis-shaped keys.

Unpickling: every file is read with ``torch.load(weights_only=True)``, which refuses pickled
Python objects other than tensors and containers. The official extras need an allow-list
(``torch.serialization.safe_globals``), which bench passes: ``argparse.Namespace`` (AudioMAE's
``args``), numpy's array reconstruction (inside the recorder) and, for the official
``__main__.RecorderMeter`` (a class of ``main.py`` that cannot be imported), a stand-in that
discards its state. A file whose extras need anything else can only be read with
``weights_only=False``, which runs code from the file: bench does that only with the user's
explicit ``trust_checkpoints=true``.
"""

from __future__ import annotations

import argparse
import pickle
import re
import types
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from timm.layers import resample_abs_pos_embed
from torch import nn

from bench.errors import DataError
from bench.files.io import sha256_file
from bench_methods.mma_dfer.encoder import BACKBONE_PREFIXES, PromptedViT

RANDOM_INIT = "random-init"

#: Official ``state_dict`` names (after ``module.``) → this model's, first match wins.
RENAMES: tuple[tuple[str, str], ...] = (
    (r"^image_encoder\.temporal_pre\.(\d+)\.", r"fusion.\1.g_v.0."),
    (r"^image_encoder\.temporal_pre_norm\.(\d+)\.", r"fusion.\1.g_v.1."),
    (r"^image_encoder\.audio_proj_pre\.(\d+)\.", r"fusion.\1.g_a."),
    (r"^image_encoder\.temporal_att_post\.(\d+)\.", r"fusion.\1.f_v."),
    (r"^audio_model\.temporal_att_post\.(\d+)\.", r"fusion.\1.f_a."),
    (r"^image_encoder\.all_gate\.(\d+)$", r"fusion.\1.gate_v"),
    (r"^audio_model\.all_gate\.(\d+)$", r"fusion.\1.gate_a"),
    (r"^temporal_net\.temporal_transformer\.layers\.(\d+)\.0\.fn\.norm\.", r"temporal_net.layers.\1.attn_norm."),
    (r"^temporal_net\.temporal_transformer\.layers\.(\d+)\.0\.fn\.fn\.to_out\.0\.", r"temporal_net.layers.\1.to_out."),
    (r"^temporal_net\.temporal_transformer\.layers\.(\d+)\.0\.fn\.fn\.", r"temporal_net.layers.\1."),
    (r"^temporal_net\.temporal_transformer\.layers\.(\d+)\.1\.fn\.norm\.", r"temporal_net.layers.\1.ff_norm."),
    (r"^temporal_net\.temporal_transformer\.layers\.(\d+)\.1\.fn\.fn\.net\.0\.", r"temporal_net.layers.\1.ff.0."),
    (r"^temporal_net\.temporal_transformer\.layers\.(\d+)\.1\.fn\.fn\.net\.3\.", r"temporal_net.layers.\1.ff.2."),
)
_UNUSED_OFFICIAL = re.compile(
    r"^(image_encoder|audio_model)\.head\.|^temporal_net\.temporal_transformer\.layers\.\d+\.[01]\.fn\.norm2\.")
_MAE_DROPPED = re.compile(r"^(decoder_|mask_token$)")


class _Discarded:
    """Stands in for the official ``__main__.RecorderMeter`` (training curves): its state is dropped."""

    def __setstate__(self, state: object) -> None:
        """Keep nothing: bench reads only the weights."""


_RECONSTRUCT = np.ndarray(0).__reduce__()[0]  # numpy's array-unpickling helper, under either numpy layout

_ALLOW_LIST: list[Any] = [
    argparse.Namespace,
    np.ndarray,
    np.dtype,
    *(type(np.dtype(kind)) for kind in (np.float32, np.float64, np.float16, np.int64, np.int32, np.uint8, np.bool_)),
    (_RECONSTRUCT, "numpy.core.multiarray._reconstruct"),  # written by numpy 1.x (the official code's era)
    (_RECONSTRUCT, "numpy._core.multiarray._reconstruct"),  # written by numpy 2
    (_Discarded, "__main__.RecorderMeter"),
]


class _StandInUnpickler(pickle.Unpickler):
    """The plain unpickler (``trust_checkpoints``), with the stand-in for ``__main__.RecorderMeter``."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) == ("__main__", "RecorderMeter"):
            return _Discarded
        return super().find_class(module, name)


_TRUSTED_PICKLE = types.SimpleNamespace(  # what torch.load(pickle_module=...) uses of a pickle module
    Unpickler=_StandInUnpickler, load=lambda file, **kw: _StandInUnpickler(file, **kw).load(), __name__="pickle")


def read_checkpoint(path: Path, key: str, trust: bool) -> Any:
    """``torch.load`` a local checkpoint on the CPU, allow-listed (see the module docstring)."""
    where = f"{path} (config key {key!r})"
    if not path.is_file():
        raise DataError(f"{where}: no such file; expected a local PyTorch checkpoint (nothing is downloaded)")
    try:
        with torch.serialization.safe_globals(_ALLOW_LIST):
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        found = re.search(r"GLOBAL (\S+) was not|but got <class '([^']+)'>|unrecognized function (\S+)", str(error))
        if found is None:
            raise DataError(f"{where}: not a readable PyTorch checkpoint (corrupt or another format)") from None
        if not trust:
            culprit = next(g for g in found.groups() if g)
            raise DataError(
                f"{where}: it pickles {culprit}, which is not on bench's allow-list for torch.load(weights_only=True). "
                f"If you trust this file, pass --set trust_checkpoints=true to load it with weights_only=False "
                f"(that runs code stored in the file)") from None
    except (OSError, RuntimeError, EOFError, ValueError) as error:
        raise DataError(f"{where}: not a readable PyTorch checkpoint ({error})") from None
    try:
        return torch.load(path, map_location="cpu", weights_only=False, pickle_module=_TRUSTED_PICKLE)
    except Exception as error:  # an arbitrary pickle can fail in arbitrary ways: report, never crash
        raise DataError(f"{where}: cannot be unpickled even with trust_checkpoints=true ({error})") from None


def state_dict_of(obj: Any, path: Path, entry: str) -> dict[str, torch.Tensor]:
    """``obj[entry]`` as a name → tensor mapping, or a DataError describing what the file holds."""
    held = sorted(map(str, obj)) if isinstance(obj, Mapping) else type(obj).__name__
    if not isinstance(obj, Mapping) or entry not in obj or not isinstance(obj[entry], Mapping):
        raise DataError(f"{path}: expected a checkpoint dict with a {entry!r} state_dict, found {held}")
    state = dict(obj[entry])
    bad = [k for k, v in state.items() if not isinstance(v, torch.Tensor)]
    if bad:
        raise DataError(f"{path}: {entry!r} holds non-tensor entries {_listed(bad)}")
    return state


def _listed(names: list[str], limit: int = 8) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f" … and {len(names) - limit} more" if len(names) > limit else "")


def fit_report(given: Mapping[str, torch.Tensor], expected: Mapping[str, torch.Tensor]) -> str:
    """Missing, unexpected and mis-shaped keys of ``given`` against ``expected``; empty if they fit."""
    missing = sorted(set(expected) - set(given))
    unexpected = sorted(set(given) - set(expected))
    shapes = [f"{k}: file {list(given[k].shape)}, model {list(expected[k].shape)}"
              for k in sorted(set(given) & set(expected)) if given[k].shape != expected[k].shape]
    lines = [f"  {label} ({len(items)}): {_listed(items)}"
             for label, items in (("missing", missing), ("unexpected", unexpected), ("wrong shape", shapes)) if items]
    return "\n".join(lines)


def load_encoder(encoder: PromptedViT, path: Path, key: str, what: str, keep_width: bool, trust: bool) -> str:
    """Load a MAE-layout encoder checkpoint (MAE-Face or AudioMAE) into ``encoder``; return its sha256.

    ``keep_width``: the file's positional grid has the encoder's width (AudioMAE's 8 frequency
    patches) and its height follows from the token count; otherwise the grid is square.
    """
    state = {k: v for k, v in state_dict_of(read_checkpoint(path, key, trust), path, "model").items()
             if not _MAE_DROPPED.match(k)}
    ours = {k: v for k, v in encoder.state_dict().items() if k.startswith(BACKBONE_PREFIXES) or k == "pos_embed"}
    grid = encoder.patch_embed.grid_size
    pos = state.get("pos_embed")
    if pos is not None and pos.dim() == 3 and pos.shape[-1] == encoder.embed_dim:
        state["pos_embed"] = _resized(pos, grid, keep_width, path)
    fitted = {**ours, "pos_embed": ours["pos_embed"][:, :1 + encoder.num_patches]}
    report = fit_report(state, fitted)
    if report:
        raise DataError(f"{path} (config key {key!r}) does not fit the {what} encoder:\n{report}\n"
                        f"expected {{'model': state_dict}} with the ViT keys cls_token, pos_embed, patch_embed.proj.*, "
                        f"blocks.0-{len(encoder.blocks) - 1}.*, norm.* (decoder_* and mask_token are ignored)")
    with torch.no_grad():
        encoder.pos_embed[:, :1 + encoder.num_patches] = state.pop("pos_embed")
    encoder.load_state_dict(state, strict=False)
    return sha256_file(path)


def _resized(pos: torch.Tensor, grid: tuple[int, int], keep_width: bool, path: Path) -> torch.Tensor:
    """``pos`` ``(1, 1 + h*w, D)`` resampled to ``grid`` (bicubic, as the official resize)."""
    tokens = pos.shape[1] - 1
    if keep_width:
        old = (tokens // grid[1], grid[1])
    else:
        side = round(tokens**0.5)
        old = (side, side)
    if old[0] * old[1] != tokens:
        layout = f"a multiple of {grid[1]}" if keep_width else "a square number"
        raise DataError(f"{path}: pos_embed has {tokens} patch positions, expected {layout} (plus one CLS row)")
    return resample_abs_pos_embed(pos, new_size=list(grid), old_size=list(old), num_prefix_tokens=1,
                                  interpolation="bicubic", antialias=False)


def official_to_bench(name: str) -> str | None:
    """This model's name for an official ``state_dict`` key (no ``module.``); None if it is unused."""
    if _UNUSED_OFFICIAL.match(name):
        return None
    for pattern, replacement in RENAMES:
        renamed, count = re.subn(pattern, replacement, name)
        if count:
            return renamed
    return name


def load_released(net: nn.Module, path: Path, trust: bool) -> str:
    """Load a released MMA-DFER checkpoint (every weight, encoders included); return its sha256."""
    load_official_state(net, state_dict_of(read_checkpoint(path, "checkpoint", trust), path, "state_dict"), str(path))
    return sha256_file(path)


def first_misfit(net: nn.Module, official: Mapping[str, torch.Tensor]) -> str | None:
    """The first tensor of an official state_dict, in the file's order, that ``net`` has not (or in
    another shape), else the first model tensor the file lacks, named as the official code names it."""
    expected = net.state_dict()
    given = set()
    for name, tensor in official.items():
        ours = official_to_bench(name.removeprefix("module."))
        if ours is None:
            continue
        given.add(ours)
        if ours not in expected:
            return f"tensor {name} {list(tensor.shape)} has no place in this model"
        if tuple(tensor.shape) != tuple(expected[ours].shape):
            return f"tensor {name} is {list(tensor.shape)}, this model's is {list(expected[ours].shape)}"
    missing = [name for name in expected if name not in given]
    return f"this model's tensor {missing[0]} is not in the file" if missing else None


def load_released_brief(net: nn.Module, path: Path, trust: bool) -> str:
    """:func:`load_released` for ``--regime evaluate``: a misfit is one line naming the first mismatching tensor."""
    official = state_dict_of(read_checkpoint(path, "--weights", trust), path, "state_dict")
    misfit = first_misfit(net, official)
    if misfit is not None:
        raise DataError(f"{path}: not a released MMA-DFER checkpoint of this configuration: {misfit} (released "
                        f"checkpoints fit --preset code with their img_size)")
    load_official_state(net, official, str(path))
    return sha256_file(path)


def load_official_state(net: nn.Module, official: Mapping[str, torch.Tensor], where: str) -> None:
    """Load an official ``GenerateModel`` state_dict (keys with or without ``module.``) into ``net``, strictly."""
    state = {}
    for name, tensor in official.items():
        ours = official_to_bench(name.removeprefix("module."))
        if ours is not None:
            state[ours] = tensor
    report = fit_report(state, net.state_dict())
    if report:
        raise DataError(
            f"{where} (config key 'checkpoint') does not fit this MMA-DFER model:\n{report}\n"
            f"released checkpoints come from the official code: build the same model with --preset code "
            f"(24 fusion gates) and the checkpoint's img_size, fusion, prompt and temporal settings")
    net.load_state_dict(state)
