"""Which method runs under which protocol, and how — or the one-line reason it cannot.

Decided from the plugins and the protocol alone (no data is read): the method's tasks, its
configuration under the preset, the regime (:mod:`bench.running.regimes`; where the protocol fixes
a regime the method lacks, the matrix trains the method its own way and says so) and the
modalities (:mod:`bench.running.modalities`: both sides' intersection, less what the method cannot
build, at least its minimum).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from bench import config as config_mod
from bench import registry
from bench.errors import BenchError
from bench.protocols import Protocol, Regime
from bench.running import modalities as modalities_mod
from bench.running import regimes


@dataclasses.dataclass(frozen=True)
class Pair:
    """One method × protocol: ``reason`` None when it runs, with the regime and modalities it uses."""

    method: str
    protocol: str
    reason: str | None = None
    regime: Regime | None = None
    """The regime to ask for (``--regime``) when it is not the protocol's own; None: the protocol's."""
    regime_text: str = ""
    modalities: tuple[str, ...] = ()
    dropped: tuple[tuple[str, str], ...] = ()
    """Modalities both sides have that the method cannot build here, with its reason (asked for explicitly)."""

    @property
    def runs(self) -> bool:
        return self.reason is None


def check(method: str, protocol: Protocol, preset: str, overrides: Mapping[str, Any],
          requested_regime: Regime | None = None) -> Pair:
    """How ``method`` runs under ``protocol`` with ``preset`` and ``overrides``, or why it cannot."""
    name = protocol.name
    try:
        method_cls = registry.methods.get(method)
        if protocol.task not in method_cls.tasks:
            return Pair(method, name, f"{method} handles {', '.join(method_cls.tasks)} tasks; "
                                      f"{name} is {protocol.task}")
        if preset not in method_cls.presets:
            return Pair(method, name, f"{method} has no preset {preset!r} ({', '.join(method_cls.presets)})")
        preset = config_mod.preset_name(method_cls.presets, preset, method_cls.name)  # an alias: the preset it names
        cfg = config_mod.resolve(method_cls.Config, method_cls.presets, preset, overrides, method_cls.name)
        requested = requested_regime
        if requested is None and protocol.regime is not None and regimes.missing_stages(protocol.regime, method_cls):
            requested = regimes.method_default(method_cls)  # the protocol's regime does not fit: the method's own
        chosen = regimes.choose(protocol, method_cls, requested)
        resolved = modalities_mod.resolve(name, protocol.modalities, method_cls, None,
                                          modalities_mod.inputs_reason(method_cls(), cfg), lambda m: [],
                                          drop=True)
    except BenchError as exc:
        return Pair(method, name, str(exc).splitlines()[0])
    if chosen.protocol_default:
        source = "the protocol's"
    else:
        source = "--regime" if requested is requested_regime else "the method's"
    return Pair(method, name, None, None if chosen.protocol_default else chosen.regime,
                f"{chosen.describe().split(', from')[0]} ({source})", resolved.modalities, resolved.dropped)
