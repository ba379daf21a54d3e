"""Building a cell's run record: what it measured and everything needed to trust and redo it.

:func:`build` assembles the :class:`bench.records.cells.RunRecord` ``bench run`` writes beside a cell's
predictions (:func:`bench.records.store.write` writes both atomically); :func:`reproduce_command` is the
``bench run`` command line that recomputes the cell. ``results/README.md`` lists the keys.
"""

from __future__ import annotations

import datetime as dt
import resource
from pathlib import Path
from typing import Any

import numpy as np
import torch

from bench import config as config_mod
from bench import metrics
from bench.api import Split, module_hook
from bench.data.prepare import Prepared
from bench.protocols import splits
from bench.records.cells import ProtocolRef, RunRecord, Selection, run_command
from bench.running import provenance, regimes
from bench.running.planning import Plan
from bench.running.training import Fitted


def build(plan: Plan, split: Split, seed: int, prepared: Prepared, pretrain: Prepared | None, started: str,
          scores: dict[str, float], outputs: np.ndarray, targets: np.ndarray, fitted: Fitted, module: Any,
          timings: dict[str, Any]) -> RunRecord:
    """The record of one finished cell (``outputs``/``targets`` are its test predictions and labels)."""
    history = fitted.history
    protocol = plan.protocol
    return RunRecord(
        method=plan.method.name,
        protocol=ProtocolRef(protocol.name, protocol.hash, protocol.version, tuple(protocol.serves), protocol.leaky),
        fold=split.name,
        seed=seed,
        preset=plan.request.preset,
        overrides=dict(plan.overrides),
        budget=plan.request.budget or "paper",
        task=plan.task.kind,
        config=config_mod.to_dict(plan.cfg),
        config_hash=plan.config_hash,
        modalities=tuple(plan.modalities),
        regime=regimes.as_dict(plan.training),
        regime_source=plan.regime.source if plan.regime else "protocol",
        numerics=plan.numerics.to_dict(),
        data={
            "dataset": protocol.dataset, "root": str(plan.adapter.root),
            "root_fingerprint": plan.data_fingerprint,
            "incomplete": plan.incomplete,
            "split": {"scheme": protocol.split["scheme"], **splits.split_fingerprint(split),
                      "sizes": {"train": len(split.train), "val": len(split.val), "test": len(split.test)}},
            "preprocessing": prepared.variants,
            "fallbacks": prepared.fallbacks,
            "pretrain": _pretrain_record(plan, pretrain),
            # the method trained (without labels) on these sides' inputs as well as on train
            "transductive": ["val", "test"] if fitted.transductive else [],
        },
        weights=dict(module_hook(module, "weights_provenance")),
        selection=Selection(on_test=bool(fitted.selection["on_test"]), rule=fitted.selection["rule"],
                            metric=fitted.selection.get("metric"), epoch=fitted.chosen_epoch,
                            patience=fitted.selection.get("patience"),
                            epochs_trained={st: sum(h["stage"] == st for h in history)
                                            for st in dict.fromkeys(h["stage"] for h in history)}),
        metrics=scores,
        primary=protocol.primary,
        per_class=metrics.per_class(plan.task, outputs, targets),
        confusion=metrics.confusion(plan.task, outputs, targets),
        label_names=tuple(plan.task.label_names),
        history=history,
        timings=timings,
        environment=provenance.environment(),
        code=provenance.code_version(),
        command=reproduce_command(plan, split, seed),
        started=started,
        finished=now(),
    )


def _pretrain_record(plan: Plan, pretrain: Prepared | None) -> dict[str, Any] | None:
    """What the label-free stages read when the protocol pretrains on another dataset."""
    if plan.pretrain_adapter is None or pretrain is None:
        return None
    root = plan.pretrain_adapter.root
    sources = [src for s in plan.pretrain_samples for src in s.sources.values() if isinstance(src, Path)]
    return {"dataset": plan.pretrain_adapter.name, "root": str(root), "samples": len(pretrain.ids),
            "root_fingerprint": provenance.files_fingerprint(sources, root),
            "preprocessing": pretrain.variants, "fallbacks": pretrain.fallbacks}


def reproduce_command(plan: Plan, split: Split, seed: int) -> str:
    """The exact ``bench run`` command line that recomputes one cell."""
    req = plan.request
    # a protocol file outside protocols/ by its absolute path, so the command works from anywhere
    given = Path(req.protocol)
    protocol = str(given.resolve()) if given.suffix in (".yaml", ".yml") and given.is_file() else plan.protocol.name
    regime = plan.regime is not None and plan.regime.source == "--regime"
    pretrain_on = plan.training.pretrain_on if regime else None
    return run_command(plan.method.name, protocol, folds=[split.name], seeds=[seed], preset=req.preset,
                       overrides=plan.overrides, regime=plan.training.kind if regime else None,
                       pretrain_on=pretrain_on.dataset if pretrain_on is not None else None,
                       modalities=plan.modalities if req.modalities else (), data_root=req.data_root,
                       pretrain_data_root=req.pretrain_data_root, allow_incomplete=req.allow_incomplete,
                       precision=None if plan.numerics.precision == "32" else plan.numerics.precision,
                       fast=plan.numerics.fast, out=req.out,
                       weights=plan.weights.path if plan.weights is not None else None)


def peak_memory_mb() -> float:
    """The peak memory of this process (of the GPU when there is one), in MiB."""
    if torch.cuda.is_available():
        return round(torch.cuda.max_memory_allocated() / 2**20, 1)
    kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(kib / 1024, 1)


def now() -> str:
    """The current UTC time, to the second, ISO 8601."""
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
