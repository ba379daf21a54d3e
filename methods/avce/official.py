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
A ``module.`` prefix (``nn.DataParallel``) is dropped.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch

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
