"""What ``bench run`` was asked for, resolved into a plan, with every check that can fail before work.

:func:`make_plan` resolves the method and its configuration (preset, ``--set``), the protocol,
the dataset (and the pretraining dataset of ``regime.pretrain_on``), the modalities and the
folds, and refuses a mismatch between them — method and task, regime, modalities the dataset
lacks, files missing under the data root — before anything is trained.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from bench import config as config_mod
from bench import protocols, registry
from bench.api import DatasetAdapter, Method, Sample, Split, TaskSpec
from bench.errors import ConfigError, DataError, ProtocolError
from bench.files import roots
from bench.protocols import Protocol, splits
from bench.records.cells import CellKey
from bench.running import choices, completeness, kept_weights, provenance, regimes, values
from bench.running import modalities as modalities_mod
from bench.running.numerics import Numerics

log = logging.getLogger("bench.running.run")


@dataclasses.dataclass(frozen=True)
class RunRequest:
    """Everything ``bench run`` was asked for."""

    method: str
    protocol: str
    folds: Sequence[str] | None = None
    seeds: Sequence[int] | None = None
    preset: str = "paper"
    overrides: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    modalities: Sequence[str] | None = None
    data_root: Path | None = None
    pretrain_data_root: Path | None = None
    out: Path = Path("results")
    progress: bool = True
    cache_root: Path | None = None
    allow_incomplete: bool = False
    """Run on a copy that lacks samples of the complete dataset (recorded in ``data.incomplete``)."""
    rerun_changed: bool = False
    """Rerun a finished cell whose record was made from other data (else the run refuses)."""
    regime: str | None = None
    """``--regime``: None for the protocol's own (or the method's, on a protocol that leaves it open)."""
    pretrain_on: str | None = None
    budget: str | None = None
    """``--budget``: paper (None), short or a number of epochs (:mod:`bench.running.budget`)."""
    precision: str = "32"
    """``--precision`` (:mod:`bench.running.numerics`)."""
    fast: bool = False
    """``--fast``: TF32 on, deterministic kernels off."""
    weights: Path | None = None
    """``--weights FILE`` of ``--regime evaluate``: the weights tested (:mod:`bench.running.kept_weights`)."""
    keep_weights: bool = True
    """Write each finished cell's selected weights beside its record (``--no-keep-weights``: not)."""


@dataclasses.dataclass
class Plan:
    """A resolved request: the objects every cell of it shares."""

    request: RunRequest
    protocol: Protocol
    method: Method
    cfg: Any
    config_hash: str
    modalities: tuple[str, ...]
    adapter: DatasetAdapter
    task: TaskSpec
    samples: list[Sample]
    folds: list[Split]
    seeds: tuple[int, ...]
    pretrain_adapter: DatasetAdapter | None = None
    """The dataset of ``regime.pretrain_on``, when the protocol pretrains on another one."""
    pretrain_samples: list[Sample] = dataclasses.field(default_factory=list)
    data_fingerprint: str = ""
    """:func:`bench.running.provenance.files_fingerprint` of every file of ``samples``: what the data is now."""
    incomplete: dict[str, Any] | None = None
    """What the copy lacks against the complete dataset, when run with ``allow_incomplete``."""
    regime: regimes.Chosen | None = None
    """How the cells train (:mod:`bench.running.regimes`); set by :func:`make_plan`."""
    overrides: dict[str, Any] = dataclasses.field(default_factory=dict)
    numerics: Numerics = Numerics()
    """The cells' precision and kernels (``--precision``, ``--fast``)."""
    """The overrides that make ``cfg``: the budget's keys, then ``--set``."""
    weights: kept_weights.WeightsFile | None = None
    """The weights file a ``--regime evaluate`` plan tests (None: the cells train)."""

    @property
    def evaluates(self) -> bool:
        """True when the cells test ``weights`` and train nothing."""
        return self.weights is not None

    @property
    def training(self) -> protocols.Regime:
        """The regime the cells train under."""
        assert self.regime is not None
        return self.regime.regime

    def cell_key(self, fold: str, seed: int) -> CellKey:
        """The key of one (fold, seed) cell of this plan."""
        return CellKey(self.method.name, self.protocol.name, self.protocol.hash, self.request.preset, self.config_hash,
                       fold, seed)


def resolve_config(method: str, preset: str, overrides: Mapping[str, Any]) -> tuple[type[Method], Any]:
    """The method's class and the configuration its preset and overrides resolve to.

    Raises :class:`~bench.errors.PluginError` when the method is not installed and
    :class:`~bench.errors.ConfigError` for an override the method does not have.
    """
    method_cls = registry.methods.get(method)
    return method_cls, config_mod.resolve(method_cls.Config, method_cls.presets, preset, overrides, method_cls.name)


def make_plan(request: RunRequest) -> Plan:
    """Resolve method, configuration, protocol, dataset and folds; fail early on any mismatch."""
    numerics = Numerics(request.precision, request.fast)
    protocol = protocols.load(request.protocol)
    method_cls, cfg = resolve_config(request.method, request.preset, request.overrides)
    method = method_cls()
    request = dataclasses.replace(request, preset=config_mod.preset_name(method_cls.presets, request.preset,
                                                                          method_cls.name))
    values.check_run(cfg, method_cls.name, protocol, request.seeds, request.out, request.cache_root)
    _check_compatible(protocol, method_cls)
    if (request.regime == regimes.EVALUATE) != (request.weights is not None):
        raise ConfigError("--weights FILE goes with --regime evaluate, and --regime evaluate needs --weights FILE")
    chosen = choices.choose(protocol, method, cfg, request.regime, request.pretrain_on, request.modalities)
    _check_patience(protocol, method, cfg, chosen.regime.regime)
    modalities = chosen.modalities.modalities
    wanted_folds = values.check_folds(protocol, request.folds)
    seeds = values.unique_seeds(request.seeds) or protocol.seeds
    cfg, overrides = choices.apply_budget(method, cfg, request.preset, request.overrides, request.budget)
    values.check_config(cfg, method_cls.name)  # the budget's epochs too
    if request.pretrain_data_root is not None and chosen.regime.regime.pretrain_on is None:
        raise ConfigError(f"--pretrain-data-root {request.pretrain_data_root}: protocol {protocol.name!r} "
                          "pretrains on no other dataset (regime.pretrain_on), so it would be unused")
    adapter = roots.open_adapter(protocol.dataset, request.data_root, protocol.dataset_options,
                                 needed_by=f"protocol {protocol.name!r}")
    adapter_cls = type(adapter)
    missing = [m for m in modalities if m not in adapter_cls.modalities]
    if missing:
        raise ProtocolError(f"{protocol.path}: dataset {protocol.dataset!r} has no {', '.join(missing)} modality, "
                            f"which method {method_cls.name!r} was asked to use; {_fitting(method_cls)}")
    _say_once(chosen.modalities.line(protocol.name, protocol.modalities, method_cls.name, method_cls.modalities))
    task = adapter.task_spec()
    if task.kind != protocol.task:
        raise ProtocolError(f"{protocol.path}: task {protocol.task!r} but dataset {protocol.dataset!r} is {task.kind!r}")
    weights = None if request.weights is None else kept_weights.resolve(
        request.weights, method, kept_weights.identity(method_cls.name, request.preset, cfg, modalities, task))
    samples = adapter.samples()
    folds = _select_folds(splits.make_splits(protocol.split, samples, adapter, protocol.split_where), wanted_folds)
    _check_sources(protocol, method_cls, modalities, adapter, samples, folds)
    incomplete = completeness.check(protocol, adapter, samples, folds, request.allow_incomplete)
    cell_hash = choices.cell_hash(cfg, modalities, chosen.regime, weights.sha256 if weights else None, numerics)
    plan = Plan(request, protocol, method, cfg, cell_hash, modalities, adapter, task, samples, folds, seeds,
                regime=chosen.regime, overrides=overrides, incomplete=incomplete, weights=weights, numerics=numerics,
                data_fingerprint=provenance.files_fingerprint(
                    [src for s in samples for src in s.sources.values() if isinstance(src, Path)], adapter.root))
    if plan.training.pretrain_on is not None:
        plan.pretrain_adapter, plan.pretrain_samples = _open_pretrain_data(protocol, plan.training.pretrain_on,
                                                                           modalities, request)
    return plan


def _open_pretrain_data(protocol: Protocol, source: protocols.PretrainData, modalities: Sequence[str],
                        request: RunRequest) -> tuple[DatasetAdapter, list[Sample]]:
    """The adapter and samples of ``regime.pretrain_on``; it must have every modality the cell uses."""
    adapter = roots.open_adapter(source.dataset, request.pretrain_data_root, source.options,
                                 needed_by=f"the pretraining stage of protocol {protocol.name!r}",
                                 flag="--pretrain-data-root")
    missing = [m for m in modalities if m not in type(adapter).modalities]
    if missing:
        raise ProtocolError(f"{protocol.path}: regime.pretrain_on: dataset {source.dataset!r} has no "
                            f"{', '.join(missing)} modality (the cell uses {', '.join(modalities)})")
    samples = adapter.samples()
    if not samples:
        raise DataError(f"{adapter.root}: the pretraining dataset {source.dataset!r} has no samples")
    for modality in modalities:
        lacking = [s.id for s in samples if modality not in s.sources]
        if lacking:
            raise DataError(f"{adapter.root}: {len(lacking)} of {len(samples)} samples of the pretraining dataset "
                            f"{source.dataset!r} have no {modality} (first: {lacking[0]}); it expects:\n"
                            f"{type(adapter).layout}")
    return adapter, samples


def _fitting(method_cls: type[Method]) -> str:
    return f"protocols that fit: {', '.join(modalities_mod.fitting(method_cls)) or 'none'}"


def _check_sources(protocol: Protocol, method_cls: type[Method], modalities: Sequence[str], adapter: DatasetAdapter,
                   samples: Sequence[Sample], folds: Sequence[Split]) -> None:
    """One message when the data root lacks files of a modality the method needs (before any work)."""
    used = {i for split in folds for side in (split.train, split.val, split.test) for i in side}
    chosen = [s for s in samples if s.id in used]
    lacking = {m: sum(m not in s.sources for s in chosen) for m in modalities}
    lacking = {m: n for m, n in lacking.items() if n}
    if not lacking:
        return
    present = sorted({m for s in chosen for m in s.sources} & set(method_cls.modalities))
    counts = ", ".join(f"{m} ({n} of {len(chosen)} samples have none)" for m, n in lacking.items())
    raise DataError(f"method {method_cls.name!r} needs {counts} but the {protocol.dataset} data at {adapter.root} "
                    f"lacks them; present: {', '.join(present) or 'none'} (choose with --modalities). "
                    f"{_fitting(method_cls)}. The {protocol.dataset} layout:\n{type(adapter).layout}")


def _check_compatible(protocol: Protocol, method_cls: type[Method]) -> None:
    if protocol.task not in method_cls.tasks:
        raise ConfigError(f"method {method_cls.name!r} handles {', '.join(method_cls.tasks)} tasks, "
                          f"protocol {protocol.name!r} is {protocol.task}")


def _check_patience(protocol: Protocol, method: Method, cfg: Any, regime: protocols.Regime) -> None:
    """A method's own early-stopping patience (``Stage.patience``) needs a protocol that monitors a split."""
    stages = method.stages(cfg, regime.kind, regime.pretrain)
    patience = stages[-1].patience if stages else None
    if patience is not None and protocol.selection.rule == "last_epoch":
        raise ConfigError(f"method {method.name!r}: its configuration stops early after {patience} epochs without "
                          f"improvement, but {protocol.path} selects the last epoch (selection.rule: last_epoch); "
                          "early stopping needs best_val or best_test")


def _select_folds(folds: list[Split], wanted: Sequence[str] | None) -> list[Split]:
    """The folds named (already checked and each once: :func:`bench.running.values.check_folds`)."""
    if not wanted:
        return folds
    by_name = {f.name: f for f in folds}
    missing = [name for name in wanted if name not in by_name]
    if missing:  # a split that made other folds than its scheme promises
        raise ConfigError(f"--fold {missing[0]}: this protocol has folds {', '.join(by_name)}")
    return [by_name[name] for name in wanted]


_SAID: set[str] = set()
"""Lines already logged by this process: a matrix or grid plans the same pair more than once."""


def _say_once(line: str) -> None:
    if line not in _SAID:
        _SAID.add(line)
        log.info("%s", line)
