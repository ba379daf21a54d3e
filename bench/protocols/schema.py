"""Protocols as data: YAML files turned into validated :class:`Protocol` objects.

A protocol fixes everything that makes two numbers comparable: the dataset, the task, the
modalities, the split scheme, the model-selection rule and the metrics, and usually the
training regime (the paper protocols do); a protocol without ``regime:`` leaves it open, to
``bench run --regime`` or the method's own (:mod:`bench.running.regimes`).
Files live in the shipped ``protocols/`` folder and in any folder on ``$BENCH_PROTOCOL_PATH``;
a file may ``include:`` another protocol and override some of its keys (deep merge), as the
resolution variants of one protocol do. Every key is checked on load (a typed model, read by
:mod:`bench.files.loader`) and an error names the file, the line and the key. Example::

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
from typing import Annotated, Any

from pydantic import PlainValidator, model_validator

from bench import metrics
from bench.api import MODALITIES, TASK_KINDS
from bench.config import stable_hash
from bench.errors import ProtocolError, unknown
from bench.files import loader
from bench.protocols import splitspec

REGIME_KINDS = ("supervised", "linear_eval", "finetune")
SELECTION_RULES = ("last_epoch", "best_val", "best_test")
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
    split_where: str = ""
    """``FILE:LINE`` of the ``split:`` mapping, which starts the messages of the folds drawn from it."""


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
        return _build(_resolve_includes(candidate, ()))
    known = available()
    if name_or_path not in known:
        raise ProtocolError(unknown("protocol", name_or_path, known))
    return _build(_resolve_includes(known[name_or_path], ()))


def _resolve_includes(path: Path, seen: tuple[Path, ...]) -> loader.Document:
    if path.resolve() in seen:
        chain = " -> ".join(str(p) for p in (*seen, path.resolve()))
        raise ProtocolError(f"{path}: include cycle: {chain}")
    doc = loader.read(path, ProtocolError)
    if not isinstance(doc.data, dict):
        raise ProtocolError(f"{doc.where()}: expected a mapping of protocol keys at the top level")
    data = dict(doc.data)
    parent_name = data.pop("include", None)
    doc = loader.Document(doc.path, data, doc.lines)
    if parent_name is None:
        return doc
    if not isinstance(parent_name, str):
        raise ProtocolError(f"{doc.where(('include',))}: include: expected a protocol name, got {parent_name!r}")
    known = available()
    if parent_name not in known:
        raise ProtocolError(f"{doc.where(('include',))}: include: " + unknown("protocol", parent_name, known))
    base = _resolve_includes(known[parent_name], (*seen, path.resolve()))
    base_data = dict(base.data)
    base_data.pop("name", None)
    return doc.merged_over(loader.Document(base.path, base_data, base.lines))


# ------------------------------------------------------------------------------------- the schema


def _serves(value: Any) -> str:
    if not isinstance(value, str) or not _SERVES.match(value):
        raise loader.fail(f"{value!r} is not of the form paper:table (e.g. mma_dfer:1)")
    return value


def _seeds(value: Any) -> tuple[int, ...]:
    if not (isinstance(value, list) and value and all(isinstance(s, int) and not isinstance(s, bool) for s in value)):
        raise loader.fail(f"expected a non-empty list of integers, got {value!r}")
    return tuple(value)


def _strings(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise loader.fail(f"expected a list of strings, got {value!r}")
    return tuple(value)


def _split(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise loader.fail(f"expected a mapping with a 'scheme' key, got {value!r}")
    return value


_Strings = Annotated[tuple[str, ...], PlainValidator(_strings)]


def _dataset_name(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise loader.fail(f"expected a dataset name, got {value!r}")
    return value


class _PretrainOn(loader.Model):
    dataset: Annotated[str, PlainValidator(_dataset_name)]
    dataset_options: loader.Options = {}

    @model_validator(mode="before")
    @classmethod
    def _mapping(cls, value: Any) -> Any:
        if not isinstance(value, dict):
            raise loader.fail(f"expected a mapping like {{dataset: voxceleb2}}, got {value!r}")
        return value


class _Regime(loader.Model):
    kind: loader.choice("regime", REGIME_KINDS)  # type: ignore[valid-type]
    pretrain: loader.Flag | None = None
    pretrain_on: _PretrainOn | None = None

    @model_validator(mode="after")
    def _stages(self) -> _Regime:
        if self.kind == "supervised" and self.pretrain:
            raise loader.fail("a supervised regime has no pretraining stage", ("pretrain",))
        if self.pretrain_on is not None and not self.pretraining:
            raise loader.fail("needs regime.pretrain: true (there is no pretraining stage)", ("pretrain_on",))
        return self

    @property
    def pretraining(self) -> bool:
        return self.kind != "supervised" if self.pretrain is None else self.pretrain


class _Selection(loader.Model):
    rule: loader.choice("selection rule", SELECTION_RULES)  # type: ignore[valid-type]
    metric: str | None = None
    allow_on_test: loader.Flag = False
    patience: loader.integer(1, optional=True) = None  # type: ignore[valid-type]


class _ProtocolFile(loader.Model):
    """The keys of a protocol file (after ``include:`` is resolved)."""

    name: loader.Text
    include: str | None = None  # resolved (and removed) before validation; listed among the valid keys
    version: loader.integer(1, what="a positive integer") = 1  # type: ignore[valid-type]
    description: Any = ""
    notes: Any = None
    serves: list[Annotated[str, PlainValidator(_serves)]] = []
    seeds: Annotated[tuple[int, ...], PlainValidator(_seeds)] = (0,)
    leaky: loader.Flag = False
    assumptions: _Strings = ()
    dataset: loader.Text
    dataset_options: loader.Options = {}
    task: loader.choice("task kind", TASK_KINDS)  # type: ignore[valid-type]
    modalities: list[loader.choice("modality", MODALITIES)]  # type: ignore[valid-type]
    split: Annotated[dict[str, Any], PlainValidator(_split)]
    regime: _Regime | None = None
    selection: _Selection
    metrics: _Strings
    primary: str

    @model_validator(mode="after")
    def _consistent(self) -> _ProtocolFile:
        if not self.modalities:
            raise loader.fail("expected at least one modality", ("modalities",))
        valid_metrics = metrics.names(self.task)
        for i, metric in enumerate(self.metrics):
            if metric not in valid_metrics:
                raise loader.fail(unknown(f"{self.task} metric", metric, valid_metrics), ("metrics", i))
        listed = f"must be one of metrics ({', '.join(self.metrics)})"
        if self.primary not in self.metrics:
            raise loader.fail(f"{self.primary!r} {listed}", ("primary",))
        chosen = self.selection
        if chosen.metric is not None and chosen.metric not in self.metrics:
            raise loader.fail(f"{chosen.metric!r} {listed}", ("selection", "metric"))
        if chosen.rule == "best_test" and chosen.allow_on_test is not True:
            raise loader.fail("best_test selects the checkpoint on the test split; set selection.allow_on_test: "
                              "true to allow it (results are then marked on_test)", ("selection", "rule"))
        if chosen.rule == "best_val" and self.split.get("scheme") != "official" and "val" not in self.split \
                and not self.split.get("val_share"):
            raise loader.fail("best_val needs a validation side: add split.val (e.g. {fraction: 0.1, by: subject}) "
                              "or use a scheme with an official validation split", ("selection", "rule"))
        if chosen.patience is not None and chosen.rule == "last_epoch":
            raise loader.fail("early stopping needs a monitored split; use rule best_val", ("selection", "patience"))
        return self


def _build(doc: loader.Document) -> Protocol:
    path, data = doc.path, doc.data
    model = loader.validate(doc, _ProtocolFile, ProtocolError)
    if model.name != path.stem:
        raise ProtocolError(f"{doc.where(('name',))}: name {model.name!r} must equal the file name {path.stem!r}")
    splitspec.validate_scheme(model.split, doc.where(("split",)))
    regime, chosen = model.regime, model.selection
    own = None
    if regime is not None:
        pretrain_on = None if regime.pretrain_on is None else PretrainData(regime.pretrain_on.dataset,
                                                                            regime.pretrain_on.dataset_options)
        own = Regime(kind=regime.kind, pretrain=regime.pretraining, pretrain_on=pretrain_on)
    hashed = {k: v for k, v in data.items() if k not in _DOC_ONLY}
    return Protocol(
        name=model.name, version=model.version, path=path, dataset=model.dataset,
        dataset_options=model.dataset_options, task=model.task, modalities=tuple(model.modalities), split=model.split,
        regime=own,
        selection=Selection(rule=chosen.rule, metric=chosen.metric or model.primary,
                            on_test=chosen.rule == "best_test", patience=chosen.patience),
        metrics=model.metrics, primary=model.primary, serves=tuple(model.serves), seeds=model.seeds, leaky=model.leaky,
        description=str(model.description).strip(), assumptions=model.assumptions,
        hash=stable_hash(hashed)[:12], raw=data, split_where=doc.where(("split",)),
    )
