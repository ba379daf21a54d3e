"""One method × one protocol: every selected (fold, seed) cell, end to end, into the store.

    protocol ─▶ adapter.samples() ─▶ split scheme ─▶ folds (leakage asserted)
    method.Config ◀─ preset ◀─ --set      preprocessing (cached, versioned)
    method.build ─▶ Trainer.fit per stage ─▶ selection rule ─▶ predict test once
    ─▶ metrics ─▶ predictions.npz + record.json (atomic) ─▶ store

A finished cell (its record exists under the same protocol hash) is skipped; a cell that is
interrupted or crashes leaves no record and runs again next time, resuming from the Lightning
checkpoint of its last finished epoch (``fold<k>-seed<s>.ckpt`` beside the record, deleted once
the record is written). Every epoch is a function of (seed, stage, epoch) — data order,
train-time sampling, global RNGs — and the history and selection callbacks checkpoint their
state, so a resumed cell ends with exactly the metrics of an uninterrupted one.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import logging
import resource
import shlex
import time
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch
from lightning.pytorch.plugins.environments import SLURMEnvironment
from lightning.pytorch.plugins.io import TorchCheckpointIO

from bench import config as config_mod
from bench import io as atomic_io
from bench import metrics, protocols, provenance, registry, roots, splits, store
from bench.api import DatasetAdapter, Method, Sample, Split, TaskSpec
from bench.data.cache import Cache, default_cache
from bench.data.prepare import ArrayDataset, Prepared, labels_array, prepare
from bench.errors import ConfigError, DataError, ProtocolError, RunError
from bench.protocols import Protocol

log = logging.getLogger("bench.run")


@dataclasses.dataclass(frozen=True)
class RunRequest:
    """Everything ``bench run`` was asked for."""

    method: str
    protocol: str
    folds: Sequence[str] | None = None
    seeds: Sequence[int] | None = None
    preset: str = "paper"
    overrides: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    modalities: Sequence[str] | None = None
    data_root: Path | None = None
    pretrain_data_root: Path | None = None
    out: Path = Path("results")
    progress: bool = True
    cache_root: Path | None = None


@dataclasses.dataclass
class Plan:
    """A resolved request: the objects every cell of it shares."""

    request: RunRequest
    protocol: Protocol
    method: Method
    cfg: Any
    config_hash: str
    modalities: tuple[str, ...]
    adapter: DatasetAdapter
    task: TaskSpec
    samples: list[Sample]
    folds: list[Split]
    seeds: tuple[int, ...]
    pretrain_adapter: DatasetAdapter | None = None
    """The dataset of ``regime.pretrain_on``, when the protocol pretrains on another one."""
    pretrain_samples: list[Sample] = dataclasses.field(default_factory=list)


@dataclasses.dataclass(frozen=True)
class CellResult:
    """One cell's outcome: its record and whether it was skipped as already finished."""

    path: Path
    record: dict[str, Any]
    skipped: bool


def make_plan(request: RunRequest) -> Plan:
    """Resolve method, configuration, protocol, dataset and folds; fail early on any mismatch."""
    protocol = protocols.load(request.protocol)
    method_cls = registry.methods.get(request.method)
    method = method_cls()
    cfg = config_mod.resolve(method_cls.Config, method_cls.presets, request.preset, request.overrides, method_cls.name)
    modalities = _modalities(protocol, method_cls, request.modalities)
    _check_compatible(protocol, method_cls)
    adapter = roots.open_adapter(protocol.dataset, request.data_root, protocol.dataset_options,
                                 needed_by=f"protocol {protocol.name!r}")
    adapter_cls = type(adapter)
    missing = [m for m in modalities if m not in adapter_cls.modalities]
    if missing:
        raise ProtocolError(f"{protocol.path}: dataset {protocol.dataset!r} has no {', '.join(missing)} modality, "
                            f"which method {method_cls.name!r} was asked to use; {_fitting(method_cls)}")
    task = adapter.task_spec()
    if task.kind != protocol.task:
        raise ProtocolError(f"{protocol.path}: task {protocol.task!r} but dataset {protocol.dataset!r} is {task.kind!r}")
    samples = adapter.samples()
    folds = _select_folds(splits.make_splits(protocol.split, samples, adapter), request.folds)
    _check_sources(protocol, method_cls, modalities, adapter, samples, folds)
    seeds = tuple(request.seeds) if request.seeds else protocol.seeds
    cell_hash = config_mod.stable_hash({"config": config_mod.to_dict(cfg), "modalities": list(modalities)})[:12]
    plan = Plan(request, protocol, method, cfg, cell_hash, modalities, adapter, task, samples, folds, seeds)
    if protocol.regime.pretrain_on is not None:
        plan.pretrain_adapter, plan.pretrain_samples = _open_pretrain_data(protocol, modalities, request)
    return plan


def _open_pretrain_data(protocol: Protocol, modalities: Sequence[str],
                        request: RunRequest) -> tuple[DatasetAdapter, list[Sample]]:
    """The adapter and samples of ``regime.pretrain_on``; it must have every modality the cell uses."""
    source = protocol.regime.pretrain_on
    assert source is not None
    adapter = roots.open_adapter(source.dataset, request.pretrain_data_root, source.options,
                                 needed_by=f"the pretraining stage of protocol {protocol.name!r}",
                                 flag="--pretrain-data-root")
    missing = [m for m in modalities if m not in type(adapter).modalities]
    if missing:
        raise ProtocolError(f"{protocol.path}: regime.pretrain_on: dataset {source.dataset!r} has no "
                            f"{', '.join(missing)} modality (the cell uses {', '.join(modalities)})")
    samples = adapter.samples()
    if not samples:
        raise DataError(f"{adapter.root}: the pretraining dataset {source.dataset!r} has no samples")
    for modality in modalities:
        lacking = [s.id for s in samples if modality not in s.sources]
        if lacking:
            raise DataError(f"{adapter.root}: {len(lacking)} of {len(samples)} samples of the pretraining dataset "
                            f"{source.dataset!r} have no {modality} (first: {lacking[0]}); it expects:\n"
                            f"{type(adapter).layout}")
    return adapter, samples


def execute(plan: Plan, on_cell: Callable[[CellResult], None] | None = None) -> list[CellResult]:
    """Run (or skip) every cell of the plan; preprocessing is shared by all of them."""
    results: list[CellResult] = []
    prepared: Prepared | None = None
    pretrain: Prepared | None = None
    prepare_s = 0.0
    for split in plan.folds:
        for seed in plan.seeds:
            path = store.record_path(plan.request.out, plan.protocol.name, plan.method.name, plan.config_hash,
                                     split.name, seed)
            done = store.finished(path, plan.protocol.hash)
            if done is not None:
                result = CellResult(path, done, skipped=True)
            else:
                if prepared is None:
                    prepared = _prepare(plan)
                    pretrain = _prepare_pretrain_data(plan, prepared)
                    prepare_s = prepared.seconds + (pretrain.seconds if pretrain else 0.0)
                record, arrays = run_cell(plan, split, seed, prepared, prepare_s, checkpoint_path(path), pretrain)
                store.write(path, record, arrays)
                checkpoint_path(path).unlink(missing_ok=True)
                result = CellResult(path, store.read(path), skipped=False)
            results.append(result)
            if on_cell is not None:
                on_cell(result)
    return results


def checkpoint_path(record: Path) -> Path:
    """Where the training state of an unfinished cell is kept: beside its record."""
    return record.with_suffix(".ckpt")


def run_cell(plan: Plan, split: Split, seed: int, prepared: Prepared, prepare_s: float,
             checkpoint: Path | None = None,
             pretrain: Prepared | None = None) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Train and evaluate one (fold, seed) cell; returns its record and prediction arrays.

    With ``checkpoint``, the training state is saved there (atomically) at the end of every
    epoch, and a valid checkpoint of this cell found there is resumed from. ``pretrain`` (the
    inputs of ``regime.pretrain_on``) replaces the training side in the label-free stages.
    """
    if (pretrain is None) != (plan.pretrain_adapter is None):
        raise RunError(f"protocol {plan.protocol.name!r}: the pretraining dataset's inputs must be given "
                       "exactly when the protocol names one (regime.pretrain_on)")
    started = _now()
    log.info("%s seed %d: training on %d samples (%d validation), testing on %d", split.name, seed,
             len(split.train), len(split.val), len(split.test))
    position = {sid: i for i, sid in enumerate(prepared.ids)}
    index = {side: [position[i] for i in getattr(split, side)] for side in ("train", "val", "test")}
    by_id = {s.id: s for s in plan.samples}
    labels = labels_array([by_id[i] for i in prepared.ids], plan.task)
    L.seed_everything(seed, workers=True, verbose=False)
    module = plan.method.build(plan.task, plan.cfg, prepared.shapes)
    stages = plan.method.stages(plan.cfg, plan.protocol.regime.kind, plan.protocol.regime.pretrain)
    test = _TestSplit(prepared, labels, index["test"], split.name)
    transductive = bool(getattr(module, "wants_unlabelled", False))
    if transductive:
        batch = stages[0].batch_size
        module.attach_unlabelled([ArrayDataset(prepared, None, index["val"], train=True).loader(batch, True, seed),
                                  test.unlabelled_loader(batch, seed)])
    history: list[dict[str, Any]] = []
    selector = _Selector(plan, prepared, labels, index, test, history)
    identity = {"protocol_hash": plan.protocol.hash, "config_hash": plan.config_hash, "fold": split.name,
                "seed": seed}
    resume = _resume_point(checkpoint, identity, stages)
    fit_s, seen = (resume.fit_s if resume else 0.0), 0
    for number, stage in enumerate(stages):
        last = number == len(stages) - 1
        if hasattr(module, "start_stage"):
            module.start_stage(stage.name)
        stage_size = len(pretrain.ids) if pretrain is not None and not stage.labels else len(index["train"])
        if resume is not None and number < resume.stage:  # done before the interruption: in the checkpoint
            seen += stage_size * stage.epochs
            continue
        if pretrain is not None and not stage.labels:
            dataset = ArrayDataset(pretrain, None, range(len(pretrain.ids)), train=True)
        else:
            dataset = ArrayDataset(prepared, labels if stage.labels else None, index["train"], train=True)
        epochs = _EpochState(seed, number, stage.name, identity, checkpoint, fit_s, resume.resumes if resume else 0)
        callbacks = [_History(stage.name, history)] + ([selector] if last else []) + [epochs]
        tic = time.perf_counter()
        with _quiet_lightning():
            trainer = L.Trainer(
                max_epochs=stage.epochs, accelerator="auto", devices=1, logger=False, enable_checkpointing=False,
                enable_model_summary=False, deterministic=True, num_sanity_val_steps=0,
                enable_progress_bar=plan.request.progress, callbacks=callbacks, plugins=_trainer_plugins(),
            )
            trainer.fit(module, train_dataloaders=_train_loader(dataset, stage.batch_size, seed, number, stage.sampler),
                        ckpt_path=resume.path if resume is not None and number == resume.stage else None)
        fit_s += time.perf_counter() - tic
        if trainer.interrupted:
            raise RunError(f"training of {plan.method.name} on {split.name} seed {seed} was interrupted")
        seen += stage_size * stage.epochs
    chosen_epoch = selector.restore(module)
    tic = time.perf_counter()
    outputs, targets = test.predict(module)
    predict_s = time.perf_counter() - tic
    scores = metrics.compute(plan.protocol.metrics, plan.task, outputs, targets,
                             groups=[by_id[i].group_key for i in split.test])
    record = _record(plan, split, seed, prepared, pretrain, started, scores, outputs, targets, chosen_epoch, history,
                     module, transductive, timings={
                         "prepare_s": round(prepare_s, 3), "fit_s": round(fit_s, 3), "predict_s": round(predict_s, 3),
                         "train_clips_per_s": round(seen / fit_s, 1) if fit_s > 0 else None,
                         "peak_memory_mb": _peak_memory_mb(), "resumed": resume.resumes if resume else 0,
                     })
    arrays = {"ids": np.asarray(split.test), "outputs": outputs, "targets": targets}
    return record, arrays


def _prepare(plan: Plan) -> Prepared:
    used = {i for split in plan.folds for side in (split.train, split.val, split.test) for i in side}
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


class _TestSplit:
    """The only door to the test split: opened once per cell, and the opening is logged."""

    def __init__(self, prepared: Prepared, labels: np.ndarray, indices: list[int], fold: str) -> None:
        self._dataset = ArrayDataset(prepared, labels, indices)
        self._labels = labels[indices]
        self._fold = fold
        self.opened = False

    def predict(self, module: Any) -> tuple[np.ndarray, np.ndarray]:
        if self.opened:
            raise RunError(f"the test split of {self._fold} was already evaluated for this cell")
        self.opened = True
        log.info("evaluating the test split of %s (%d samples)", self._fold, len(self._dataset))
        return predict(module, self._dataset), self._labels

    def unlabelled_loader(self, batch_size: int, seed: int) -> torch.utils.data.DataLoader:
        """The test inputs without their labels, for a transductive method (MPUC's MOSEI config);
        logged, and the record's ``data.transductive`` says the test inputs were trained on."""
        log.warning("transductive: the test inputs of %s (not their labels) are handed to the method", self._fold)
        return ArrayDataset(self._dataset.prepared, None, self._dataset.indices, train=True).loader(
            batch_size, shuffle=True, seed=seed)

    def peek_for_selection(self, module: Any) -> tuple[np.ndarray, np.ndarray]:
        """Test predictions during training: only for protocols that allow best_test selection."""
        return predict(module, self._dataset), self._labels


def predict(module: Any, dataset: ArrayDataset, batch_size: int = 64) -> np.ndarray:
    """Run ``module.predict_step`` over a dataset in order, in eval mode, without gradients."""
    was_training = module.training
    module.eval()
    rows = []
    device = next((p.device for p in module.parameters()), torch.device("cpu"))
    with torch.no_grad():
        for i, batch in enumerate(dataset.loader(batch_size, shuffle=False, seed=0)):
            batch = {k: v.to(device) if hasattr(v, "to") else v for k, v in batch.items()}
            rows.append(module.predict_step(batch, i).detach().float().cpu().numpy())
    module.train(was_training)
    return np.concatenate(rows, axis=0)


def _derived_seed(seed: int, stage: int, epoch: int, purpose: str) -> int:
    """A 32-bit seed that depends only on (cell seed, stage number, epoch, purpose)."""
    return int(config_mod.stable_hash([seed, stage, epoch, purpose])[:8], 16)


class _EpochSampler(torch.utils.data.Sampler[int]):
    """Shuffles with an order that is a function of (seed, stage, epoch), not of consumed state.

    Lightning calls :meth:`set_epoch` before every epoch (a resumed fit too); it also sets the
    dataset's pass index, from which :class:`ArrayDataset` draws its train-time samplings.
    """

    def __init__(self, dataset: ArrayDataset, seed: int, stage: int, kind: str = "shuffle") -> None:
        self.dataset, self.seed, self.stage, self.epoch = dataset, seed, stage, 0
        self.weights = class_balanced_weights(dataset) if kind == "class_balanced" else None

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch
        self.dataset.pass_index = epoch

    def __len__(self) -> int:
        return len(self.dataset)

    def __iter__(self) -> Iterator[int]:
        generator = torch.Generator().manual_seed(_derived_seed(self.seed, self.stage, self.epoch, "order"))
        if self.weights is not None:
            return iter(torch.multinomial(self.weights, len(self.dataset), True, generator=generator).tolist())
        return iter(torch.randperm(len(self.dataset), generator=generator).tolist())


def class_balanced_weights(dataset: ArrayDataset) -> torch.Tensor:
    """Per item 1 / (its class's count in ``dataset``): MPUC's WeightedRandomSampler weights (main.py L55-56)."""
    if dataset.labels is None or dataset.labels.ndim != 1:
        raise ConfigError("sampler=class_balanced draws by class: it needs a labelled single-label training set")
    labels = torch.as_tensor(dataset.labels[dataset.indices], dtype=torch.long)
    return 1.0 / torch.bincount(labels)[labels].double()


def _train_loader(dataset: ArrayDataset, batch_size: int, seed: int, stage: int,
                  kind: str = "shuffle") -> torch.utils.data.DataLoader:
    """The training loader of one stage: per-epoch order and sampling (see :class:`_EpochSampler`)."""
    dataset.seed = seed + stage
    sampler = _EpochSampler(dataset, seed, stage, kind)
    # its own generator: creating an iterator then draws no number from the global RNG
    return torch.utils.data.DataLoader(dataset, batch_size=batch_size, sampler=sampler,
                                       num_workers=0, collate_fn=dataset.collate,
                                       generator=torch.Generator().manual_seed(seed))


class _AtomicCheckpointIO(TorchCheckpointIO):
    """Lightning checkpoints written through :func:`bench.io.atomic_open`: whole, or not at all."""

    def save_checkpoint(self, checkpoint: dict[str, Any], path: Any, storage_options: Any | None = None) -> None:
        with atomic_io.atomic_open(Path(path)) as handle:
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
    callback's ``state_dict`` — is saved to ``path``. Its own state names the cell and the
    stage; :func:`_resume_point` reads it before the fit (it is not loaded back by Lightning).
    """

    def __init__(self, seed: int, stage: int, stage_name: str, identity: Mapping[str, Any], path: Path | None,
                 fit_s_before: float, resumes: int) -> None:
        self.seed, self.stage, self.stage_name, self.identity, self.path = seed, stage, stage_name, identity, path
        self.fit_s_before, self.resumes = fit_s_before, resumes
        self.epoch = -1
        self._tic = time.perf_counter()

    def on_train_epoch_start(self, trainer: Any, module: Any) -> None:
        L.seed_everything(_derived_seed(self.seed, self.stage, trainer.current_epoch, "global"), verbose=False)

    def on_train_epoch_end(self, trainer: Any, module: Any) -> None:
        self.epoch = trainer.current_epoch
        if self.path is not None:
            trainer.save_checkpoint(self.path)

    def state_dict(self) -> dict[str, Any]:
        return {"cell": dict(self.identity), "stage": self.stage, "stage_name": self.stage_name, "epoch": self.epoch,
                "fit_s": self.fit_s_before + time.perf_counter() - self._tic, "resumes": self.resumes}


def _resume_point(checkpoint: Path | None, identity: Mapping[str, Any], stages: Sequence[Any]) -> _Resume | None:
    """The checkpoint to resume from, or None (none there, unreadable, or another cell's)."""
    if checkpoint is None or not checkpoint.is_file():
        return None
    try:
        state = torch.load(checkpoint, map_location="cpu", weights_only=False)["callbacks"][_EpochState.__qualname__]
    except Exception as exc:  # whatever is wrong with the file, the cell starts afresh and overwrites it
        log.warning("ignoring checkpoint %s: unreadable (%s: %s)", checkpoint, type(exc).__name__, exc)
        return None
    stage = state.get("stage")
    if state.get("cell") != dict(identity) or not isinstance(stage, int) or not 0 <= stage < len(stages) \
            or stages[stage].name != state.get("stage_name"):
        log.warning("ignoring checkpoint %s: it belongs to another cell, protocol version or stage list", checkpoint)
        return None
    log.info("%s seed %s: resuming stage %s after epoch %d from %s", identity["fold"], identity["seed"],
             state["stage_name"], state["epoch"], checkpoint)
    return _Resume(checkpoint, stage, float(state["fit_s"]), int(state["resumes"]) + 1)



class _History(L.Callback):
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


class _Selector(L.Callback):
    """Applies the protocol's selection rule over the epochs of the last stage."""

    def __init__(self, plan: Plan, prepared: Prepared, labels: np.ndarray, index: Mapping[str, list[int]],
                 test: _TestSplit, history: list[dict[str, Any]]) -> None:
        self.history = history
        self.rule = plan.protocol.selection.rule
        self.metric = plan.protocol.selection.metric
        self.patience = plan.protocol.selection.patience
        self.task = plan.task
        self.higher = metrics.get(self.metric).higher_is_better
        self.test = test
        if self.rule == "best_val":
            if not index["val"]:
                raise ProtocolError(f"{plan.protocol.path}: selection best_val but fold has no validation side")
            self.val = ArrayDataset(prepared, labels, index["val"])
            self.val_labels = labels[index["val"]]
        self.best: tuple[float, int, dict[str, Any]] | None = None
        self.last_epoch = -1

    def on_train_epoch_end(self, trainer: Any, module: Any) -> None:
        self.last_epoch = trainer.current_epoch
        if self.rule == "last_epoch":
            return
        if self.rule == "best_val":
            outputs, targets = predict(module, self.val), self.val_labels
        else:
            outputs, targets = self.test.peek_for_selection(module)
        value = metrics.compute([self.metric], self.task, outputs, targets)[self.metric]
        side = "val" if self.rule == "best_val" else "test"
        if self.history:
            self.history[-1][f"{side}_{self.metric}"] = round(value, 6)
        better = self.best is None or (value > self.best[0] if self.higher else value < self.best[0])
        if better:
            self.best = (value, trainer.current_epoch, copy.deepcopy(module.state_dict()))
        elif self.patience is not None and trainer.current_epoch - self.best[1] >= self.patience:
            trainer.should_stop = True

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

    def restore(self, module: Any) -> int:
        """Load the selected weights into ``module``; return the chosen (0-based) epoch."""
        if self.best is None:
            return self.last_epoch
        module.load_state_dict(self.best[2])
        return self.best[1]


def _record(plan: Plan, split: Split, seed: int, prepared: Prepared, pretrain: Prepared | None, started: str,
            scores: dict[str, float],
            outputs: np.ndarray, targets: np.ndarray, chosen_epoch: int, history: list[dict[str, Any]],
            module: Any, transductive: bool, timings: dict[str, Any]) -> dict[str, Any]:
    protocol = plan.protocol
    sources = [src for s in plan.samples for src in s.sources.values() if isinstance(src, Path)]
    return {
        "schema_version": store.SCHEMA_VERSION,
        "method": plan.method.name,
        "protocol": {"name": protocol.name, "version": protocol.version, "hash": protocol.hash,
                     "serves": list(protocol.serves), "leaky": protocol.leaky},
        "fold": split.name,
        "seed": seed,
        "preset": plan.request.preset,
        "overrides": {k: v for k, v in plan.request.overrides.items()},
        "config": config_mod.to_dict(plan.cfg),
        "config_hash": plan.config_hash,
        "modalities": list(plan.modalities),
        "regime": dataclasses.asdict(protocol.regime),
        "data": {
            "dataset": protocol.dataset, "root": str(plan.adapter.root),
            "root_fingerprint": provenance.files_fingerprint(sources, plan.adapter.root),
            "split": {"scheme": protocol.split["scheme"], **splits.split_fingerprint(split),
                      "sizes": {"train": len(split.train), "val": len(split.val), "test": len(split.test)}},
            "preprocessing": prepared.variants,
            "fallbacks": prepared.fallbacks,
            "pretrain": _pretrain_record(plan, pretrain),
            # the method trained (without labels) on these sides' inputs as well as on train
            "transductive": ["val", "test"] if transductive else [],
        },
        "weights": getattr(module, "weights_provenance", {"all": "random-init"}),
        "selection": {"rule": protocol.selection.rule, "metric": protocol.selection.metric,
                      "epoch": chosen_epoch, "on_test": protocol.selection.on_test,
                      "patience": protocol.selection.patience,
                      "epochs_trained": {st: sum(h["stage"] == st for h in history)
                                         for st in dict.fromkeys(h["stage"] for h in history)}},
        "metrics": scores,
        "primary": protocol.primary,
        "per_class": metrics.per_class(plan.task, outputs, targets),
        "confusion": metrics.confusion(plan.task, outputs, targets),
        "label_names": list(plan.task.label_names),
        "history": history,
        "timings": timings,
        "environment": provenance.environment(),
        "code": provenance.code_version(),
        "command": reproduce_command(plan, split, seed),
        "started": started,
        "finished": _now(),
    }


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
    parts = ["bench", "run", "--method", plan.method.name, "--protocol", protocol,
             "--fold", split.name, "--seed", str(seed), "--preset", req.preset]
    for key, value in req.overrides.items():
        parts += ["--set", f"{key}={_yaml_scalar(value)}"]
    if req.modalities:
        parts += ["--modalities", *plan.modalities]
    if req.data_root:
        parts += ["--data-root", str(req.data_root)]
    if req.pretrain_data_root:
        parts += ["--pretrain-data-root", str(req.pretrain_data_root)]
    parts += ["--out", str(req.out)]
    return shlex.join(parts)


def _yaml_scalar(value: Any) -> str:
    import yaml

    return yaml.safe_dump(value, default_flow_style=True).strip().removesuffix("\n...").strip()


def _modalities(protocol: Protocol, method_cls: type[Method], requested: Sequence[str] | None) -> tuple[str, ...]:
    chosen = tuple(requested) if requested else protocol.modalities
    extra = [m for m in chosen if m not in protocol.modalities]
    if extra:
        raise ConfigError(f"--modalities {' '.join(extra)}: protocol {protocol.name!r} uses only "
                          f"{', '.join(protocol.modalities)}")
    unsupported = [m for m in chosen if m not in method_cls.modalities]
    if unsupported:
        raise ConfigError(f"method {method_cls.name!r} cannot use {', '.join(unsupported)}; "
                          f"it supports {', '.join(method_cls.modalities)}")
    if len(chosen) < method_cls.min_modalities:
        raise ConfigError(f"method {method_cls.name!r} needs at least {method_cls.min_modalities} modalities, "
                          f"got {', '.join(chosen)}; {_fitting(method_cls)}")
    return chosen


def _fitting(method_cls: type[Method]) -> str:
    fitting = [name for name, path in protocols.available().items() if _fits(path, method_cls)]
    return f"protocols that fit: {', '.join(fitting) or 'none'}"


def _check_sources(protocol: Protocol, method_cls: type[Method], modalities: Sequence[str], adapter: DatasetAdapter,
                   samples: Sequence[Sample], folds: Sequence[Split]) -> None:
    """One message when the data root lacks files of a modality the method needs (before any work)."""
    used = {i for split in folds for side in (split.train, split.val, split.test) for i in side}
    chosen = [s for s in samples if s.id in used]
    lacking = {m: sum(m not in s.sources for s in chosen) for m in modalities}
    lacking = {m: n for m, n in lacking.items() if n}
    if not lacking:
        return
    present = sorted({m for s in chosen for m in s.sources} & set(method_cls.modalities))
    counts = ", ".join(f"{m} ({n} of {len(chosen)} samples have none)" for m, n in lacking.items())
    raise DataError(f"method {method_cls.name!r} needs {counts} but the {protocol.dataset} data at {adapter.root} "
                    f"lacks them; present: {', '.join(present) or 'none'} (choose with --modalities). "
                    f"{_fitting(method_cls)}. The {protocol.dataset} layout:\n{type(adapter).layout}")


def _fits(path: Path, method_cls: type[Method]) -> bool:
    try:
        protocol = protocols.load(str(path))
    except ProtocolError:
        return False
    usable = [m for m in protocol.modalities if m in method_cls.modalities]
    return len(usable) >= method_cls.min_modalities and protocol.task in method_cls.tasks


def _check_compatible(protocol: Protocol, method_cls: type[Method]) -> None:
    if protocol.task not in method_cls.tasks:
        raise ConfigError(f"method {method_cls.name!r} handles {', '.join(method_cls.tasks)} tasks, "
                          f"protocol {protocol.name!r} is {protocol.task}")
    needed = [protocol.regime.kind] + (["pretrain"] if protocol.regime.pretrain else [])
    missing = [r for r in needed if r not in method_cls.regimes]
    if missing:
        raise ConfigError(f"method {method_cls.name!r} has no {', '.join(missing)} regime "
                          f"(it has {', '.join(method_cls.regimes)}); protocol {protocol.name!r} needs it")


def _select_folds(folds: list[Split], wanted: Sequence[str] | None) -> list[Split]:
    if not wanted:
        return folds
    by_name = {f.name: f for f in folds}
    chosen = []
    for item in wanted:
        name = f"fold{item}" if str(item).isdigit() else str(item)
        if name not in by_name:
            raise ConfigError(f"--fold {item}: this protocol has folds {', '.join(by_name)}")
        chosen.append(by_name[name])
    return chosen


def _peak_memory_mb() -> float:
    if torch.cuda.is_available():
        return round(torch.cuda.max_memory_allocated() / 2**20, 1)
    kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(kib / 1024, 1)


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


class _quiet_lightning:
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
