"""Which modalities a run uses: asked for with ``--modalities``, or resolved from both sides.

Without ``--modalities`` a run uses the protocol's modalities that the method reads (in the
protocol's order). When the method cannot build the inputs of one of them under its
configuration (MPUC's text without a local GloVe file), ``bench run`` stops with the method's
reason and the ``--modalities`` that would leave it out; ``bench matrix`` (``drop=True``) leaves
it out and names it with the reason. The result is logged on one line and recorded. An empty intersection is an
error naming both sides; fewer than the method's ``min_modalities`` (two for a contrastive
pair) is an error naming the minimum and the protocols that fit. With ``--modalities`` every
named modality must be the protocol's and the method's; an input the dataset cannot give
(no transcript for text) is an error naming the datasets that have it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

from bench.api import Method
from bench.errors import BenchError, ConfigError


@dataclasses.dataclass(frozen=True)
class Resolved:
    """The modalities a run uses, how they were chosen, and what was left out and why."""

    modalities: tuple[str, ...]
    requested: bool
    dropped: tuple[tuple[str, str], ...] = ()

    def line(self, protocol: str, protocol_modalities: Sequence[str], method: str,
             method_modalities: Sequence[str]) -> str:
        """The one log line: what is used, from which sides; each dropped modality with its reason."""
        if self.requested:
            return f"modalities: {', '.join(self.modalities)} (--modalities)"
        text = (f"modalities: {', '.join(self.modalities)} (protocol {protocol}: {', '.join(protocol_modalities)}; "
                f"method {method}: {', '.join(method_modalities)})")
        return text + "".join(f"; without {m}: {why}" for m, why in self.dropped)


def resolve(protocol_name: str, protocol_modalities: Sequence[str], method_cls: type[Method],
            requested: Sequence[str] | None, buildable: Callable[[Sequence[str]], str | None],
            datasets_with: Callable[[str], list[str]], drop: bool = False) -> Resolved:
    """The modalities of one run (see the module docstring).

    ``buildable(modalities)`` returns None when the method can build inputs for exactly those
    modalities, else its reason (one line); ``datasets_with(modality)`` names the registered
    datasets that have a modality; ``drop`` leaves out what the method cannot build instead
    of stopping.
    """
    method = method_cls.name
    if requested:
        chosen = tuple(dict.fromkeys(requested))
        extra = [m for m in chosen if m not in protocol_modalities]
        if extra:
            have = "; ".join(f"{m}: {', '.join(datasets_with(m)) or 'none'}" for m in extra)
            raise ConfigError(f"--modalities {' '.join(extra)}: protocol {protocol_name!r} uses only "
                              f"{', '.join(protocol_modalities)} (datasets with {have})")
        unsupported = [m for m in chosen if m not in method_cls.modalities]
        if unsupported:
            raise ConfigError(f"method {method!r} cannot use {', '.join(unsupported)}; "
                              f"it supports {', '.join(method_cls.modalities)}")
        _check_minimum(method_cls, chosen, protocol_name)
        return Resolved(chosen, requested=True)
    shared = tuple(m for m in protocol_modalities if m in method_cls.modalities)
    if not shared:
        raise ConfigError(f"method {method!r} reads {', '.join(method_cls.modalities)}, protocol {protocol_name!r} "
                          f"has {', '.join(protocol_modalities)}: no modality in common")
    chosen, dropped = _buildable(shared, buildable)
    if dropped and not drop:
        raise ConfigError(f"{dropped[0][1]} (or leave {', '.join(m for m, _ in dropped)} out: "
                          f"--modalities {' '.join(chosen)})")
    _check_minimum(method_cls, chosen, protocol_name, dropped)
    return Resolved(chosen, requested=False, dropped=dropped)


def _buildable(shared: tuple[str, ...], buildable: Callable[[Sequence[str]], str | None]
               ) -> tuple[tuple[str, ...], tuple[tuple[str, str], ...]]:
    """Drop, one at a time, each modality without which the method's inputs build (and say why)."""
    chosen = shared
    dropped: list[tuple[str, str]] = []
    reason = buildable(chosen)
    while reason is not None and len(chosen) > 1:
        culprit = next((m for m in chosen if buildable([x for x in chosen if x != m]) is None), None)
        if culprit is None:
            break
        dropped.append((culprit, reason))
        chosen = tuple(m for m in chosen if m != culprit)
        reason = buildable(chosen)
    if reason is not None:
        raise ConfigError(reason)
    return chosen, tuple(dropped)


def _check_minimum(method_cls: type[Method], chosen: Sequence[str], protocol_name: str,
                   dropped: Sequence[tuple[str, str]] = ()) -> None:
    if len(chosen) >= method_cls.min_modalities:
        return
    why = "".join(f"; {m} left out: {reason}" for m, reason in dropped)
    raise ConfigError(f"method {method_cls.name!r} needs at least {method_cls.min_modalities} modalities, got "
                      f"{', '.join(chosen) or 'none'} under protocol {protocol_name!r}{why}; "
                      f"protocols that fit: {', '.join(fitting(method_cls)) or 'none'}")


def fitting(method_cls: type[Method]) -> list[str]:
    """The protocols whose task the method handles and that give it at least its minimum of modalities."""
    from bench import protocols

    out = []
    for name, path in protocols.available().items():
        try:
            protocol = protocols.load(str(path))
        except BenchError:
            continue
        usable = [m for m in protocol.modalities if m in method_cls.modalities]
        if len(usable) >= method_cls.min_modalities and protocol.task in method_cls.tasks:
            out.append(name)
    return out


def inputs_reason(method: Method, cfg: Any) -> Callable[[Sequence[str]], str | None]:
    """``buildable`` for :func:`resolve`: the method's ``inputs()`` ConfigError as a reason, or None."""
    def buildable(modalities: Sequence[str]) -> str | None:
        try:
            method.inputs(cfg, list(modalities))
        except ConfigError as exc:
            return str(exc).splitlines()[0]
        return None

    return buildable
