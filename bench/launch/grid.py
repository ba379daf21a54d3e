"""Grid files: methods × protocols × configurations × folds × seeds, expanded into runnable cells.

A grid is a YAML file; every key is checked (a typed model read by :mod:`bench.files.loader`), and an
error names the file, the line and the key::

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
    precision: bf16-mixed         # 32 (default), bf16-mixed or 16-mixed: bench run --precision
    fast: true                    # default false: bench run --fast

:func:`expand` resolves every (method, protocol, configuration) through
:func:`bench.running.planning.make_plan`, so unknown configuration keys, bad values and folds are refused
before anything is submitted, and yields one :class:`Cell` per (fold, seed): a picklable
callable that runs exactly that ``bench run`` cell wherever submitit sends it. ``bench status``
rebuilds the cells from the list ``bench grid`` stored (:mod:`bench.launch.cell_list`) instead.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

import submitit.helpers
from pydantic import PlainValidator, field_validator

from bench import protocols, registry
from bench.api import MODALITIES, ResourceHints
from bench.errors import BenchError, ConfigError, unknown
from bench.files import loader
from bench.records import store
from bench.records.cells import CellKey
from bench.reporting import verify
from bench.running.numerics import PRECISIONS

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
    precision: str = "32"
    """``--precision`` of every cell (:mod:`bench.running.numerics`)."""
    fast: bool = False
    """``--fast`` of every cell."""
    document: loader.Document | None = dataclasses.field(default=None, compare=False, repr=False)
    """The parsed file, for the lines of later messages (None for a grid built in code)."""


@dataclasses.dataclass(frozen=True)
class Cell(submitit.helpers.Checkpointable):
    """One (method, protocol, configuration, fold, seed) of a grid, callable where submitit runs it.

    Calling it runs that one ``bench run`` cell: skipped if its record exists, resumed from its
    Lightning checkpoint if an earlier attempt left one. As a submitit ``Checkpointable``, a
    preempted or timed-out job calls :meth:`checkpoint`, which resubmits the cell itself (its
    state is on disk, in that checkpoint), and submitit requeues the job.
    """

    id: CellKey
    protocol: str
    """The protocol as the grid names it (a name, or a .yaml path), for ``bench run``."""
    overrides: Mapping[str, Any]
    modalities: tuple[str, ...] | None
    out: Path
    hints: ResourceHints
    regime: str | None = None
    """``--regime`` of the cell (None: the protocol's own); ``bench matrix`` sets it."""
    budget: str | None = None
    """``--budget`` of the cell, recorded as such (its epoch keys are already in ``overrides``)."""
    precision: str = "32"
    """``--precision`` of the cell (:mod:`bench.running.numerics`)."""
    fast: bool = False
    """``--fast`` of the cell."""

    @property
    def key(self) -> str:
        """The cell's identity, as its record's path below ``<out>/runs``."""
        return self.id.name()

    @property
    def record_path(self) -> Path:
        return store.key_path(self.out, self.id)

    def finished(self) -> bool:
        """Whether the store already holds this cell's record (under the same protocol version), proving itself."""
        return verify.finished(self.record_path, self.id.protocol_hash) is not None

    def __call__(self) -> dict[str, Any]:
        # imported here, by the cell that runs: bench.running.run imports torch and Lightning; bench status must not
        from bench.running import run

        request = run.RunRequest(method=self.id.method, protocol=self.protocol, folds=[self.id.fold],
                                 seeds=[self.id.seed], preset=self.id.preset, overrides=dict(self.overrides),
                                 modalities=self.modalities, out=self.out, progress=False, regime=self.regime,
                                 budget=self.budget, precision=self.precision, fast=self.fast)
        (result,) = run.execute(run.make_plan(request))
        return {"record": str(result.path), "skipped": result.skipped, "metrics": result.record["metrics"]}


def load(path: Path) -> Grid:
    """Read and validate a grid file."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"grid file {path} does not exist")
    doc = loader.read(path, ConfigError)
    if not isinstance(doc.data, dict):
        raise ConfigError(f"{doc.where()}: expected a mapping with the keys {', '.join(_GridFile.model_fields)}; "
                          f"got {type(doc.data).__name__}")
    model = loader.validate(doc, _GridFile, ConfigError)
    return Grid(
        path=path, name=path.stem if model.name is None else model.name, methods=model.methods,
        protocols=tuple(_protocol(doc, i, p) for i, p in enumerate(model.protocols)),
        folds=model.folds, seeds=model.seeds, preset=model.preset, overrides=model.overrides,
        modalities=model.modalities, profile=model.profile, precision=model.precision, fast=model.fast, document=doc,
    )


def expand(grid: Grid, out: Path) -> list[Cell]:
    """Every cell of the grid, in file order; the first invalid combination is a BenchError naming it."""
    # imported here: bench.running.run imports torch and Lightning, which bench status must not (bench.launch.cell_list)
    from bench.running import run

    cells: dict[str, Cell] = {}
    origin: dict[str, int] = {}
    for protocol in grid.protocols:
        for method in grid.methods:
            for number, overrides in enumerate(grid.overrides):
                where = (f"{grid.document.where(('overrides', number)) if grid.document else grid.path}: "
                         f"method {method!r} × protocol {Path(protocol).stem!r} × overrides[{number}]")
                try:
                    plan = run.make_plan(run.RunRequest(
                        method=method, protocol=protocol, folds=grid.folds, seeds=grid.seeds, preset=grid.preset,
                        overrides=overrides, modalities=grid.modalities, out=out, progress=False,
                        precision=grid.precision, fast=grid.fast))
                except BenchError as exc:
                    raise type(exc)(f"{where}: {exc}") from exc
                for split in plan.folds:
                    for seed in plan.seeds:
                        cell = Cell(id=plan.cell_key(split.name, seed), protocol=protocol, overrides=dict(overrides),
                                    modalities=grid.modalities, out=out, hints=type(plan.method).resources,
                                    precision=grid.precision, fast=grid.fast)
                        if cell.key in cells and origin[cell.key] != number:
                            raise ConfigError(f"{where}: gives the same configuration (hash {plan.config_hash}) as "
                                              f"overrides[{origin[cell.key]}]; remove one of them")
                        cells[cell.key] = cell
                        origin[cell.key] = number
    return list(cells.values())


def _protocol(doc: loader.Document, index: int, name: str) -> str:
    where = f"{doc.where(('protocols', index))}: protocols[{index}]"
    if name.endswith((".yaml", ".yml")):
        file = Path(name) if Path(name).is_absolute() else doc.path.parent / name
        if not file.is_file():
            raise ConfigError(f"{where}: protocol file {file} does not exist")
        return str(file.resolve())
    known = protocols.available()
    if name not in known:
        raise ConfigError(f"{where}: " + unknown("protocol", name, known))
    return name


def _precision(value: Any) -> str:
    if isinstance(value, bool) or str(value) not in PRECISIONS:
        raise loader.fail(f"expected one of {', '.join(PRECISIONS)}, got {value!r}")
    return str(value)


def _folds(value: Any) -> tuple[str, ...] | None:
    if value == "all":
        return None
    if not isinstance(value, list) or not value or not all(
            isinstance(v, (int, str)) and not isinstance(v, bool) for v in value):
        raise loader.fail(f"expected \"all\" or a non-empty list of fold numbers or names, got {value!r}")
    return tuple(str(v) for v in value)


def _seeds(value: Any) -> tuple[int, ...] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not value or not all(isinstance(v, int) and not isinstance(v, bool)
                                                           for v in value):
        raise loader.fail(f"expected a non-empty list of integers, got {value!r}")
    return tuple(value)


def _overrides(value: Any) -> tuple[dict[str, Any], ...]:
    if not isinstance(value, list) or not value:
        raise loader.fail(f"expected a non-empty list of key: value mappings, got {value!r}")
    items = [{} if item is None else item for item in value]
    for number, item in enumerate(items):
        if not isinstance(item, dict) or not all(isinstance(k, str) for k in item):
            raise loader.fail(f"expected a mapping of config keys to values, got {item!r}", (number,))
    return tuple(items)


class _GridFile(loader.Model):
    """The keys of a grid file."""

    name: str | None = None
    description: Any = None
    methods: loader.Names
    protocols: loader.Names
    folds: Annotated[tuple[str, ...] | None, PlainValidator(_folds)] = None
    seeds: Annotated[tuple[int, ...] | None, PlainValidator(_seeds)] = None
    preset: loader.Text = "paper"
    overrides: Annotated[tuple[dict[str, Any], ...], PlainValidator(_overrides)] = ({},)
    modalities: tuple[str, ...] | None = None
    profile: loader.Text | None = None
    precision: Annotated[str, PlainValidator(_precision)] = PRECISIONS[0]
    fast: bool = False

    @field_validator("name", mode="plain")
    @classmethod
    def _name(cls, value: Any) -> str | None:
        if value is not None and not (isinstance(value, str) and _NAME.match(value)):
            raise loader.fail(f"expected letters, digits, '_', '.' or '-', got {value!r}")
        return value

    @field_validator("methods", mode="after")
    @classmethod
    def _methods(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for i, method in enumerate(value):
            if method not in registry.methods.names():
                raise loader.fail(unknown("method", method, registry.methods.names()), (i,))
        return value

    @field_validator("modalities", mode="plain")
    @classmethod
    def _modalities(cls, value: Any) -> tuple[str, ...] | None:
        if value is None:
            return None
        if not isinstance(value, list) or not value or not all(isinstance(v, str) and v for v in value):
            raise loader.fail(f"expected a non-empty list of names, got {value!r}")
        for i, modality in enumerate(value):
            if modality not in MODALITIES:
                raise loader.fail(unknown("modality", modality, MODALITIES), (i,))
        return tuple(value)
