"""Value checks a run makes before it touches any data: config ranges, seeds, paths.

The types of a method's config are checked by :func:`bench.config.resolve`; this module
checks what a type cannot say — ``epochs`` of at least 1, a positive learning rate, a dropout
probability in [0, 1), a weights file that exists — once, in the harness, by key name, so
that every method's keys of the same name obey the same rule. A method may give a field its
own rule as dataclass metadata, which wins over the rule of its name::

    margin: float = dataclasses.field(default=0.2, metadata={"range": (0.0, None)})
    lexicon: str = dataclasses.field(default="", metadata={"path": "file"})

``range`` is ``(low, high)`` with either end ``None`` (unbounded), both ends inclusive unless
``open`` names them (``"low"``, ``"high"`` or ``"both"``); ``path`` is ``"file"`` or ``"dir"``.
Every violation is a :class:`~bench.errors.ConfigError` of one line naming the key, the value
and what is allowed.
"""

from __future__ import annotations

import dataclasses
import math
import os
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from bench.errors import ConfigError

SEED_MIN, SEED_MAX = 0, 2**32 - 1
"""The seeds ``lightning.seed_everything`` accepts (a numpy uint32)."""

CHECKPOINT_EVERY_VARIABLE = "BENCH_CHECKPOINT_EVERY_S"
CHECKPOINT_EVERY_DEFAULT_S = 30.0
"""The fewest seconds of training between two epoch checkpoints of a cell, unless the variable says otherwise."""


@dataclasses.dataclass(frozen=True)
class Range:
    """An allowed interval of a number; ``None`` ends are unbounded."""

    low: float | None = None
    high: float | None = None
    open_low: bool = False
    open_high: bool = False

    def allows(self, value: float) -> bool:
        if isinstance(value, float) and not math.isfinite(value):
            return False
        if self.low is not None and (value <= self.low if self.open_low else value < self.low):
            return False
        return not (self.high is not None and (value >= self.high if self.open_high else value > self.high))

    def __str__(self) -> str:
        if self.high is None:
            return f"{'>' if self.open_low else '>='} {self.low:g}"
        if self.low is None:
            return f"{'<' if self.open_high else '<='} {self.high:g}"
        return f"in {'(' if self.open_low else '['}{self.low:g}, {self.high:g}{')' if self.open_high else ']'}"


_AT_LEAST_ONE = Range(1)
_POSITIVE = Range(0, open_low=True)
_NON_NEGATIVE = Range(0)
_PROBABILITY = Range(0, 1, open_high=True)

_BY_NAME: dict[str, Range] = {
    "epochs": _AT_LEAST_ONE, "pretrain_epochs": _AT_LEAST_ONE, "iterations": _AT_LEAST_ONE,
    "batch_size": _AT_LEAST_ONE, "pretrain_batch_size": _AT_LEAST_ONE,
    "lr": _POSITIVE, "head_lr": _POSITIVE, "pretrain_lr": _POSITIVE,
    "weight_decay": _NON_NEGATIVE, "pretrain_weight_decay": _NON_NEGATIVE,
    "dropout": _PROBABILITY, "drop_path_rate": _PROBABILITY,
    "momentum": _PROBABILITY, "sgd_momentum": _PROBABILITY,
    "lr_gamma": Range(0, 1, open_low=True),
    "temperature": _POSITIVE, "nce_temperature": _POSITIVE, "mms_temperature": _POSITIVE,
    "depth": _AT_LEAST_ONE, "crop": _AT_LEAST_ONE, "resize": _AT_LEAST_ONE,
}
"""Rules by exact key name."""

_SIZE_SUFFIXES = ("_dim", "_heads", "_size", "_bins", "_frames", "_layers")
"""Integer keys with these endings (or starting ``num_``) count something and must be >= 1."""


def rule_of(field: dataclasses.Field[Any]) -> Range | None:
    """The range a config field's value must lie in: its metadata's, else its name's, else none."""
    given = field.metadata.get("range")
    if given is not None:
        low, high = given
        opened = field.metadata.get("open", "")
        return Range(low, high, opened in ("low", "both"), opened in ("high", "both"))
    if field.name in _BY_NAME:
        return _BY_NAME[field.name]
    if field.name.startswith("num_") or field.name.endswith(_SIZE_SUFFIXES):
        return _AT_LEAST_ONE
    return None


def path_kind(field: dataclasses.Field[Any]) -> str | None:
    """``"file"`` or ``"dir"`` when a non-empty value of the field names something that must exist."""
    given = field.metadata.get("path")
    if given is not None:
        return str(given)
    name = field.name
    if "weights" in name or name == "checkpoint" or name.endswith("_path"):
        return "file"
    return "dir" if name.endswith("_dir") else None


def check_config(cfg: Any, owner: str) -> None:
    """Every range and path rule of a resolved config; the first violation is a ConfigError."""
    for field in dataclasses.fields(cfg):
        value = getattr(cfg, field.name)
        where = f"method {owner!r}: {field.name}={value!r}"
        rule = rule_of(field)
        if rule is not None and isinstance(value, int | float) and not isinstance(value, bool) \
                and not rule.allows(value):
            raise ConfigError(f"{where}: allowed {rule}")
        kind = path_kind(field)
        if kind is not None and isinstance(value, str) and value:
            problem = _path_problem(Path(value).expanduser(), kind)
            if problem:
                raise ConfigError(f"{where}: {problem}; give the path of a readable local {kind}")


def _path_problem(path: Path, kind: str) -> str | None:
    if not path.exists():
        return "no such file or folder"
    if kind == "file" and not path.is_file():
        return "not a file"
    if kind == "dir" and not path.is_dir():
        return "not a folder"
    if not os.access(path, os.R_OK):
        return "not readable (permission denied)"
    return None


def check_seeds(seeds: Iterable[int], origin: str) -> None:
    """Every seed an integer in Lightning's range; ``origin`` says where the seeds came from."""
    for seed in seeds:
        if isinstance(seed, bool) or not isinstance(seed, int) or not SEED_MIN <= seed <= SEED_MAX:
            raise ConfigError(f"{origin} {seed!r}: allowed an integer in [{SEED_MIN}, {SEED_MAX}]")


def check_output_dir(path: Path, flag: str) -> None:
    """``path`` is a writable folder, or one that can be created (its nearest existing parent is)."""
    path = Path(path)
    if path.exists():
        if not path.is_dir():
            raise ConfigError(f"{flag} {path}: is a file, not a folder; give a folder (it is created if missing)")
        why = _unwritable(path)
        if why:
            raise ConfigError(f"{flag} {path}: the folder is not writable ({why})")
        return
    parent = path.absolute().parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise ConfigError(f"{flag} {path}: cannot be created, {parent} is a file")
    why = _unwritable(parent)
    if why:
        raise ConfigError(f"{flag} {path}: cannot be created, {parent} is not writable ({why})")


def _unwritable(folder: Path) -> str | None:
    """Why no file can be made in ``folder`` (tried for real: permissions, a read-only mount), or None."""
    try:
        with tempfile.TemporaryFile(dir=folder):
            return None
    except OSError as error:
        return error.strerror or str(error)



def check_folds(protocol: Any, wanted: Sequence[str] | None) -> tuple[str, ...] | None:
    """``--fold`` values as the protocol's fold names, each once, in the order given; None for every fold.

    A number is the fold of that number (``1`` is ``fold1``), a name is itself; ``all`` stands
    alone. A fold the protocol's split does not make is a ConfigError listing those it makes.
    """
    from bench.protocols import splits

    if not wanted:
        return None
    if "all" in wanted:
        if len(wanted) > 1:
            raise ConfigError(f"--fold {' --fold '.join(wanted)}: 'all' means every fold; give it alone or name folds")
        return None
    names = splits.fold_names(protocol.split, protocol.split_where)
    chosen: list[str] = []
    for item in wanted:
        name = f"fold{int(item)}" if str(item).isdigit() else str(item)
        if name not in names:
            raise ConfigError(f"--fold {item}: this protocol has folds {', '.join(names)}")
        if name not in chosen:
            chosen.append(name)
    return tuple(chosen)


def unique_seeds(seeds: Sequence[int] | None) -> tuple[int, ...] | None:
    """``--seed`` values each once, in the order given (a repeated seed is the same cell)."""
    return tuple(dict.fromkeys(seeds)) if seeds else None


def checkpoint_every_s() -> float:
    """How many seconds of training at least separate two checkpoints of a cell: ``$BENCH_CHECKPOINT_EVERY_S``
    (a number >= 0; 0 saves after every epoch), else :data:`CHECKPOINT_EVERY_DEFAULT_S`."""
    text = os.environ.get(CHECKPOINT_EVERY_VARIABLE)
    if text is None or not text.strip():
        return CHECKPOINT_EVERY_DEFAULT_S
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < 0:
        raise ConfigError(f"{CHECKPOINT_EVERY_VARIABLE}={text!r}: expected a number of seconds >= 0 "
                          "(0: a checkpoint after every epoch)")
    return value


def check_run(cfg: Any, owner: str, protocol: Any, seeds: Iterable[int] | None, out: Path,
              cache_root: Path | None) -> None:
    """Every check of a run that needs no data: the config, the seeds asked for and the protocol's, the folders,
    the checkpoint interval."""
    check_config(cfg, owner)
    checkpoint_every_s()
    check_seeds(seeds or (), "--seed")
    check_seeds(protocol.seeds, f"{protocol.path}: seeds:")
    check_output_dir(out, "--out")
    if cache_root is not None:
        check_output_dir(cache_root, "--cache-dir")


def preflight(method: str, preset: str, overrides: Mapping[str, Any], protocol: str, seeds: Iterable[int] | None,
              out: Path, cache_root: Path | None, folds: Sequence[str] | None = None,
              budget: str | None = None) -> None:
    """:func:`check_run`, the folds and the budget of ``bench run``'s arguments, before torch and Lightning are
    imported and before any data is read.

    The method plugin, its config and the protocol are resolved the way :func:`bench.running.run.make_plan`
    resolves them (which checks again, for callers that build a plan directly).
    """
    from bench import config, protocols, registry
    from bench.running import budget as budget_mod

    method_cls = registry.methods.get(method)
    cfg = config.resolve(method_cls.Config, method_cls.presets, preset, overrides, method_cls.name)
    loaded = protocols.load(protocol)
    check_run(cfg, method_cls.name, loaded, seeds, out, cache_root)
    check_folds(loaded, folds)
    added = budget_mod.overrides(config.to_dict(cfg), budget_mod.parse(budget), overrides)
    if added:
        check_config(config.resolve(method_cls.Config, method_cls.presets, preset, {**added, **overrides},
                                    method_cls.name), method_cls.name)
