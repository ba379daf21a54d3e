"""Lazy registries of plugins found through Python entry points.

Built-in methods and datasets are registered in bench's own ``pyproject.toml`` exactly as a
third-party distribution registers its own: an entry point in the group ``bench.methods``
or ``bench.datasets`` naming ``module:Class``. Names are listed without importing anything
(so ``bench list`` stays fast and works when torch is broken); a plugin is imported on first
use. A plugin that fails to import is remembered with its error and reported by
``bench doctor`` instead of taking the whole tool down. Two distributions registering the
same name is an error naming both.

Admitting a method registers the transforms it declares (``Method.transforms``) in
:mod:`bench.data.catalog`, the one table of transform names, so that a bad declaration makes the
method fail to load with the reason instead of failing later in data preparation. That is the one
arrow from this contracts layer into ``bench.data``; it is imported inside the function, on first
use of a method, so that ``bench list`` never imports torch.
"""

from __future__ import annotations

import dataclasses
import importlib.metadata
import traceback
from collections.abc import Callable
from typing import Generic, TypeVar

from bench.api import DatasetAdapter, Method
from bench.errors import PluginError, unknown

T = TypeVar("T")


class Registry(Generic[T]):
    """Plugins of one kind, discovered from one entry-point group and imported lazily."""

    def __init__(self, kind: str, group: str, base: type, check: Callable[[type], str | None] | None = None) -> None:
        self.kind = kind
        self.group = group
        self.base = base
        self._check = check
        self._points: dict[str, list[importlib.metadata.EntryPoint]] | None = None
        self._loaded: dict[str, type[T]] = {}
        self.failures: dict[str, str] = {}

    def _entry_points(self) -> dict[str, list[importlib.metadata.EntryPoint]]:
        if self._points is None:
            points: dict[str, list[importlib.metadata.EntryPoint]] = {}
            for point in importlib.metadata.entry_points(group=self.group):
                known = points.setdefault(point.name, [])
                if all(p.value != point.value for p in known):
                    known.append(point)
            self._points = points
        return self._points

    def refresh(self) -> None:
        """Forget discovered entry points (after installing a plugin in the same process)."""
        self._points = None
        self._loaded.clear()
        self.failures.clear()

    def names(self) -> list[str]:
        """Every registered name, without importing any plugin."""
        return sorted(self._entry_points())

    def source(self, name: str) -> str:
        """Where a name is registered: ``module:attr (distribution)``."""
        return "; ".join(_describe(p) for p in self._entry_points()[name])

    def get(self, name: str) -> type[T]:
        """The plugin class registered as ``name``; imports it on first use."""
        if name in self._loaded:
            return self._loaded[name]
        points = self._entry_points()
        if name not in points:
            raise PluginError(unknown(self.kind, name, points))
        if len(points[name]) > 1:
            where = "; ".join(_describe(p) for p in points[name])
            raise PluginError(f"{self.kind} {name!r} is registered more than once: {where}")
        point = points[name][0]
        try:
            obj = point.load()
        except Exception as exc:  # a broken plugin must not take the tool down
            self.failures[name] = f"{_describe(point)}: {type(exc).__name__}: {exc}"
            raise PluginError(
                f"{self.kind} {name!r} failed to import from {_describe(point)}: "
                f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=3)}"
            ) from exc
        if not (isinstance(obj, type) and issubclass(obj, self.base)):
            self.failures[name] = f"{_describe(point)} is not a subclass of {self.base.__name__}"
            raise PluginError(f"{self.kind} {name!r} ({_describe(point)}) is not a {self.base.__name__} subclass")
        problem = self._check(obj) if self._check else None
        if problem:
            self.failures[name] = problem
            raise PluginError(f"{self.kind} {name!r} ({_describe(point)}): {problem}")
        self._loaded[name] = obj
        return obj

    def load_all(self) -> dict[str, str]:
        """Import every plugin; return name -> failure message for those that failed."""
        for name in self.names():
            try:
                self.get(name)
            except PluginError as exc:
                self.failures.setdefault(name, str(exc).splitlines()[0])
        return dict(self.failures)


def _describe(point: importlib.metadata.EntryPoint) -> str:
    dist = getattr(point, "dist", None)
    owner = f" ({dist.name} {dist.version})" if dist is not None else ""
    return f"{point.value}{owner}"


def check_method(cls: type) -> str | None:
    """What a method class lacks of the contract of :class:`bench.api.Method` (None: nothing)."""
    missing = [a for a in ("name", "modalities", "tasks", "regimes", "Config") if not hasattr(cls, a)]
    if missing:
        return f"missing class attributes: {', '.join(missing)}"
    if not dataclasses.is_dataclass(cls.Config):
        return "Config must be a dataclass"
    if "paper" not in cls.presets:
        return "presets must include 'paper'"
    if cls.stages is Method.stages:  # the default stages() reads these two
        fields = {f.name for f in dataclasses.fields(cls.Config)}
        lacking = [f for f in ("epochs", "batch_size") if f not in fields]
        if lacking:
            return (f"Config has no {' or '.join(lacking)}, which the default stages() reads; "
                    "add the field(s) or override stages()")
    return None


def _admit_method(cls: type) -> str | None:
    """Check a method class, then register the transforms it declares (``Method.transforms``)."""
    problem = check_method(cls)
    if problem is None and cls.transforms:
        from bench.data import (
            catalog,  # imports torch: only once a method is loaded, never for `bench list`
        )

        try:
            catalog.register(cls.transforms)
        except (TypeError, ValueError) as exc:
            return f"transforms: {exc}"
    return problem


def _check_dataset(cls: type) -> str | None:
    missing = [a for a in ("name", "task", "label_names", "modalities", "layout") if not hasattr(cls, a)]
    return f"missing class attributes: {', '.join(missing)}" if missing else None


methods: Registry[Method] = Registry("method", "bench.methods", Method, _admit_method)
datasets: Registry[DatasetAdapter] = Registry("dataset", "bench.datasets", DatasetAdapter, _check_dataset)
