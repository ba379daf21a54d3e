"""A cell's identity (:class:`CellKey`) and its run record (:class:`RunRecord`), typed.

A cell is one (method, protocol, configuration, fold, seed); its key names its place in the
store (:func:`bench.records.store.record_path`) and its checkpoint. The record is the JSON file written
there when the cell finishes (``results/README.md`` lists its keys): :meth:`RunRecord.from_dict`
reads every record of schema version :data:`SCHEMA_VERSION`, :meth:`RunRecord.to_dict` gives it
back key for key. :func:`run_command` is the one builder of the ``bench run`` command line that
(re)computes cells. This module imports no method plugin and no torch: ``bench table`` reads
records through it.
"""

from __future__ import annotations

import dataclasses
import shlex
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from bench.errors import DataError

SCHEMA_VERSION = 1


@dataclasses.dataclass(frozen=True)
class CellKey:
    """What makes two runs the same cell: a finished record under this key is not recomputed."""

    method: str
    protocol: str
    """The protocol's name."""
    protocol_hash: str
    """The hash of the protocol's content: a changed protocol invalidates its records."""
    preset: str
    config_hash: str
    """:func:`bench.config.config_hash` of the resolved configuration and the modalities."""
    fold: str
    seed: int
    # The regime enters config_hash when it is not the protocol's own (bench.running.choices). Further parts
    # of the identity (the data's fingerprint) go here, each with a default, and into
    # checkpoint_identity() when they must invalidate a checkpoint.

    def name(self) -> str:
        """The record's path below ``<root>/runs``, without suffix: unique per cell."""
        return f"{self.protocol}/{self.method}/{self.config_hash}/{self.fold}-seed{self.seed}"

    def checkpoint_identity(self) -> dict[str, Any]:
        """What a checkpoint must name to be resumed by this cell."""
        return {"protocol_hash": self.protocol_hash, "config_hash": self.config_hash, "fold": self.fold,
                "seed": self.seed}


@dataclasses.dataclass(frozen=True)
class ProtocolRef:
    """The protocol a record ran under."""

    name: str
    hash: str
    version: int | None = None
    serves: tuple[str, ...] = ()
    leaky: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "version": self.version, "hash": self.hash, "serves": list(self.serves),
                "leaky": self.leaky}


@dataclasses.dataclass(frozen=True)
class Selection:
    """How the evaluated checkpoint was chosen."""

    on_test: bool
    rule: str = ""
    metric: str | None = None
    epoch: int | None = None
    """The chosen epoch of the last stage, 0-based."""
    patience: int | None = None
    epochs_trained: Mapping[str, int] = dataclasses.field(default_factory=dict)
    """Per stage, the epochs trained (fewer than configured when the patience stopped it)."""

    def to_dict(self) -> dict[str, Any]:
        return {"rule": self.rule, "metric": self.metric, "epoch": self.epoch, "on_test": self.on_test,
                "patience": self.patience, "epochs_trained": dict(self.epochs_trained)}


@dataclasses.dataclass(frozen=True)
class RunRecord:
    """One finished cell: its identity, what it measured, and what it needs to be trusted and redone.

    The nested parts that only people read (``data``, ``weights``, ``timings``, ``environment``,
    ``code``, ...) stay mappings; ``results/README.md`` lists their keys. Keys this version
    does not know are kept in ``extra`` and written back by :meth:`to_dict`.
    """

    method: str
    protocol: ProtocolRef
    fold: str
    seed: int
    preset: str
    config_hash: str
    selection: Selection
    metrics: Mapping[str, float]
    config: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    modalities: tuple[str, ...] = ()
    overrides: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    budget: str | None = None
    """``--budget`` (paper, short or a number of epochs); None in records written before it existed."""
    task: str | None = None
    """The task kind (classification, multilabel, regression); None in older records."""
    regime: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    regime_source: str | None = None
    """Where the regime came from (protocol, method, --regime); None in older records."""
    numerics: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    """``{"precision": "32"|"bf16-mixed"|"16-mixed", "fast": bool}``; empty in older records (float32,
    deterministic: see :func:`numerics_of`)."""
    data: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    weights: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    primary: str | None = None
    per_class: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    confusion: Sequence[Sequence[int]] = ()
    label_names: tuple[str, ...] = ()
    history: Sequence[Mapping[str, Any]] = ()
    timings: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    environment: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    code: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    command: str = ""
    started: str = ""
    finished: str = ""
    predictions: str | None = None
    """The predictions file's name, beside the record (set by :func:`bench.records.store.write`)."""
    trained_weights: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    """The kept weights beside the record (``file``, ``sha256``, ``bytes``, ``tensors``), or
    ``{"kept": false, "why": ...}``; empty in older records and in evaluated cells."""
    evaluated: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    """Regime ``evaluate``: the weights tested (``weights``, ``sha256``, ``kind`` bench|released,
    ``from_record``); empty for a trained cell."""
    integrity: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    """``{predictions_sha256, record_sha256}`` (:mod:`bench.records.integrity`); empty in records written
    before it existed."""
    schema_version: int = SCHEMA_VERSION
    extra: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def key(self) -> CellKey:
        return CellKey(self.method, self.protocol.name, self.protocol.hash, self.preset, self.config_hash, self.fold,
                       self.seed)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], where: str = "record") -> RunRecord:
        """A record read from JSON; another schema version, a missing identity key or an identity or metric
        value of the wrong type is a DataError."""
        if data.get("schema_version") != SCHEMA_VERSION:
            raise DataError(f"{where}: not a bench run record of schema version {SCHEMA_VERSION}")
        missing = [k for k in _REQUIRED if k not in data]
        missing += [f"{part}.{k}" for part, keys in (("protocol", ("name", "hash")), ("selection", ("on_test",)))
                    if isinstance(data.get(part), Mapping) for k in keys if k not in data[part]]
        if missing:
            raise DataError(f"{where}: run record without {', '.join(missing)}")
        _check_types(data, where)
        protocol, selection = data["protocol"], data["selection"]
        values = {name: data[name] for name in _PLAIN if name in data}
        values.update(
            protocol=ProtocolRef(protocol["name"], protocol["hash"], protocol.get("version"),
                                 tuple(protocol.get("serves", ())), bool(protocol.get("leaky", False))),
            selection=Selection(bool(selection["on_test"]), selection.get("rule", ""), selection.get("metric"),
                                selection.get("epoch"), selection.get("patience"),
                                dict(selection.get("epochs_trained", {}))),
            modalities=tuple(data.get("modalities", ())), label_names=tuple(data.get("label_names", ())),
            extra={k: v for k, v in data.items() if k not in _KNOWN},
        )
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        """The record as written to JSON (the optional keys only when set)."""
        out: dict[str, Any] = {"schema_version": self.schema_version}
        for name in _ORDER:
            value = getattr(self, name)
            if (name in _OPTIONAL and value is None) or (name in _EMPTY_LEFT_OUT and not value):
                continue
            if isinstance(value, (ProtocolRef, Selection)):
                value = value.to_dict()
            elif isinstance(value, tuple):
                value = list(value)
            out[name] = value
        out.update(self.extra)
        return out


_ORDER = ("method", "protocol", "fold", "seed", "preset", "overrides", "budget", "task", "config", "config_hash",
          "modalities", "regime", "regime_source", "numerics", "data", "weights", "selection", "metrics", "primary", "per_class", "confusion", "label_names", "history",
          "timings", "environment", "code", "command", "started", "finished", "predictions", "trained_weights",
          "evaluated", "integrity")
_KNOWN = frozenset(_ORDER) | {"schema_version"}
_OPTIONAL = frozenset({"budget", "task", "regime_source", "predictions"})  # left out of to_dict() when None
# left out of to_dict() when empty (records written before them)
_EMPTY_LEFT_OUT = frozenset({"numerics", "trained_weights", "evaluated", "integrity"})
DEFAULT_NUMERICS = {"precision": "32", "fast": False}
"""What a record without ``numerics`` computed with: float32, deterministic kernels."""


def numerics_of(record: Mapping[str, Any]) -> dict[str, Any]:
    """A record's numerics, the default for records written before the field existed."""
    return {**DEFAULT_NUMERICS, **(record.get("numerics") or {})}
_REQUIRED = ("method", "protocol", "fold", "seed", "preset", "config_hash", "selection", "metrics")
_PLAIN = tuple(n for n in _ORDER if n not in ("protocol", "selection", "modalities", "label_names"))
_TEXT = ("method", "fold", "preset", "config_hash")


def _check_types(data: Mapping[str, Any], where: str) -> None:
    """A DataError naming the first identity or metric key whose value has the wrong type."""
    for name in _TEXT:
        if not isinstance(data[name], str) or not data[name]:
            raise DataError(f"{where}: run record's {name} is {data[name]!r}, expected a non-empty string")
    if isinstance(data["seed"], bool) or not isinstance(data["seed"], int):
        raise DataError(f"{where}: run record's seed is {data['seed']!r}, expected an integer")
    for part in ("protocol", "selection"):
        if not isinstance(data[part], Mapping):
            raise DataError(f"{where}: run record's {part} is {data[part]!r}, expected a mapping")
    metrics = data["metrics"]
    if not isinstance(metrics, Mapping):
        raise DataError(f"{where}: run record's metrics is {metrics!r}, expected a mapping of name to number")
    for name, value in metrics.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise DataError(f"{where}: run record's metrics.{name} is {value!r}, expected a number")


def run_command(method: str, protocol: str, *, folds: Sequence[str | int] = (), seeds: Sequence[int] = (),
                preset: str | None = None, overrides: Mapping[str, Any] | None = None, regime: str | None = None,
                pretrain_on: str | None = None, modalities: Sequence[str] = (), data_root: Path | None = None,
                pretrain_data_root: Path | None = None, allow_incomplete: bool = False,
                precision: str | None = None, fast: bool = False, out: Path | None = None,
                weights: Path | None = None) -> str:
    """The ``bench run`` command line that computes the given cells (an empty or None part is left out)."""
    parts = ["bench", "run", "--method", method, "--protocol", protocol]
    for fold in folds:
        parts += ["--fold", str(fold)]
    for seed in seeds:
        parts += ["--seed", str(seed)]
    if preset is not None:
        parts += ["--preset", preset]
    for key, value in (overrides or {}).items():
        parts += ["--set", f"{key}={_yaml_scalar(value)}"]
    if regime is not None:
        parts += ["--regime", regime]
    if pretrain_on is not None:
        parts += ["--pretrain-on", pretrain_on]
    if weights is not None:
        parts += ["--weights", str(weights)]
    if modalities:
        parts += ["--modalities", *modalities]
    if data_root:
        parts += ["--data-root", str(data_root)]
    if pretrain_data_root:
        parts += ["--pretrain-data-root", str(pretrain_data_root)]
    if allow_incomplete:
        parts.append("--allow-incomplete")
    if precision is not None:
        parts += ["--precision", precision]
    if fast:
        parts.append("--fast")
    if out is not None:
        parts += ["--out", str(out)]
    return shlex.join(parts)


def _yaml_scalar(value: Any) -> str:
    """``value`` as ``--set`` parses it back (one line of YAML flow style)."""
    return yaml.safe_dump(value, default_flow_style=True).strip().removesuffix("\n...").strip()
