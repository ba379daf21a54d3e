"""The official AVCE state-dict layout (``kdhht2334/AVCE_FER`` ``models.py``) in bench's names.

The code saves E and R as two plain state dicts (``Enc_<it>_<epoch>.t7``, ``Reg_<it>_<epoch>.t7``,
``main.py`` L229-233; the released ``pretrained_weights/resnet18/{encoder,regressor}.t7``); H
(``SPRegressor_light``) and H1 (``Variational_regressor``) are never saved. :func:`net_state_dict`
maps them onto :class:`~bench_methods.avce.networks.AVCENet` built without ``head_batchnorm``:

* E: ``Encoder_Alex``'s ``features.<i>.*`` (torchvision's AlexNet ``features``) -> ``encoder.<i>.*``;
  ``Encoder_R18``'s ``conv1 … layer4`` have bench's names already (``encoder.*``);
* ``Regressor_Alex``: ``lin0`` -> ``compressor.3`` (C), ``lin1`` / ``va_regressor`` ->
  ``regressor.1`` / ``regressor.3`` (R); ``Regressor_R18``: ``last_linear`` -> ``compressor.2``,
  ``lin0`` -> ``compressor.4``, R as AlexNet;
* H: ``lin1`` / ``lin2`` -> ``head.0`` / ``head.2``; H1: ``lin1`` / ``lin2`` -> ``metric_head.0`` /
  ``metric_head.2``.

The released ``pretrained_weights/alexnet/regressor.t7`` belongs to the demo's
``Regressor_light_new`` (it has ``lin2`` and ``pw_conv``), not to ``Regressor_Alex``: a KeyError.
A ``module.`` prefix (``nn.DataParallel``) is dropped. :func:`load_released` reads such a
pair of files for the config key ``official_weights``.
"""

from __future__ import annotations

import hashlib
import pickle
from collections.abc import Mapping
from pathlib import Path

import torch
from torch import nn

from bench.errors import ConfigError

_REGRESSOR = {
    "alexnet": {"lin0": "compressor.3", "lin1": "regressor.1", "va_regressor": "regressor.3"},
    "resnet18": {"last_linear": "compressor.2", "lin0": "compressor.4", "lin1": "regressor.1",
                 "va_regressor": "regressor.3"},
}
_HEADS = {"lin1": "0", "lin2": "2"}


def _renamed(state: Mapping[str, torch.Tensor], table: Mapping[str, str], prefix: str, what: str) -> dict[str, torch.Tensor]:
    out = {}
    for name, value in state.items():
        layer, _, leaf = name.removeprefix("module.").partition(".")
        if layer not in table:
            raise KeyError(f"{name}: not a tensor of the official {what} (expected {', '.join(sorted(table))})")
        out[f"{prefix}{table[layer]}.{leaf}"] = value
    return out


def net_state_dict(backbone: str, encoder: Mapping[str, torch.Tensor], regressor: Mapping[str, torch.Tensor],
                   head: Mapping[str, torch.Tensor] | None = None,
                   metric_head: Mapping[str, torch.Tensor] | None = None) -> dict[str, torch.Tensor]:
    """bench's ``AVCENet`` tensors from the code's E, R (and, where kept, H and H1) state dicts."""
    strip = ("module.", "features.") if backbone == "alexnet" else ("module.",)
    out = {}
    for name, value in encoder.items():
        for prefix in strip:
            name = name.removeprefix(prefix)
        out[f"encoder.{name}"] = value
    out.update(_renamed(regressor, _REGRESSOR[backbone], "", f"{backbone} regressor"))
    if head is not None:
        out.update(_renamed(head, _HEADS, "head.", "SPRegressor_light"))
    if metric_head is not None:
        out.update(_renamed(metric_head, _HEADS, "metric_head.", "Variational_regressor"))
    return out


def load_released(net: nn.Module, backbone: str, folder: str) -> dict[str, str]:
    """Load ``folder``/``encoder.t7`` and ``regressor.t7`` (the code's E and R) into ``net``'s E, C, R.

    Returns the weights' provenance for the record; H and H1 stay as initialised. A missing or
    unreadable file, or tensors that do not fit (another backbone, ``head_batchnorm``, a width
    other than the code's), is a ConfigError naming the file.
    """
    root = Path(folder).expanduser()
    states, digests = {}, []
    for part in ("encoder", "regressor"):
        path = root / f"{part}.t7"
        if not path.is_file():
            raise ConfigError(f"official_weights={folder!r}: no {path.name} there; expected the code's "
                              "encoder.t7 and regressor.t7 (e.g. AVCE_FER pretrained_weights/resnet18/)")
        try:
            states[part] = torch.load(path, map_location="cpu", weights_only=True)
        except (RuntimeError, OSError, pickle.UnpicklingError) as error:
            raise ConfigError(f"{path}: not a state dict torch can read safely ({error})") from error
        digests.append(f"{path.name} sha256:{hashlib.sha256(path.read_bytes()).hexdigest()}")
    try:
        converted = net_state_dict(backbone, states["encoder"], states["regressor"])
        missing, unexpected = net.load_state_dict(converted, strict=False)
    except (KeyError, RuntimeError) as error:
        raise ConfigError(f"official_weights={folder!r}: the files do not fit the {backbone} network ({error})") from error
    left = [k for k in [*missing, *unexpected] if not k.startswith(("head.", "metric_head."))]
    if left:
        raise ConfigError(f"official_weights={folder!r}: tensors the files and the {backbone} network do not share: "
                          f"{', '.join(left[:5])}")
    return {"E, C, R": f"{root}: {', '.join(digests)}", "H, H1": "random-init"}
