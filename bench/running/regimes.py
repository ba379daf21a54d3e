"""How a cell trains, chosen apart from the protocol: ``bench run --regime R [--pretrain-on DATASET]``.

A protocol is a dataset, a split, a selection rule and metrics; the regime says how a method
trains on it: ``supervised`` (one labelled fit), ``linear_eval`` or ``finetune`` (each after a
label-free ``pretrain`` stage), optionally pretraining on another dataset (``pretrain_on``).
Where it comes from, in order:

1. ``--regime`` (``supervised``, ``linear_eval``, ``finetune``; the last two pretrain first; or
   ``evaluate``: no training at all, the weights of ``--weights FILE`` are tested,
   :mod:`bench.running.kept_weights`);
2. the protocol's ``regime:`` when it fixes one (the paper protocols do: their cells keep
   their hashes);
3. the method's own, when the protocol leaves it open (no ``regime:`` key): ``linear_eval``
   after pretraining for a method that has both (MPUC, ConCluGen), else ``supervised``.

A regime other than the protocol's own (a ``--regime`` that differs from it, or the method's
on an open protocol) is part of the cell's hash and of its record; the protocol's own regime
adds nothing, so cells run before the regime left the protocol keep their hashes.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from bench.api import Method
from bench.errors import ConfigError, unknown
from bench.protocols import PretrainData, Protocol, Regime

CHOICES = ("supervised", "linear_eval", "finetune", "evaluate")
EVALUATE = "evaluate"


@dataclasses.dataclass(frozen=True)
class Chosen:
    """A cell's regime and where it came from: ``protocol``, ``--regime`` or ``method``."""

    regime: Regime
    source: str
    protocol_default: bool
    """True when it is the protocol's own regime (it then adds nothing to the cell's hash)."""

    def hashed(self) -> dict[str, Any] | None:
        """What enters the cell's hash: None for the protocol's own regime, else the regime."""
        return None if self.protocol_default else as_dict(self.regime)

    def describe(self) -> str:
        """One line: ``pretrain → linear_eval (pretrain on voxceleb2), from the method``."""
        text = f"pretrain → {self.regime.kind}" if self.regime.pretrain else self.regime.kind
        if self.regime.pretrain_on is not None:
            text += f" (pretrain on {self.regime.pretrain_on.dataset})"
        return f"{text}, from {'--regime' if self.source == '--regime' else 'the ' + self.source}"


def as_dict(regime: Regime) -> dict[str, Any]:
    """The regime as its record stores it."""
    return dataclasses.asdict(regime)


def parse(kind: str, pretrain_on: str | None = None, options: Mapping[str, Any] | None = None) -> Regime:
    """``--regime KIND [--pretrain-on DATASET]`` as a :class:`Regime`."""
    if kind not in CHOICES:
        raise ConfigError("--regime: " + unknown("regime", kind, CHOICES))
    pretrain = kind not in ("supervised", EVALUATE)
    if pretrain_on is not None and not pretrain:
        raise ConfigError(f"--pretrain-on {pretrain_on}: a {kind} regime has no pretraining stage")
    source = None if pretrain_on is None else PretrainData(pretrain_on, dict(options or {}))
    return Regime(kind=kind, pretrain=pretrain, pretrain_on=source)


def method_default(method_cls: type[Method]) -> Regime:
    """The method's own regime: pretrain → linear_eval when it has both stages, else supervised."""
    if "pretrain" in method_cls.regimes and "linear_eval" in method_cls.regimes:
        return Regime(kind="linear_eval", pretrain=True)
    if "supervised" in method_cls.regimes:
        return Regime(kind="supervised", pretrain=False)
    raise ConfigError(f"method {method_cls.name!r} has no regime bench can run by default "
                      f"(it has {', '.join(method_cls.regimes)}); choose one with --regime")


def missing_stages(regime: Regime, method_cls: type[Method]) -> list[str]:
    """The stages of ``regime`` the method lacks (empty: it can train this way; ``evaluate`` trains nothing)."""
    if regime.kind == EVALUATE:
        return []
    needed = [regime.kind] + (["pretrain"] if regime.pretrain else [])
    return [r for r in needed if r not in method_cls.regimes]


def choose(protocol: Protocol, method_cls: type[Method], requested: Regime | None) -> Chosen:
    """The regime of one run (see the module docstring); a regime the method lacks is a ConfigError."""
    own = protocol.regime
    if requested is not None:
        chosen = Chosen(requested, "protocol", True) if requested == own else Chosen(requested, "--regime", False)
    elif own is not None:
        chosen = Chosen(own, "protocol", True)
    else:
        chosen = Chosen(method_default(method_cls), "method", False)
    missing = missing_stages(chosen.regime, method_cls)
    if missing:
        hint = ""
        if chosen.source == "protocol":
            try:
                hint = f"; run it with --regime {method_default(method_cls).kind}"
            except ConfigError:
                hint = ""
        raise ConfigError(f"method {method_cls.name!r} has no {', '.join(missing)} regime (it has "
                          f"{', '.join(method_cls.regimes)}); protocol {protocol.name!r} trains "
                          f"{Chosen(chosen.regime, chosen.source, True).describe()}{hint}")
    return chosen
