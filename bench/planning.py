"""What ``bench run`` was asked for, resolved into a plan, with every check that can fail before work.

:func:`make_plan` resolves the method and its configuration (preset, ``--set``), the protocol,
the dataset (and the pretraining dataset of ``regime.pretrain_on``), the modalities and the
folds, and refuses a mismatch between them — method and task, regime, modalities the dataset
lacks, files missing under the data root — before anything is trained.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from bench import config as config_mod
from bench import protocols, registry, roots, splits
from bench.api import DatasetAdapter, Method, Sample, Split, TaskSpec
from bench.cells import CellKey
from bench.errors import ConfigError, DataError, ProtocolError
from bench.protocols import Protocol


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
    protocol = protocols.load(request.protocol)
    method_cls, cfg = resolve_config(request.method, request.preset, request.overrides)
    method = method_cls()
    modalities = _modalities(protocol, method_cls, request.modalities)
    _check_compatible(protocol, method_cls)
    adapter = roots.open_adapter(protocol.dataset, request.data_root, protocol.dataset_options,
                                 needed_by=f"protocol {protocol.name!r}")
    adapter_cls = type(adapter)
    missing = [m for m in modalities if m not in adapter_cls.modalities]
    if missing:
        raise ProtocolError(f"{protocol.path}: dataset {protocol.dataset!r} has no {', '.join(missing)} modality, "
                            f"which method {method_cls.name!r} was asked to use; {_fitting(method_cls)}")
    task = adapter.task_spec()
    if task.kind != protocol.task:
        raise ProtocolError(f"{protocol.path}: task {protocol.task!r} but dataset {protocol.dataset!r} is {task.kind!r}")
    samples = adapter.samples()
    folds = _select_folds(splits.make_splits(protocol.split, samples, adapter), request.folds)
    _check_sources(protocol, method_cls, modalities, adapter, samples, folds)
    seeds = tuple(request.seeds) if request.seeds else protocol.seeds
    plan = Plan(request, protocol, method, cfg, config_mod.config_hash(cfg, modalities), modalities, adapter, task,
                samples, folds, seeds)
    if protocol.regime.pretrain_on is not None:
        plan.pretrain_adapter, plan.pretrain_samples = _open_pretrain_data(protocol, modalities, request)
    return plan


def _open_pretrain_data(protocol: Protocol, modalities: Sequence[str],
                        request: RunRequest) -> tuple[DatasetAdapter, list[Sample]]:
    """The adapter and samples of ``regime.pretrain_on``; it must have every modality the cell uses."""
    source = protocol.regime.pretrain_on
    assert source is not None
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


def _modalities(protocol: Protocol, method_cls: type[Method], requested: Sequence[str] | None) -> tuple[str, ...]:
    chosen = tuple(requested) if requested else protocol.modalities
    extra = [m for m in chosen if m not in protocol.modalities]
    if extra:
        raise ConfigError(f"--modalities {' '.join(extra)}: protocol {protocol.name!r} uses only "
                          f"{', '.join(protocol.modalities)}")
    unsupported = [m for m in chosen if m not in method_cls.modalities]
    if unsupported:
        raise ConfigError(f"method {method_cls.name!r} cannot use {', '.join(unsupported)}; "
                          f"it supports {', '.join(method_cls.modalities)}")
    if len(chosen) < method_cls.min_modalities:
        raise ConfigError(f"method {method_cls.name!r} needs at least {method_cls.min_modalities} modalities, "
                          f"got {', '.join(chosen)}; {_fitting(method_cls)}")
    return chosen


def _fitting(method_cls: type[Method]) -> str:
    fitting = [name for name, path in protocols.available().items() if _fits(path, method_cls)]
    return f"protocols that fit: {', '.join(fitting) or 'none'}"


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


def _fits(path: Path, method_cls: type[Method]) -> bool:
    try:
        protocol = protocols.load(str(path))
    except ProtocolError:
        return False
    usable = [m for m in protocol.modalities if m in method_cls.modalities]
    return len(usable) >= method_cls.min_modalities and protocol.task in method_cls.tasks


def _check_compatible(protocol: Protocol, method_cls: type[Method]) -> None:
    if protocol.task not in method_cls.tasks:
        raise ConfigError(f"method {method_cls.name!r} handles {', '.join(method_cls.tasks)} tasks, "
                          f"protocol {protocol.name!r} is {protocol.task}")
    needed = [protocol.regime.kind] + (["pretrain"] if protocol.regime.pretrain else [])
    missing = [r for r in needed if r not in method_cls.regimes]
    if missing:
        raise ConfigError(f"method {method_cls.name!r} has no {', '.join(missing)} regime "
                          f"(it has {', '.join(method_cls.regimes)}); protocol {protocol.name!r} needs it")


def _select_folds(folds: list[Split], wanted: Sequence[str] | None) -> list[Split]:
    if not wanted:
        return folds
    by_name = {f.name: f for f in folds}
    chosen = []
    for item in wanted:
        name = f"fold{item}" if str(item).isdigit() else str(item)
        if name not in by_name:
            raise ConfigError(f"--fold {item}: this protocol has folds {', '.join(by_name)}")
        chosen.append(by_name[name])
    return chosen
