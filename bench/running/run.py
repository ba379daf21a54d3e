"""One method × one protocol: every selected (fold, seed) cell, end to end, into the store.

    protocol ─▶ adapter.samples() ─▶ split scheme ─▶ folds (leakage asserted)     bench.running.planning
    method.Config ◀─ preset ◀─ --set      preprocessing (cached, versioned)        bench.data.prepare
    method.build ─▶ Trainer.fit per stage ─▶ selection rule ─▶ predict test once   bench.running.training
    ─▶ metrics ─▶ predictions.npz + record.json (atomic) ─▶ store                  bench.running.assemble

A finished cell (its record exists under the same protocol hash) is skipped; a cell that is
interrupted or crashes leaves no record and runs again next time, resuming from the Lightning
checkpoint of its last finished epoch (``fold<k>-seed<s>.ckpt`` beside the record, deleted once
the record is written), with exactly the metrics of an uninterrupted run (see
:mod:`bench.running.training`). Before its record, a finished cell writes the weights its
selection rule chose (``fold<k>-seed<s>.safetensors``, :mod:`bench.running.kept_weights`) unless
``keep_weights`` is off. Under ``--regime evaluate`` nothing trains: the weights file is loaded
into the freshly built model and the test split is opened once, as for any cell.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np

from bench import metrics
from bench.api import Split
from bench.data.cache import Cache, default_cache
from bench.data.prepare import Prepared, prepare
from bench.errors import ConfigError, DataError, RunError
from bench.records import store
from bench.reporting import verify
from bench.running import assemble, celllock, interrupts, kept_weights, training, values
from bench.running.planning import Plan, RunRequest, make_plan

__all__ = ["CellResult", "Plan", "RunRequest", "checkpoint_path", "execute", "make_plan", "run_cell"]

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class CellResult:
    """One cell's outcome: its record and whether it was skipped as already finished."""

    path: Path
    record: dict[str, Any]
    skipped: bool


def execute(plan: Plan, on_cell: Callable[[CellResult], None] | None = None) -> list[CellResult]:
    """Run (or skip) every cell of the plan; preprocessing is shared by all of them.

    A cell runs holding its lock (:mod:`bench.running.celllock`): another process training it makes
    this one stop with :class:`~bench.running.celllock.CellBusy`; one that finished it meanwhile makes
    it a skip. A corrupt record of the cell (:mod:`bench.reporting.verify`: unreadable, tampered, its numbers
    not its predictions') is moved aside with its predictions (``*.corrupt``) before it runs.
    """
    results: list[CellResult] = []
    inputs = _Inputs(plan)
    for split in plan.folds:
        for seed in plan.seeds:
            key = plan.cell_key(split.name, seed)
            path = store.key_path(plan.request.out, key)
            done, _ = _reusable(plan, path, locked=False)
            result = CellResult(path, done, skipped=True) if done is not None else \
                _run_locked(plan, split, seed, path, inputs)
            results.append(result)
            if on_cell is not None:
                on_cell(result)
    return results


def _reusable(plan: Plan, path: Path, locked: bool) -> tuple[dict[str, Any] | None, str | None]:
    """The record of a finished cell made from the data the plan reads now, or None when the cell must run;
    with it, why a record that is there is corrupt (:func:`bench.reporting.verify.examined`).

    A record made from other data (its ``data.root_fingerprint`` differs: files added, removed
    or resized) is never reused: the run refuses, or with ``rerun_changed`` moves the record
    aside as ``*.changed`` (once it holds the cell's lock: ``locked``) and runs the cell again.
    """
    done, corrupt = verify.examined(path, plan.protocol.hash)
    if done is None:
        return None, corrupt
    was = done.get("data", {}).get("root_fingerprint")
    if was == plan.data_fingerprint:
        return done, None
    if not plan.request.rerun_changed:
        raise DataError(f"{path}: this finished cell was made from other data than the {plan.protocol.dataset} data at "
                        f"{plan.adapter.root} now (data fingerprint {was}, now {plan.data_fingerprint}); rerun it "
                        "with --rerun-changed (the old record is kept as .changed) or give the --data-root it was "
                        "made from")
    if locked:
        log.warning("%s was made from other data (fingerprint %s, now %s): moved aside to %s, the cell runs again",
                    path, was, plan.data_fingerprint, store.set_aside(path, "changed").name)
    return None, None


class _Inputs:
    """The prepared inputs of a plan, made on first need and shared by its cells."""

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.prepared: Prepared | None = None
        self.pretrain: Prepared | None = None
        self.seconds = 0.0

    def get(self) -> tuple[Prepared, Prepared | None, float]:
        if self.prepared is None:
            self.prepared = _prepare(self.plan)
            self.pretrain = _prepare_pretrain_data(self.plan, self.prepared)
            self.seconds = self.prepared.seconds + (self.pretrain.seconds if self.pretrain else 0.0)
        return self.prepared, self.pretrain, self.seconds


def _run_locked(plan: Plan, split: Split, seed: int, path: Path, inputs: _Inputs) -> CellResult:
    with celllock.hold(path, f"{plan.method.name} × {plan.protocol.name} {split.name} seed {seed}"):
        done, corrupt = _reusable(plan, path, locked=True)  # finished by another process meanwhile?
        if done is not None:
            return CellResult(path, done, skipped=True)
        if corrupt is not None:
            log.warning("%s; moved aside to %s, the cell runs again", store.describe_corrupt(path, corrupt),
                        store.set_aside(path).name)
        prepared, pretrain, prepare_s = inputs.get()
        record, arrays = run_cell(plan, split, seed, prepared, prepare_s, checkpoint_path(path), pretrain,
                                  store.weights_path(path))
        try:
            store.write(path, record, arrays)
        except BaseException:  # the record could not be written: no predictions or weights without it either
            if not path.is_file():
                store.predictions_path(path).unlink(missing_ok=True)
                store.weights_path(path).unlink(missing_ok=True)
            raise
        checkpoint_path(path).unlink(missing_ok=True)
        return CellResult(path, store.read(path), skipped=False)


def checkpoint_path(record: Path) -> Path:
    """Where the training state of an unfinished cell is kept: beside its record."""
    return record.with_suffix(".ckpt")


def run_cell(plan: Plan, split: Split, seed: int, prepared: Prepared, prepare_s: float,
             checkpoint: Path | None = None, pretrain: Prepared | None = None,
             weights_file: Path | None = None) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Train (or, under ``--regime evaluate``, load) and evaluate one (fold, seed) cell; returns its
    record and prediction arrays.

    With ``checkpoint``, the training state is saved there (atomically) at the end of an epoch
    (at most every ``$BENCH_CHECKPOINT_EVERY_S`` seconds), and a valid checkpoint of this cell found
    there is resumed from. ``pretrain`` (the inputs of ``regime.pretrain_on``) replaces the training
    side in the label-free stages. With
    ``weights_file`` (and ``keep_weights``), the selected weights are written there.
    """
    if (pretrain is None) != (plan.pretrain_adapter is None):
        raise RunError(f"protocol {plan.protocol.name!r}: the pretraining dataset's inputs must be given "
                       "exactly when the protocol names one (regime.pretrain_on)")
    started = assemble.now()
    log.info("%s seed %d: training on %d samples (%d validation), testing on %d", split.name, seed,
             len(split.train), len(split.val), len(split.test))
    position = {sid: i for i, sid in enumerate(prepared.ids)}
    sides = ("test",) if plan.evaluates else ("train", "val", "test")
    index = {side: [position[i] for i in getattr(split, side)] if side in sides else [] for side in
             ("train", "val", "test")}
    by_id = {s.id: s for s in plan.samples}
    trained = {side: getattr(split, side) if side in sides else () for side in ("train", "val")}
    labels = training.CellLabels.of(by_id, trained["train"], trained["val"], plan.task)  # no test label: see training
    L.seed_everything(seed, workers=True, verbose=False)
    module = plan.method.build(plan.task, plan.cfg, prepared.shapes)
    test = training.TestSplit(prepared, index["test"], split.name, [by_id[i] for i in split.test], plan.task,
                              plan.numerics)
    if plan.weights is not None:
        fitted = _load_weights(plan, module)
    else:
        with interrupts.fit_interrupt_named(lambda terminated: _interrupted(plan, split, seed, checkpoint,
                                                                              terminated)):
            fitted = training.fit(plan, plan.cell_key(split.name, seed), module, prepared, labels, index, test,
                                  pretrain, checkpoint)
    tic = time.perf_counter()
    outputs, targets = test.predict(module)
    predict_s = time.perf_counter() - tic
    groups = [by_id[i].group_key for i in split.test]
    scores = metrics.compute(plan.protocol.metrics, plan.task, outputs, targets, groups=groups)
    fit_s = fitted.fit_s
    record = assemble.build(plan, split, seed, prepared, pretrain, started, scores, outputs, targets, fitted, module,
                           timings={
                               "prepare_s": round(prepare_s, 3), "fit_s": round(fit_s, 3),
                               "predict_s": round(predict_s, 3),
                               "train_clips_per_s": round(fitted.clips_seen / fit_s, 1) if fit_s > 0 else None,
                               "peak_memory_mb": assemble.peak_memory_mb(), "resumed": fitted.resumes,
                           }).to_dict()
    if plan.weights is not None:
        record["evaluated"] = plan.weights.entry()
        record["weights"] = {"released": plan.weights.sha256} if plan.weights.kind == "released" else \
            {**record["weights"], "evaluated": plan.weights.sha256}
    elif not plan.request.keep_weights:
        record["trained_weights"] = {"kept": False, "why": "--no-keep-weights"}
    elif weights_file is not None:
        record["trained_weights"] = kept_weights.save(module, weights_file, _weights_meta(plan, split, seed, record))
    # the groups let per-video metrics be recomputed from the predictions (bench.reporting.verify)
    arrays = {"ids": np.asarray(split.test), "outputs": outputs, "targets": targets, "groups": np.asarray(groups)}
    return record, arrays


def _load_weights(plan: Plan, module: Any) -> training.Fitted:
    """``--regime evaluate``: the weights file into ``module``; what the record says in place of training."""
    assert plan.weights is not None
    kept_weights.load_into(module, plan.method, plan.weights)
    source = dict((plan.weights.meta or {}).get("selection", {}))
    selection = {"rule": f"evaluate ({plan.weights.kind} weights)", "metric": source.get("metric"),
                 "on_test": bool(source.get("on_test", False)), "patience": None}
    return training.Fitted(source.get("epoch"), [], 0.0, 0, 0, False, selection)


def _weights_meta(plan: Plan, split: Split, seed: int, record: dict[str, Any]) -> dict[str, Any]:
    """The kept-weights header: the cell's identity, and where the weights came from."""
    return {**kept_weights.identity(plan.method.name, plan.request.preset, plan.cfg, plan.modalities, plan.task),
            "protocol": plan.protocol.name, "fold": split.name, "seed": seed, "config_hash": plan.config_hash,
            "selection": record["selection"], "pretrained": record["weights"],
            "stage": plan.method.stages(plan.cfg, plan.training.kind, plan.training.pretrain)[-1].name}


def _interrupted(plan: Plan, split: Split, seed: int, checkpoint: Path | None, terminated: bool) -> str:
    """The line Ctrl-C or SIGTERM prints: which cell, after how many epochs of which stage, the checkpoint kept,
    the resume."""
    state = training.checkpoint_state(checkpoint) if checkpoint is not None else None
    how = "terminated (SIGTERM)" if terminated else "interrupted"
    where = f"{plan.method.name} × {plan.protocol.name} {split.name} seed {seed}"
    command = assemble.reproduce_command(plan, split, seed)
    if state is None:
        return (f"{how}: {where} stopped before its first checkpoint (saved at most every "
                f"{values.checkpoint_every_s():g} s of training, ${values.CHECKPOINT_EVERY_VARIABLE}); no record; "
                f"rerun with: {command}")
    return (f"{how}: {where} stopped after {state['epoch'] + 1} finished epoch(s) of stage "
            f"{state['stage_name']}; its checkpoint {checkpoint} is kept; resume with: {command}")


def _prepare(plan: Plan) -> Prepared:
    sides = ("test",) if plan.evaluates else ("train", "val", "test")
    used = {i for split in plan.folds for side in sides for i in getattr(split, side)}
    samples = [s for s in plan.samples if s.id in used]
    return prepare(samples, _input_specs(plan), _cache(plan), progress=plan.request.progress)


def _prepare_pretrain_data(plan: Plan, prepared: Prepared) -> Prepared | None:
    """The inputs of ``regime.pretrain_on`` (None without it), through the same transforms as the cell's."""
    if plan.pretrain_adapter is None:
        return None
    pretrain = prepare(plan.pretrain_samples, _input_specs(plan), _cache(plan), progress=plan.request.progress)
    if pretrain.shapes != prepared.shapes:
        raise DataError(f"{plan.pretrain_adapter.root}: the pretraining inputs have item shapes {pretrain.shapes}, "
                        f"the protocol's dataset {prepared.shapes}; one model cannot read both")
    return pretrain


def _input_specs(plan: Plan) -> dict[str, Any]:
    specs = plan.method.inputs(plan.cfg, plan.modalities)
    unknown_modalities = sorted(set(specs) - set(plan.modalities))
    if unknown_modalities:
        raise ConfigError(f"method {plan.method.name!r} asked for unused modalities {unknown_modalities}")
    return specs


def _cache(plan: Plan) -> Cache:
    return Cache(plan.request.cache_root) if plan.request.cache_root else default_cache()
