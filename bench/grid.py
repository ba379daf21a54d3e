"""Grid files: methods × protocols × configurations × folds × seeds, expanded into runnable cells.

A grid is a YAML file; every key is checked, and an error names the file and the key::

    name: synthetic_golden        # default: the file's stem; bookkeeping under <out>/grids/<name>/
    description: ...              # free text
    methods: [late_fusion]        # registered method names (bench list methods)
    protocols: [synthetic_5fold]  # protocol names, or .yaml paths relative to the grid file
    folds: [1, 2]                 # fold numbers or names, or "all" (the default)
    seeds: [0, 1]                 # default: each protocol's own seeds
    preset: tiny                  # default: paper
    overrides:                    # one --set dict per configuration (default: [{}]), applied to
      - {epochs: 3}               #   every method
      - {epochs: 3, lr: 0.01}
    modalities: [audio, video]    # default: each protocol's
    profile: default              # the SLURM profile when --profile is not given

:func:`expand` resolves every (method, protocol, configuration) through
:func:`bench.run.make_plan`, so unknown configuration keys, bad values and folds are refused
before anything is submitted, and yields one :class:`Cell` per (fold, seed): a picklable
callable that runs exactly that ``bench run`` cell wherever submitit sends it.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import submitit.helpers

from bench import protocols, registry, run, store
from bench.api import MODALITIES, ResourceHints
from bench.config import read_mapping_file
from bench.errors import BenchError, ConfigError, unknown

_KEYS = ("name", "description", "methods", "protocols", "folds", "seeds", "preset", "overrides", "modalities",
         "profile")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


@dataclasses.dataclass(frozen=True)
class Grid:
    """A validated grid file. ``folds``/``seeds``/``modalities`` of None mean each protocol's own."""

    path: Path
    name: str
    methods: tuple[str, ...]
    protocols: tuple[str, ...]
    folds: tuple[str, ...] | None
    seeds: tuple[int, ...] | None
    preset: str
    overrides: tuple[Mapping[str, Any], ...]
    modalities: tuple[str, ...] | None
    profile: str | None


@dataclasses.dataclass(frozen=True)
class Cell(submitit.helpers.Checkpointable):
    """One (method, protocol, configuration, fold, seed) of a grid, callable where submitit runs it.

    Calling it runs that one ``bench run`` cell: skipped if its record exists, resumed from its
    Lightning checkpoint if an earlier attempt left one. As a submitit ``Checkpointable``, a
    preempted or timed-out job calls :meth:`checkpoint`, which resubmits the cell itself (its
    state is on disk, in that checkpoint), and submitit requeues the job.
    """

    method: str
    protocol: str
    protocol_name: str
    protocol_hash: str
    config_hash: str
    fold: str
    seed: int
    preset: str
    overrides: Mapping[str, Any]
    modalities: tuple[str, ...] | None
    out: Path
    hints: ResourceHints
    regime: str | None = None
    """``--regime`` of the cell (None: the protocol's own); ``bench matrix`` sets it."""

    @property
    def key(self) -> str:
        """The cell's identity, as its record's path below ``<out>/runs``."""
        return f"{self.protocol_name}/{self.method}/{self.config_hash}/{self.fold}-seed{self.seed}"

    @property
    def record_path(self) -> Path:
        return store.record_path(self.out, self.protocol_name, self.method, self.config_hash, self.fold, self.seed)

    def finished(self) -> bool:
        """Whether the store already holds this cell's record (under the same protocol version)."""
        return store.finished(self.record_path, self.protocol_hash) is not None

    def __call__(self) -> dict[str, Any]:
        request = run.RunRequest(method=self.method, protocol=self.protocol, folds=[self.fold], seeds=[self.seed],
                                 preset=self.preset, overrides=dict(self.overrides), modalities=self.modalities,
                                 out=self.out, progress=False, regime=self.regime)
        (result,) = run.execute(run.make_plan(request))
        return {"record": str(result.path), "skipped": result.skipped, "metrics": result.record["metrics"]}


def load(path: Path) -> Grid:
    """Read and validate a grid file."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"grid file {path} does not exist")
    data = read_mapping_file(path, _KEYS)
    for key in ("methods", "protocols"):
        if key not in data:
            raise ConfigError(f"{path}: missing key {key!r} (a list of {key})")
    name = data.get("name", path.stem)
    if not isinstance(name, str) or not _NAME.match(name):
        raise ConfigError(f"{path}: name: expected letters, digits, '_', '.' or '-', got {name!r}")
    methods = _strings(path, "methods", data["methods"])
    for method in methods:
        if method not in registry.methods.names():
            raise ConfigError(f"{path}: methods: " + unknown("method", method, registry.methods.names()))
    return Grid(
        path=path, name=name, methods=methods,
        protocols=tuple(_protocol(path, p) for p in _strings(path, "protocols", data["protocols"])),
        folds=_folds(path, data.get("folds", "all")),
        seeds=_seeds(path, data.get("seeds")),
        preset=_string(path, "preset", data.get("preset", "paper")),
        overrides=_overrides(path, data.get("overrides", [{}])),
        modalities=_modalities(path, data.get("modalities")),
        profile=None if data.get("profile") is None else _string(path, "profile", data["profile"]),
    )


def expand(grid: Grid, out: Path) -> list[Cell]:
    """Every cell of the grid, in file order; the first invalid combination is a BenchError naming it."""
    cells: dict[str, Cell] = {}
    origin: dict[str, int] = {}
    for protocol in grid.protocols:
        for method in grid.methods:
            for number, overrides in enumerate(grid.overrides):
                where = f"{grid.path}: method {method!r} × protocol {Path(protocol).stem!r} × overrides[{number}]"
                try:
                    plan = run.make_plan(run.RunRequest(
                        method=method, protocol=protocol, folds=grid.folds, seeds=grid.seeds, preset=grid.preset,
                        overrides=overrides, modalities=grid.modalities, out=out, progress=False))
                except BenchError as exc:
                    raise type(exc)(f"{where}: {exc}") from exc
                for split in plan.folds:
                    for seed in plan.seeds:
                        cell = Cell(method=method, protocol=protocol, protocol_name=plan.protocol.name,
                                    protocol_hash=plan.protocol.hash, config_hash=plan.config_hash, fold=split.name,
                                    seed=seed, preset=grid.preset, overrides=dict(overrides),
                                    modalities=grid.modalities, out=out, hints=type(plan.method).resources)
                        if cell.key in cells and origin[cell.key] != number:
                            raise ConfigError(f"{where}: gives the same configuration (hash {plan.config_hash}) as "
                                              f"overrides[{origin[cell.key]}]; remove one of them")
                        cells[cell.key] = cell
                        origin[cell.key] = number
    return list(cells.values())


def _string(path: Path, key: str, value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{path}: {key}: expected a non-empty string, got {value!r}")
    return value


def _strings(path: Path, key: str, value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not value or not all(isinstance(v, str) and v for v in value):
        raise ConfigError(f"{path}: {key}: expected a non-empty list of names, got {value!r}")
    return tuple(value)


def _protocol(path: Path, name: str) -> str:
    if name.endswith((".yaml", ".yml")):
        file = Path(name) if Path(name).is_absolute() else path.parent / name
        if not file.is_file():
            raise ConfigError(f"{path}: protocols: protocol file {file} does not exist")
        return str(file.resolve())
    known = protocols.available()
    if name not in known:
        raise ConfigError(f"{path}: protocols: " + unknown("protocol", name, known))
    return name


def _folds(path: Path, value: Any) -> tuple[str, ...] | None:
    if value == "all":
        return None
    if not isinstance(value, list) or not value or not all(
            isinstance(v, (int, str)) and not isinstance(v, bool) for v in value):
        raise ConfigError(f"{path}: folds: expected \"all\" or a non-empty list of fold numbers or names, "
                          f"got {value!r}")
    return tuple(str(v) for v in value)


def _seeds(path: Path, value: Any) -> tuple[int, ...] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not value or not all(isinstance(v, int) and not isinstance(v, bool)
                                                           for v in value):
        raise ConfigError(f"{path}: seeds: expected a non-empty list of integers, got {value!r}")
    return tuple(value)


def _overrides(path: Path, value: Any) -> tuple[Mapping[str, Any], ...]:
    if not isinstance(value, list) or not value:
        raise ConfigError(f"{path}: overrides: expected a non-empty list of key: value mappings, got {value!r}")
    items = [{} if item is None else item for item in value]
    for number, item in enumerate(items):
        if not isinstance(item, dict) or not all(isinstance(k, str) for k in item):
            raise ConfigError(f"{path}: overrides[{number}]: expected a mapping of config keys to values, "
                              f"got {item!r}")
    return tuple(items)


def _modalities(path: Path, value: Any) -> tuple[str, ...] | None:
    if value is None:
        return None
    chosen = _strings(path, "modalities", value)
    for modality in chosen:
        if modality not in MODALITIES:
            raise ConfigError(f"{path}: modalities: " + unknown("modality", modality, MODALITIES))
    return chosen
