"""Training one cell's module: the Lightning loop over its stages, resumable after any saved epoch.

Every epoch is a function of (seed, stage, epoch) — data order and train-time sampling
(:func:`bench.data.prepare.train_loader`), global RNGs (:class:`_EpochState`) — and the
history and selection callbacks checkpoint their state, so a cell resumed from the checkpoint
of its last finished epoch ends with exactly the metrics of an uninterrupted one.

The label fence: the training stages' datasets carry the training side's labels only
(:class:`CellLabels`, :class:`~bench.data.prepare.ArrayDataset` holds one label per own row);
the validation labels go to the selection rule alone; the test labels are built by
:class:`TestSplit` when its door opens (or, for a protocol that allows ``best_test``, when the
selection peeks), never before, so nothing a method reads during training depends on them.
"""

from __future__ import annotations

import copy
import dataclasses
import logging
import sys
import time
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch
from lightning.pytorch.plugins.environments import SLURMEnvironment
from lightning.pytorch.plugins.io import TorchCheckpointIO

from bench import metrics
from bench.api import Sample, TaskSpec, module_hook
from bench.data.prepare import ArrayDataset, Prepared, derived_seed, labels_array, train_loader
from bench.errors import ConfigError, ProtocolError, RunError
from bench.files import io as atomic_io
from bench.records.cells import CellKey
from bench.running import allocator, interrupts
from bench.running import numerics as numerics_mod
from bench.running import values
from bench.running.planning import Plan

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class Fitted:
    """What training left besides the module's weights (those of the selected epoch)."""

    chosen_epoch: int | None
    """The selected epoch of the last stage, 0-based (None when nothing was trained here: ``--regime evaluate``)."""
    history: list[dict[str, Any]]
    """One entry per epoch trained: stage, epoch, mean training loss, steps, selection value."""
    fit_s: float
    """Seconds spent in ``Trainer.fit``, over every attempt of this cell."""
    clips_seen: int
    """Training items read, over every stage and epoch."""
    resumes: int
    """How many times this cell was resumed from a checkpoint."""
    transductive: bool
    """Whether the method was handed the unlabelled validation and test inputs."""
    selection: dict[str, Any]
    """The selection rule applied (rule, metric, on_test, patience): the protocol's or the method's own."""


@dataclasses.dataclass(frozen=True)
class CellLabels:
    """The labels a cell's training may read, each aligned with its side's rows of ``index``.

    ``train`` feeds the method's labelled stages; ``val`` reaches only the selection rule (the
    protocol's or the method's own). The test side's labels are not here: :class:`TestSplit`
    alone builds them.
    """

    train: np.ndarray
    val: np.ndarray

    @classmethod
    def of(cls, samples: Mapping[str, Sample], train: Sequence[str], val: Sequence[str], task: TaskSpec
           ) -> CellLabels:
        """The training and validation sides' labels (by sample id) as arrays."""
        return cls(labels_array([samples[i] for i in train], task), labels_array([samples[i] for i in val], task))


def fit(plan: Plan, key: CellKey, module: Any, prepared: Prepared, labels: CellLabels,
        index: Mapping[str, list[int]], test: TestSplit, pretrain: Prepared | None,
        checkpoint: Path | None) -> Fitted:
    """Train ``module`` through the method's stages and load the weights the selection rule chose.

    ``index`` maps train/val/test to rows of ``prepared``; ``pretrain`` (the inputs of
    ``regime.pretrain_on``) replaces the training side in the label-free stages. With
    ``checkpoint``, the training state is saved there at the end of an epoch (at most every
    ``$BENCH_CHECKPOINT_EVERY_S`` seconds, see :class:`_EpochState`), and a valid checkpoint of this
    cell found there is resumed from. The C allocator keeps freed memory for the steps to come
    (:func:`bench.running.allocator.keep_freed_memory`).
    """
    allocator.keep_freed_memory()
    fold, seed = key.fold, key.seed
    stages = plan.method.stages(plan.cfg, plan.training.kind, plan.training.pretrain)
    transductive = bool(module_hook(module, "wants_unlabelled"))
    if transductive:
        batch = stages[0].batch_size
        unlabelled = [ArrayDataset(prepared, None, index["val"], train=True).loader(batch, True, seed),
                      test.unlabelled_loader(batch, seed)]
        module_hook(module, "attach_unlabelled")(unlabelled)
    history: list[dict[str, Any]] = []
    own = _method_selector(plan, prepared, labels.val, index)
    if own is not None and stages[-1].patience is not None:
        raise ConfigError(f"{plan.method.name}: a stage patience and the method's own selection exclude each other")
    selector = own or _Selector(plan, prepared, labels.val, index, test, history, stages[-1].patience)
    identity = key.checkpoint_identity()
    every_s, saved_at = values.checkpoint_every_s(), time.perf_counter()
    resume = _resume_point(checkpoint, identity, stages)
    fit_s, seen = (resume.fit_s if resume else 0.0), 0
    for number, stage in enumerate(stages):
        last = number == len(stages) - 1
        module_hook(module, "start_stage")(stage.name)
        stage_size = len(pretrain.ids) if pretrain is not None and not stage.labels else len(index["train"])
        if resume is not None and number < resume.stage:  # done before the interruption: in the checkpoint
            seen += stage_size * stage.epochs
            continue
        if pretrain is not None and not stage.labels:
            dataset = ArrayDataset(pretrain, None, range(len(pretrain.ids)), train=True)
        else:
            dataset = ArrayDataset(prepared, labels.train if stage.labels else None, index["train"], train=True)
        epochs = _EpochState(seed, number, stage.name, identity, checkpoint, fit_s, resume.resumes if resume else 0,
                             every_s, saved_at)
        callbacks = [History(stage.name, history)] + ([selector] if last else []) + \
            [epochs, interrupts.KeepSigterm()]
        tic = time.perf_counter()
        with quiet_lightning(), numerics_mod.applied(plan.numerics):
            trainer = L.Trainer(
                max_epochs=stage.epochs, accelerator="auto", devices=1, logger=False, enable_checkpointing=False,
                enable_model_summary=False, num_sanity_val_steps=0, **plan.numerics.trainer_options(),
                enable_progress_bar=_bars(plan.request.progress), callbacks=callbacks, plugins=_trainer_plugins(),
            )
            trainer.fit(module, train_dataloaders=train_loader(dataset, stage.batch_size, seed, number,
                                                               stage.drop_last, stage.sampler),
                        ckpt_path=resume.path if resume is not None and number == resume.stage else None)
        fit_s += time.perf_counter() - tic
        saved_at = epochs.saved_at
        if trainer.interrupted:
            raise RunError(f"training of {plan.method.name} on {fold} seed {seed} was interrupted")
        seen += stage_size * stage.epochs
    chosen_epoch = selector.restore(module)
    return Fitted(chosen_epoch, history, fit_s, seen, resume.resumes if resume else 0, transductive,
                  selector.describe())


class TestSplit:
    """The only door to the test split: opened once per cell, and the opening is logged.

    It holds the test inputs (rows ``indices`` of ``prepared``) and the test samples, not their
    labels: those are built from ``samples`` only when the door opens (:meth:`predict`) or a
    ``best_test`` selection peeks. They are checked here, so a bad test label stops the cell
    before training, but the array is not kept.
    """

    def __init__(self, prepared: Prepared, indices: list[int], fold: str, samples: Sequence[Sample],
                 task: TaskSpec, numerics: numerics_mod.Numerics = numerics_mod.Numerics()) -> None:
        if len(samples) != len(indices):
            raise RunError(f"the test split of {fold}: {len(samples)} samples for {len(indices)} prepared rows")
        labels_array(samples, task)
        self._dataset = ArrayDataset(prepared, None, indices)
        self._samples, self._task = tuple(samples), task
        self._peeked: np.ndarray | None = None
        self._fold = fold
        self.numerics = numerics
        self.opened = False

    def _labels(self) -> np.ndarray:
        return labels_array(self._samples, self._task)

    def predict(self, module: Any) -> tuple[np.ndarray, np.ndarray]:
        if self.opened:
            raise RunError(f"the test split of {self._fold} was already evaluated for this cell")
        self.opened = True
        log.info("evaluating the test split of %s (%d samples)", self._fold, len(self._dataset))
        return predict(module, self._dataset, self.numerics), self._labels()

    def unlabelled_loader(self, batch_size: int, seed: int) -> torch.utils.data.DataLoader:
        """The test inputs without their labels, for a transductive method (MPUC's MOSEI config);
        logged, and the record's ``data.transductive`` says the test inputs were trained on."""
        log.warning("transductive: the test inputs of %s (not their labels) are handed to the method", self._fold)
        return ArrayDataset(self._dataset.prepared, None, self._dataset.indices, train=True).loader(
            batch_size, shuffle=True, seed=seed)

    def peek_for_selection(self, module: Any) -> tuple[np.ndarray, np.ndarray]:
        """Test predictions during training: only for protocols that allow best_test selection."""
        if self._peeked is None:  # built once: a method that evaluates by iteration peeks many times
            self._peeked = self._labels()
        return predict(module, self._dataset, self.numerics), self._peeked


def predict(module: Any, dataset: ArrayDataset, numerics: numerics_mod.Numerics = numerics_mod.Numerics(),
            batch_size: int = 64) -> np.ndarray:
    """Run ``module.predict_step`` over a dataset in order, in eval mode, without gradients, under the
    autocast of ``numerics`` (outputs as float32); freed memory is kept for reuse as in :func:`fit`."""
    allocator.keep_freed_memory()
    was_training = module.training
    module.eval()
    rows = []
    device = next((p.device for p in module.parameters()), torch.device("cpu"))
    with torch.no_grad(), numerics.autocast(device.type):
        for i, batch in enumerate(dataset.loader(batch_size, shuffle=False, seed=0)):
            batch = {k: v.to(device) if hasattr(v, "to") else v for k, v in batch.items()}
            rows.append(module.predict_step(batch, i).detach().float().cpu().numpy())
    module.train(was_training)
    return np.concatenate(rows, axis=0)


def _bars(progress: bool) -> bool:
    """Lightning's bars only on a terminal: in a log file each redraw would be one more ``\\r``-joined update."""
    return progress and sys.stderr.isatty()


class _AtomicCheckpointIO(TorchCheckpointIO):
    """Lightning checkpoints written through :func:`bench.files.io.atomic_open`: whole, or not at all."""

    def save_checkpoint(self, checkpoint: dict[str, Any], path: Any, storage_options: Any | None = None) -> None:
        with interrupts.stop_signals_deferred(), atomic_io.atomic_open(Path(path), "the checkpoint") as handle:
            torch.save(checkpoint, handle)


def _trainer_plugins() -> list[Any]:
    """Atomic checkpoints; under SLURM, Lightning's own requeue handler off (submitit requeues)."""
    plugins: list[Any] = [_AtomicCheckpointIO()]
    if SLURMEnvironment.detect():
        plugins.append(SLURMEnvironment(auto_requeue=False))
    return plugins


@dataclasses.dataclass(frozen=True)
class _Resume:
    """Where an interrupted cell picks up: its checkpoint, the stage it was in, the fit time spent."""

    path: Path
    stage: int
    fit_s: float
    resumes: int


class _EpochState(L.Callback):
    """Makes each epoch a function of (seed, stage, epoch) and checkpoints the fit after it.

    At the start of an epoch the global RNGs (dropout, augmentation inside the module) are
    reseeded from (seed, stage, epoch). At its end, after the history and selection callbacks
    (listed before this one), the whole training state — weights, optimizer, loops and every
    callback's ``state_dict`` — is saved to ``path`` once ``every_s`` seconds have passed since
    ``saved_at`` (the fit's start or its last save, over all stages; ``$BENCH_CHECKPOINT_EVERY_S``,
    :func:`bench.running.values.checkpoint_every_s`): epochs longer than that are each saved, while
    a cell of many short epochs does not spend its time writing checkpoints. A stopped cell loses at
    most that long of training besides its unfinished epoch. Its own state names the cell and the stage;
    :func:`_resume_point` reads it before the fit (it is not loaded back by Lightning).
    """

    def __init__(self, seed: int, stage: int, stage_name: str, identity: Mapping[str, Any], path: Path | None,
                 fit_s_before: float, resumes: int, every_s: float, saved_at: float) -> None:
        self.seed, self.stage, self.stage_name, self.identity, self.path = seed, stage, stage_name, identity, path
        self.fit_s_before, self.resumes, self.every_s = fit_s_before, resumes, every_s
        self.epoch = -1
        self.saved_at = saved_at
        self._tic = time.perf_counter()

    def on_train_epoch_start(self, trainer: Any, module: Any) -> None:
        L.seed_everything(derived_seed(self.seed, self.stage, trainer.current_epoch, "global"), verbose=False)

    def on_train_epoch_end(self, trainer: Any, module: Any) -> None:
        self.epoch = trainer.current_epoch
        if self.path is not None and time.perf_counter() - self.saved_at >= self.every_s:
            trainer.save_checkpoint(self.path)
            self.saved_at = time.perf_counter()

    def state_dict(self) -> dict[str, Any]:
        return {"cell": dict(self.identity), "stage": self.stage, "stage_name": self.stage_name, "epoch": self.epoch,
                "fit_s": self.fit_s_before + time.perf_counter() - self._tic, "resumes": self.resumes}


def checkpoint_state(checkpoint: Path) -> dict[str, Any] | None:
    """What a cell's checkpoint was saved after (cell, stage, stage_name, epoch, ...); None if none or unreadable."""
    if not checkpoint.is_file():
        return None
    try:
        return torch.load(checkpoint, map_location="cpu", weights_only=False)["callbacks"][_EpochState.__qualname__]
    except Exception as exc:  # whatever is wrong with the file, the cell starts afresh and overwrites it
        log.warning("ignoring checkpoint %s: unreadable (%s: %s)", checkpoint, type(exc).__name__, exc)
        return None


def _resume_point(checkpoint: Path | None, identity: Mapping[str, Any], stages: Sequence[Any]) -> _Resume | None:
    """The checkpoint to resume from, or None (none there, unreadable, or another cell's)."""
    state = checkpoint_state(checkpoint) if checkpoint is not None else None
    if state is None:
        return None
    stage = state.get("stage")
    if state.get("cell") != dict(identity) or not isinstance(stage, int) or not 0 <= stage < len(stages) \
            or stages[stage].name != state.get("stage_name"):
        log.warning("ignoring checkpoint %s: it belongs to another cell, protocol version or stage list", checkpoint)
        return None
    log.info("%s seed %s: resuming stage %s after %d finished epoch(s) from %s", identity["fold"], identity["seed"],
             state["stage_name"], state["epoch"] + 1, checkpoint)
    return _Resume(checkpoint, stage, float(state["fit_s"]), int(state["resumes"]) + 1)


class History(L.Callback):
    """The mean training loss and the number of steps of each epoch, from what ``training_step`` returned.

    Read from the step outputs rather than from ``self.log``, so methods need not log and
    no per-step logging cost is paid (it exceeds a small model's step on a CPU).
    """

    def __init__(self, stage: str, history: list[dict[str, Any]]) -> None:
        self.stage, self.history = stage, history
        self._losses: list[torch.Tensor] = []

    def on_train_epoch_start(self, trainer: Any, module: Any) -> None:
        self._losses = []

    def on_train_batch_end(self, trainer: Any, module: Any, outputs: Any, batch: Any, batch_idx: int) -> None:
        loss = outputs.get("loss") if isinstance(outputs, Mapping) else outputs
        if isinstance(loss, torch.Tensor):
            self._losses.append(loss.detach())

    def on_train_epoch_end(self, trainer: Any, module: Any) -> None:
        mean = float(torch.stack(self._losses).float().mean()) if self._losses else None
        self.history.append({"stage": self.stage, "epoch": trainer.current_epoch,
                             "train_loss": None if mean is None else round(mean, 6), "steps": len(self._losses)})

    def state_dict(self) -> dict[str, Any]:
        return {"history": [dict(entry) for entry in self.history]}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.history[:] = [dict(entry) for entry in state_dict["history"]]


def _method_selector(plan: Plan, prepared: Prepared, val_labels: np.ndarray, index: Mapping[str, list[int]]) -> Any:
    """The method's own selection callback (``Method.selector``), or None for the protocol's rule."""
    val = ArrayDataset(prepared, None, index["val"]) if index["val"] else None
    validation = None if val is None else (lambda module: (predict(module, val, plan.numerics), val_labels))
    return plan.method.selector(plan.cfg, plan.task, validation)


class _Selector(L.Callback):
    """Applies the protocol's selection rule over the epochs of the last stage."""

    def __init__(self, plan: Plan, prepared: Prepared, val_labels: np.ndarray, index: Mapping[str, list[int]],
                 test: TestSplit, history: list[dict[str, Any]], patience: int | None = None) -> None:
        self.history = history
        self.rule = plan.protocol.selection.rule
        self.metric = plan.protocol.selection.metric
        self.patience = plan.protocol.selection.patience if patience is None else patience
        self.on_test = plan.protocol.selection.on_test
        self.task = plan.task
        self.higher = metrics.get(self.metric).higher_is_better
        self.test = test
        if self.rule == "best_val":
            if not index["val"]:
                raise ProtocolError(f"{plan.protocol.path}: selection best_val but fold has no validation side")
            self.val = ArrayDataset(prepared, None, index["val"])
            self.val_labels = val_labels
        self.numerics = plan.numerics
        self.best: tuple[float, int, dict[str, Any]] | None = None
        self.last_epoch = -1
        self._by_iteration: list[float] = []

    def on_train_batch_end(self, trainer: Any, module: Any, outputs: Any, batch: Any, batch_idx: int) -> None:
        if self.rule != "last_epoch" and module_hook(module, "evaluates_by_iteration") \
                and module_hook(module, "evaluation_due")():
            self._by_iteration.append(self._evaluate(trainer, module))

    def on_train_epoch_end(self, trainer: Any, module: Any) -> None:
        self.last_epoch = trainer.current_epoch
        if self.rule == "last_epoch":
            return
        side = "val" if self.rule == "best_val" else "test"
        if module_hook(module, "evaluates_by_iteration"):
            # the evaluations of this epoch, in order, in its history entry (patience is counted in epochs)
            if self.history and self._by_iteration:
                self.history[-1][f"{side}_{self.metric}_by_step"] = [round(v, 6) for v in self._by_iteration]
            self._by_iteration = []
        else:
            value = self._evaluate(trainer, module)
            if self.history:
                self.history[-1][f"{side}_{self.metric}"] = round(value, 6)
        if self.best is not None and self.patience is not None and trainer.current_epoch - self.best[1] >= self.patience:
            trainer.should_stop = True

    def _evaluate(self, trainer: Any, module: Any) -> float:
        """The rule's metric now; the weights are kept when it improves on the best so far."""
        if self.rule == "best_val":
            outputs, targets = predict(module, self.val, self.numerics), self.val_labels
        else:
            outputs, targets = self.test.peek_for_selection(module)
        value = metrics.compute([self.metric], self.task, outputs, targets)[self.metric]
        if self.best is None or (value > self.best[0] if self.higher else value < self.best[0]):
            self.best = (value, trainer.current_epoch, copy.deepcopy(module.state_dict()))
        return value

    def on_train_start(self, trainer: Any, module: Any) -> None:
        # a fit resumed after the epoch that exhausted the patience stops where the uninterrupted one did
        if self.patience is not None and self.best is not None and self.last_epoch - self.best[1] >= self.patience:
            trainer.should_stop = True

    def state_dict(self) -> dict[str, Any]:
        best = None if self.best is None else {"value": self.best[0], "epoch": self.best[1], "weights": self.best[2]}
        return {"best": best, "last_epoch": self.last_epoch}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        best = state_dict["best"]
        self.best = None if best is None else (best["value"], best["epoch"], best["weights"])
        self.last_epoch = state_dict["last_epoch"]

    def describe(self) -> dict[str, Any]:
        """The rule as the run record's ``selection`` states it."""
        return {"rule": self.rule, "metric": self.metric, "on_test": self.on_test, "patience": self.patience}

    def restore(self, module: Any) -> int:
        """Load the selected weights into ``module``; return the chosen (0-based) epoch."""
        if self.best is None:
            return self.last_epoch
        module.load_state_dict(self.best[2])
        return self.best[1]


class quiet_lightning:
    """Silence Lightning's start-up banners and advice that would bury the progress bar."""

    _loggers = ("lightning.pytorch", "lightning.fabric", "pytorch_lightning")

    def __enter__(self) -> None:
        self._levels = {name: logging.getLogger(name).level for name in self._loggers}
        for name in self._loggers:
            logging.getLogger(name).setLevel(logging.WARNING)
        self._warnings = warnings.catch_warnings()
        self._warnings.__enter__()
        warnings.filterwarnings("ignore", message=".*does not have many workers.*")
        warnings.filterwarnings("ignore", message=".*number of training batches.*")
        warnings.filterwarnings("ignore", message=".*LeafSpec.*is deprecated.*")
        warnings.filterwarnings("ignore", message=".*`srun` command is available on your system but is not used.*")

    def __exit__(self, *exc: object) -> None:
        self._warnings.__exit__(*exc)
        for name, level in self._levels.items():
            logging.getLogger(name).setLevel(level)
