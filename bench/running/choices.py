"""What a run chooses beyond its protocol: the regime, the modalities, the budget; and the cell hash.

:func:`choose` is called by the planner once the method's configuration is resolved: it picks
the regime (:mod:`bench.running.regimes`) and the modalities (:mod:`bench.running.modalities`, logged on one
line). :func:`apply_budget` turns ``--budget`` into configuration keys (:mod:`bench.running.budget`).
:func:`cell_hash` is the configuration hash that names a cell's
folder: the configuration and the modalities, plus the regime when it is not the protocol's
own (so every cell run before the regime left the protocol keeps its hash), and for ``--regime
evaluate`` the sha256 of the weights file tested; the numerics when they are not the default.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping, Sequence
from typing import Any

from bench import config as config_mod
from bench import registry
from bench.api import Method
from bench.errors import ConfigError, PluginError
from bench.protocols import Protocol
from bench.running import budget as budget_mod
from bench.running import modalities as modalities_mod
from bench.running import regimes
from bench.running.numerics import Numerics

log = logging.getLogger("bench.running.run")


@dataclasses.dataclass(frozen=True)
class Choices:
    """The regime and modalities of a run."""

    regime: regimes.Chosen
    modalities: modalities_mod.Resolved


def datasets_with(modality: str) -> list[str]:
    """The registered datasets that have ``modality`` (for error messages)."""
    out = []
    for name in registry.datasets.names():
        try:
            if modality in registry.datasets.get(name).modalities:
                out.append(name)
        except PluginError:
            continue
    return out


def choose(protocol: Protocol, method: Method, cfg: Any, requested_regime: str | None, pretrain_on: str | None,
           requested_modalities: Sequence[str] | None) -> Choices:
    """The run's regime and modalities; each refusal is a ConfigError with its one-line reason."""
    method_cls = type(method)
    wanted = None if requested_regime is None else regimes.parse(requested_regime, pretrain_on)
    if wanted is None and pretrain_on is not None:
        raise ConfigError(f"--pretrain-on {pretrain_on}: give the regime it pretrains for (--regime linear_eval "
                          "or --regime finetune)")
    chosen = regimes.choose(protocol, method_cls, wanted)
    resolved = modalities_mod.resolve(protocol.name, protocol.modalities, method_cls, requested_modalities,
                                      modalities_mod.inputs_reason(method, cfg), datasets_with)
    if not chosen.protocol_default:
        log.info("regime: %s", chosen.describe())
    return Choices(chosen, resolved)


def apply_budget(method: Method, cfg: Any, preset: str, overrides: Mapping[str, Any],
                 budget: str | None) -> tuple[Any, dict[str, Any]]:
    """The configuration under ``--budget`` and the overrides that make it (budget keys, then ``--set``)."""
    added = budget_mod.overrides(config_mod.to_dict(cfg), budget_mod.parse(budget), overrides)
    if not added:
        return cfg, dict(overrides)
    method_cls = type(method)
    merged = {**added, **overrides}
    return config_mod.resolve(method_cls.Config, method_cls.presets, preset, merged, method_cls.name), merged


def cell_hash(cfg: Any, modalities: Sequence[str], regime: regimes.Chosen, weights_sha256: str | None = None,
              numerics: Numerics = Numerics()) -> str:
    """The cell's configuration hash (see the module docstring); an evaluated cell's also names its weights file."""
    hashed = regime.hashed()
    if weights_sha256 is not None and hashed is not None:
        hashed = {**hashed, "weights": weights_sha256}
    return config_mod.config_hash(cfg, modalities, hashed, numerics.hashed())
