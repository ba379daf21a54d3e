"""Protocols as data: YAML files turned into validated :class:`Protocol` objects.

A protocol fixes everything that makes two numbers comparable: the dataset, the task, the
modalities, the split scheme, the model-selection rule and the metrics, and usually the
training regime (the paper protocols do); a protocol without ``regime:`` leaves it open, to
``bench run --regime`` or the method's own (:mod:`bench.regimes`).
Files live in the shipped ``protocols/`` folder and in any folder on ``$BENCH_PROTOCOL_PATH``;
a file may ``include:`` another protocol and override some of its keys (deep merge), as the
resolution variants of one protocol do. Every key is checked on load and an error names the
file and the key. Example::

    name: dfew_5fold
    version: 1
    serves: [mma_dfer:1]
    dataset: dfew
    task: classification
    modalities: [video, audio]
    split: {scheme: official_folds, folds: 5}
    regime: {kind: supervised}
    selection: {rule: last_epoch}
    metrics: [uar, war, weighted_f1]
    primary: uar

``dataset_options`` are keyword options of the dataset adapter (e.g. MAFW's label order,
MELD's dropped clips), part of the protocol hash.

Selection rules: ``last_epoch``; ``best_val`` (needs a validation side, from the dataset or
carved from train by ``split.val``); ``best_test`` only with ``allow_on_test: true`` — such
results carry ``on_test: true`` in their record and are marked in every table.
"""

from __future__ import annotations

import dataclasses
import importlib.resources
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from bench import metrics, splits
from bench.api import MODALITIES, TASK_KINDS
from bench.config import stable_hash
from bench.errors import ProtocolError, did_you_mean, unknown

REGIME_KINDS = ("supervised", "linear_eval", "finetune")
SELECTION_RULES = ("last_epoch", "best_val", "best_test")
_REQUIRED = ("name", "dataset", "task", "modalities", "split", "selection", "metrics", "primary")
_OPTIONAL = ("version", "description", "serves", "seeds", "leaky", "notes", "assumptions", "include",
             "dataset_options", "regime")
_DOC_ONLY = ("description", "notes")
_SERVES = re.compile(r"^[a-z][a-z0-9_]*:[0-9A-Za-z]+$")


@dataclasses.dataclass(frozen=True)
class PretrainData:
    """The unlabelled dataset a pretraining stage reads instead of the protocol's training side.

    ConCluGen pretrains on VoxCeleb2 and evaluates on CMU-MOSEI, MELD and CAER (paper §4.1):
    ``regime.pretrain_on: {dataset: voxceleb2}``. Every sample of that dataset (its root from
    ``--pretrain-data-root`` or ``BENCH_DATA_<NAME>``) is used, without labels; ``options`` are
    its adapter's options, as ``dataset_options`` are the protocol dataset's.
    """

    dataset: str
    options: Mapping[str, Any] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class Regime:
    """How a cell trains: ``supervised``, or ``linear_eval`` / ``finetune`` (after ``pretrain`` when set).

    ``pretrain_on`` names another dataset for the pretraining stage; without it the stage reads
    the fold's training side with its labels hidden.
    """

    kind: str
    pretrain: bool
    pretrain_on: PretrainData | None = None


@dataclasses.dataclass(frozen=True)
class Selection:
    """Which checkpoint is evaluated on test; ``on_test`` marks selection that looked at test labels.

    ``patience`` (best_val / best_test only) stops the last stage after that many epochs
    without a strict improvement of the selection metric (MPUC: patience 100 on validation).
    """

    rule: str
    metric: str
    on_test: bool
    patience: int | None = None


@dataclasses.dataclass(frozen=True)
class Protocol:
    """A validated protocol; ``hash`` covers every key that can change a number."""

    name: str
    version: int
    path: Path
    dataset: str
    dataset_options: Mapping[str, Any]
    task: str
    modalities: tuple[str, ...]
    split: Mapping[str, Any]
    regime: Regime | None
    """None: the protocol leaves the regime open (``--regime`` or the method's own)."""
    selection: Selection
    metrics: tuple[str, ...]
    primary: str
    serves: tuple[str, ...]
    seeds: tuple[int, ...]
    leaky: bool
    description: str
    assumptions: tuple[str, ...]
    hash: str
    raw: Mapping[str, Any]


def search_path() -> list[Path]:
    """Folders searched for protocol files: ``$BENCH_PROTOCOL_PATH`` entries, then the shipped folder."""
    extra = [Path(p).expanduser() for p in os.environ.get("BENCH_PROTOCOL_PATH", "").split(os.pathsep) if p]
    shipped = Path(str(importlib.resources.files("bench_protocols")))
    return [*extra, shipped]


def available() -> dict[str, Path]:
    """Protocol name -> file, over the search path; the same name in two folders is an error."""
    found: dict[str, Path] = {}
    for folder in search_path():
        if not folder.is_dir():
            continue
        for path in sorted(folder.glob("*.yaml")):
            if path.stem in found and found[path.stem].resolve() != path.resolve():
                raise ProtocolError(f"protocol {path.stem!r} is defined twice: {found[path.stem]} and {path}")
            found[path.stem] = path
    return found


def load(name_or_path: str) -> Protocol:
    """Load a protocol by name (from the search path) or from a ``.yaml`` path."""
    candidate = Path(name_or_path)
    if candidate.suffix in (".yaml", ".yml"):
        if not candidate.is_file():
            raise ProtocolError(f"protocol file {candidate} does not exist")
        return _build(candidate, _resolve_includes(candidate, ()))
    known = available()
    if name_or_path not in known:
        raise ProtocolError(unknown("protocol", name_or_path, known))
    return _build(known[name_or_path], _resolve_includes(known[name_or_path], ()))


def _read(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        raise ProtocolError(f"{where}: invalid YAML: {getattr(exc, 'problem', exc)}") from exc
    if not isinstance(data, dict):
        raise ProtocolError(f"{path}: expected a mapping of protocol keys at the top level")
    return data


def _resolve_includes(path: Path, seen: tuple[Path, ...]) -> dict[str, Any]:
    if path.resolve() in seen:
        chain = " -> ".join(str(p) for p in (*seen, path.resolve()))
        raise ProtocolError(f"{path}: include cycle: {chain}")
    data = _read(path)
    parent_name = data.pop("include", None)
    if parent_name is None:
        return data
    if not isinstance(parent_name, str):
        raise ProtocolError(f"{path}: include: expected a protocol name, got {parent_name!r}")
    known = available()
    if parent_name not in known:
        raise ProtocolError(f"{path}: include: " + unknown("protocol", parent_name, known))
    base = _resolve_includes(known[parent_name], (*seen, path.resolve()))
    base.pop("name", None)
    return _deep_merge(base, data)


def _deep_merge(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = _deep_merge(dict(out[key]), value)
        else:
            out[key] = value
    return out


def _build(path: Path, data: dict[str, Any]) -> Protocol:
    where = str(path)
    for key in data:
        if key not in _REQUIRED and key not in _OPTIONAL:
            raise ProtocolError(
                f"{where}: unknown key {key!r}{did_you_mean(key, _REQUIRED + _OPTIONAL)}; "
                f"valid keys: {', '.join(_REQUIRED + _OPTIONAL)}"
            )
    missing = [k for k in _REQUIRED if k not in data]
    if missing:
        raise ProtocolError(f"{where}: missing required key(s): {', '.join(missing)}")
    name = _typed(data, "name", str, where)
    if name != path.stem:
        raise ProtocolError(f"{where}: name {name!r} must equal the file name {path.stem!r}")
    task = _typed(data, "task", str, where)
    if task not in TASK_KINDS:
        raise ProtocolError(f"{where}: task: " + unknown("task kind", task, TASK_KINDS))
    modalities = tuple(_str_list(data, "modalities", where))
    for modality in modalities:
        if modality not in MODALITIES:
            raise ProtocolError(f"{where}: modalities: " + unknown("modality", modality, MODALITIES))
    if not modalities:
        raise ProtocolError(f"{where}: modalities: expected at least one modality")
    split_cfg = _typed(data, "split", dict, where)
    splits.validate_scheme(split_cfg, where)
    regime = _regime(_typed(data, "regime", dict, where), where) if "regime" in data else None
    metric_names = tuple(_str_list(data, "metrics", where))
    valid_metrics = metrics.names(task)
    for metric in metric_names:
        if metric not in valid_metrics:
            raise ProtocolError(f"{where}: metrics: " + unknown(f"{task} metric", metric, valid_metrics))
    primary = _typed(data, "primary", str, where)
    if primary not in metric_names:
        raise ProtocolError(f"{where}: primary: {primary!r} must be one of metrics ({', '.join(metric_names)})")
    selection = _selection(_typed(data, "selection", dict, where), primary, metric_names, split_cfg, where)
    serves = tuple(_str_list(data, "serves", where, default=[]))
    for item in serves:
        if not _SERVES.match(item):
            raise ProtocolError(f"{where}: serves: {item!r} is not of the form paper:table (e.g. mma_dfer:1)")
    seeds = data.get("seeds", [0])
    if not (isinstance(seeds, list) and seeds and all(isinstance(s, int) and not isinstance(s, bool) for s in seeds)):
        raise ProtocolError(f"{where}: seeds: expected a non-empty list of integers, got {seeds!r}")
    version = data.get("version", 1)
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ProtocolError(f"{where}: version: expected a positive integer, got {version!r}")
    leaky = data.get("leaky", False)
    if not isinstance(leaky, bool):
        raise ProtocolError(f"{where}: leaky: expected true or false, got {leaky!r}")
    hashed = {k: v for k, v in data.items() if k not in _DOC_ONLY}
    return Protocol(
        name=name, version=version, path=path, dataset=_typed(data, "dataset", str, where),
        dataset_options=_typed({"dataset_options": data.get("dataset_options", {})}, "dataset_options", dict, where),
        task=task,
        modalities=modalities, split=split_cfg, regime=regime, selection=selection, metrics=metric_names,
        primary=primary, serves=serves, seeds=tuple(seeds), leaky=leaky,
        description=str(data.get("description", "")).strip(),
        assumptions=tuple(_str_list(data, "assumptions", where, default=[])),
        hash=stable_hash(hashed)[:12], raw=data,
    )


def _regime(cfg: dict[str, Any], where: str) -> Regime:
    _known_keys(cfg, ("kind", "pretrain", "pretrain_on"), "regime", where)
    kind = cfg.get("kind")
    if kind not in REGIME_KINDS:
        raise ProtocolError(f"{where}: regime.kind: " + unknown("regime", str(kind), REGIME_KINDS))
    pretrain = cfg.get("pretrain", kind != "supervised")
    if not isinstance(pretrain, bool):
        raise ProtocolError(f"{where}: regime.pretrain: expected true or false, got {pretrain!r}")
    if kind == "supervised" and pretrain:
        raise ProtocolError(f"{where}: regime.pretrain: a supervised regime has no pretraining stage")
    return Regime(kind=kind, pretrain=pretrain, pretrain_on=_pretrain_on(cfg.get("pretrain_on"), pretrain, where))


def _pretrain_on(cfg: Any, pretrain: bool, where: str) -> PretrainData | None:
    if cfg is None:
        return None
    if not pretrain:
        raise ProtocolError(f"{where}: regime.pretrain_on: needs regime.pretrain: true (there is no pretraining stage)")
    if not isinstance(cfg, dict):
        raise ProtocolError(f"{where}: regime.pretrain_on: expected a mapping like {{dataset: voxceleb2}}, got {cfg!r}")
    _known_keys(cfg, ("dataset", "dataset_options"), "regime.pretrain_on", where)
    dataset = cfg.get("dataset")
    if not isinstance(dataset, str) or not dataset:
        raise ProtocolError(f"{where}: regime.pretrain_on.dataset: expected a dataset name, got {dataset!r}")
    options = cfg.get("dataset_options", {})
    if not isinstance(options, dict):
        raise ProtocolError(f"{where}: regime.pretrain_on.dataset_options: expected a mapping, got {options!r}")
    return PretrainData(dataset=dataset, options=options)


def _selection(cfg: dict[str, Any], primary: str, metric_names: tuple[str, ...], split_cfg: Mapping[str, Any],
               where: str) -> Selection:
    _known_keys(cfg, ("rule", "metric", "allow_on_test", "patience"), "selection", where)
    rule = cfg.get("rule")
    if rule not in SELECTION_RULES:
        raise ProtocolError(f"{where}: selection.rule: " + unknown("selection rule", str(rule), SELECTION_RULES))
    metric = cfg.get("metric", primary)
    if metric not in metric_names:
        raise ProtocolError(f"{where}: selection.metric: {metric!r} must be one of metrics ({', '.join(metric_names)})")
    allow = cfg.get("allow_on_test", False)
    if rule == "best_test" and allow is not True:
        raise ProtocolError(
            f"{where}: selection.rule: best_test selects the checkpoint on the test split; "
            "set selection.allow_on_test: true to allow it (results are then marked on_test)"
        )
    if rule == "best_val" and split_cfg.get("scheme") != "official" and "val" not in split_cfg:
        raise ProtocolError(
            f"{where}: selection.rule: best_val needs a validation side: add split.val "
            "(e.g. {fraction: 0.1, by: subject}) or use a scheme with an official validation split"
        )
    patience = cfg.get("patience")
    if patience is not None:
        if not isinstance(patience, int) or isinstance(patience, bool) or patience < 1:
            raise ProtocolError(f"{where}: selection.patience: expected a positive integer, got {patience!r}")
        if rule == "last_epoch":
            raise ProtocolError(f"{where}: selection.patience: early stopping needs a monitored split; "
                                "use rule best_val")
    return Selection(rule=rule, metric=metric, on_test=rule == "best_test", patience=patience)


def _known_keys(cfg: Mapping[str, Any], allowed: tuple[str, ...], section: str, where: str) -> None:
    for key in cfg:
        if key not in allowed:
            raise ProtocolError(f"{where}: {section}.{key}: unknown key{did_you_mean(key, allowed)}; "
                                f"valid: {', '.join(allowed)}")


def _typed(data: Mapping[str, Any], key: str, kind: type, where: str) -> Any:
    value = data[key]
    if not isinstance(value, kind):
        raise ProtocolError(f"{where}: {key}: expected {kind.__name__}, got {value!r}")
    return value


def _str_list(data: Mapping[str, Any], key: str, where: str, default: list[str] | None = None) -> list[str]:
    value = data.get(key, default)
    if value is None or not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ProtocolError(f"{where}: {key}: expected a list of strings, got {value!r}")
    return value
