"""From samples to arrays, through the cache, and from arrays to a torch Dataset.

:func:`prepare` runs every (sample, modality) pair through the transform its
:class:`~bench.api.TransformSpec` names, reading from and writing to a
:class:`~bench.data.cache.Cache`, so a second identical call does no transform work.

Two storage paths, chosen by the transform (``Transform.variable_length``):

* fixed-size outputs are stacked in memory, ``[N, ...]`` (small: log-mels, token ids);
* variable-length outputs (a clip's every decoded frame) stay in the cache and are read per
  sample (:class:`LazyArrays`: the first GiB read is kept in memory, the rest memory-mapped at
  each read), so a dataset larger than memory (DFEW) is fed from disk; ``in_memory=True`` loads
  them all into RAM at once instead (same items).

:class:`ArrayDataset` turns them into the batch items methods receive (see :mod:`bench.api`).
For variable-length modalities it calls the transform's ``sample`` at batch time: in train
mode a random sampling (TSN frame per segment, MPUC crop) drawn from a generator seeded by
``(loader seed, pass over the data, sample row)`` — the same for every modality of a sample
and independent of batching or workers, so runs are reproducible and equally long sequences
are sampled alike; in eval mode the deterministic rule. :attr:`Prepared.shapes` (train) and
:attr:`Prepared.eval_shapes` report exactly the shapes those items have (they differ only
for multi-clip evaluation, ``[K, ...]``).

Its two loaders start each pass through :meth:`ArrayDataset.start_pass`: :meth:`ArrayDataset.loader`
(passes counted as they start) and :func:`train_loader`, a training stage's loader, whose order
and samplings are a function of (seed, stage, epoch) so a resumed fit sees the same data.
"""

from __future__ import annotations

import collections
import dataclasses
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from bench.api import Sample, TaskSpec, TransformSpec
from bench.config import stable_hash
from bench.data.cache import Cache, MappedArray, source_identity
from bench.data.catalog import get_transform
from bench.data.item_rngs import BatchRngs, item_rng
from bench.data.progress import Progress
from bench.data.transforms import Output, Transform
from bench.errors import ConfigError, DataError


MEMO_BYTES = 1 << 30
"""How many bytes of variable-length arrays :class:`LazyArrays` keeps in memory once read (per process)."""


class LazyArrays(Sequence[np.ndarray]):
    """Per-sample arrays of any lengths, each read from its cache entry when indexed.

    The first ``memo_bytes`` bytes of entries read are kept in memory (plain arrays, no open
    file), so the later epochs of a small dataset read no file at all; an entry beyond that is
    memory-mapped at every read, so a dataset larger than memory (DFEW) is still fed from disk.
    Either way an item's values are the stored ones: which entries are kept changes no result.
    """

    def __init__(self, entries: Sequence[MappedArray], memo_bytes: int = MEMO_BYTES) -> None:
        self.entries = list(entries)
        self.memo_bytes = memo_bytes
        self._memo: dict[int, np.ndarray] = {}
        self._memo_used = 0

    def __len__(self) -> int:
        return len(self.entries)

    def __getitem__(self, row: int) -> np.ndarray:  # type: ignore[override]
        kept = self._memo.get(row)
        if kept is not None:
            return kept
        entry = self.entries[row]
        size = entry.nbytes
        if self._memo_used + size > self.memo_bytes:
            return entry.open()
        array = entry.read()
        self._memo[row] = array
        self._memo_used += size
        return array

    def take(self, rows: Sequence[int]) -> list[np.ndarray]:
        """The arrays of ``rows`` in that order, read in row order (cache order) once each."""
        read = {int(r): self[int(r)] for r in sorted(set(int(r) for r in rows))}
        return [read[int(r)] for r in rows]

    def __getstate__(self) -> dict[str, Any]:
        # a DataLoader worker receives the entries, not the arrays this process kept
        return {**self.__dict__, "_memo": {}, "_memo_used": 0}


@dataclasses.dataclass(frozen=True)
class Prepared:
    """A split's (or dataset's) preprocessed inputs.

    ``arrays`` maps a modality to its transform outputs in ``ids`` order: a stacked array
    ``[N, ...]`` (fixed-size transforms) or a sequence of per-sample arrays (variable-length
    ones: :class:`LazyArrays`, or a list with ``in_memory``), whose batch items ``samplers``
    (modality → transform) draw. ``shapes`` and ``eval_shapes`` are one item's shape per
    modality as :class:`ArrayDataset` yields it in train and eval mode (video
    ``(T, 3, H, W)``); ``variants`` is each modality's ``transform.describe()``;
    ``fallbacks`` counts, per modality, the clips that took each fallback (the reason names
    are the transforms', e.g. ``no_face_centre_square``).
    """

    ids: tuple[str, ...]
    arrays: dict[str, np.ndarray | Sequence[np.ndarray]]
    shapes: dict[str, tuple[int, ...]]
    variants: dict[str, dict[str, Any]]
    cache_hits: int
    cache_misses: int
    seconds: float
    eval_shapes: dict[str, tuple[int, ...]] = dataclasses.field(default_factory=dict)
    fallbacks: dict[str, dict[str, int]] = dataclasses.field(default_factory=dict)
    samplers: dict[str, Transform] = dataclasses.field(default_factory=dict)


def to_model_input(modality: str, array: np.ndarray) -> torch.Tensor:
    """One sample's array (or a stack of them) as a method sees it.

    Video frames (uint8 ``[..., T, H, W, 3]``) become float32 ``[..., T, 3, H, W]`` in [0, 1];
    other integer arrays (text token ids) become int64; float arrays (features, spectrograms,
    landmarks — also a video modality's precomputed backbone features) stay as they are, float32.
    """
    # Read-only arrays (memory-mapped cache entries) are copied: torch tensors must be writable.
    tensor = torch.from_numpy(np.require(array, requirements=["C", "W"]))
    if modality == "video" and tensor.dtype == torch.uint8:
        return tensor.movedim(-1, -3).float().div_(255.0)
    if not torch.is_floating_point(tensor):
        return tensor.long()
    return tensor.float()


def _build(transform: Transform, source: Path | str) -> Callable[[], tuple[np.ndarray, dict[str, Any]]]:
    """The cache builder of one source: the array and the fallbacks it took, as entry meta."""

    def build() -> tuple[np.ndarray, dict[str, Any]]:
        out: Output = transform.run(source)
        return out.array, {"fallbacks": list(out.fallbacks)}

    return build


def prepare(
    samples: Sequence[Sample],
    specs: Mapping[str, TransformSpec],
    cache: Cache,
    progress: bool = False,
    in_memory: bool = False,
) -> Prepared:
    """Run each sample's source of each modality in ``specs`` through its transform, cached.

    A sample without a source for a requested modality is a DataError naming both, raised
    before any work; a spec whose transform serves another modality is a ConfigError. With
    ``progress``, a progress bar per modality is written to stderr (:mod:`bench.data.progress`). ``in_memory`` loads the
    outputs of variable-length transforms into RAM instead of memory-mapping them.
    """
    if not samples:
        raise DataError("nothing to prepare: the sample list is empty")
    start = time.perf_counter()
    transforms = {}
    for modality, spec in specs.items():
        transform = get_transform(spec)
        if transform.modality != modality:
            raise ConfigError(
                f"transform {spec.name!r} produces {transform.modality!r} inputs, "
                f"but was requested for modality {modality!r}"
            )
        transforms[modality] = transform
    for sample in samples:
        for modality in transforms:
            if modality not in sample.sources:
                raise DataError(f"sample {sample.id!r} has no {modality} source")

    hits = misses = 0
    arrays: dict[str, np.ndarray | Sequence[np.ndarray]] = {}
    fallbacks: dict[str, dict[str, int]] = {}
    for modality, transform in transforms.items():
        identity = transform.cache_identity()
        mapped = transform.variable_length and not in_memory
        outputs: list[Any] = []
        counts: collections.Counter[str] = collections.Counter()
        counter = Progress(f"prepare {modality}", len(samples), enabled=progress)
        for sample in samples:
            source = sample.sources[modality]
            parts = {"transform": identity, "source": source_identity(source)}
            entry, hit = cache.entry(parts, _build(transform, source), mapped=mapped)
            hits += hit
            misses += not hit
            counts.update(entry.meta.get("fallbacks", []))
            counts.update(transform.item_fallbacks(entry.array))
            array = entry.array
            if not transform.variable_length and outputs and (
                    array.shape != outputs[0].shape or array.dtype != outputs[0].dtype):
                raise DataError(
                    f"sample {sample.id!r}: {modality} array is {array.dtype}{list(array.shape)}, "
                    f"the first sample's is {outputs[0].dtype}{list(outputs[0].shape)}"
                )
            outputs.append(entry.mapped if mapped else array)
            counter.step()
        counter.close()
        if mapped:
            arrays[modality] = LazyArrays(outputs)
        elif transform.variable_length:
            arrays[modality] = outputs
        else:
            arrays[modality] = np.stack(outputs)
        fallbacks[modality] = dict(sorted(counts.items()))

    samplers = {m: t for m, t in transforms.items() if t.variable_length}

    def first_item(modality: str, train: bool) -> tuple[int, ...]:
        first = arrays[modality][0]
        if modality in samplers:
            first = samplers[modality].sample(first, train, item_rng(0, 0, 0))
        return tuple(to_model_input(modality, first).shape)

    return Prepared(
        ids=tuple(s.id for s in samples),
        arrays=arrays,
        shapes={m: first_item(m, True) for m in arrays},
        variants={m: t.describe() for m, t in transforms.items()},
        cache_hits=hits,
        cache_misses=misses,
        seconds=time.perf_counter() - start,
        eval_shapes={m: first_item(m, False) for m in arrays},
        fallbacks=fallbacks,
        samplers=samplers,
    )


def labels_array(samples: Sequence[Sample], task: TaskSpec) -> np.ndarray:
    """The samples' labels as one array: int64 ``[N]`` (classification), float32 ``[N, L]``.

    A missing label, a class index outside ``label_names`` or a label vector of the wrong
    length is a DataError naming the sample.
    """
    width = len(task.label_names)
    rows = []
    for sample in samples:
        label = sample.label
        if label is None:
            raise DataError(f"sample {sample.id!r} has no label")
        if task.kind == "classification":
            if isinstance(label, bool) or not isinstance(label, (int, np.integer)):
                raise DataError(f"sample {sample.id!r}: class label must be an int, got {label!r}")
            if not 0 <= label < width:
                raise DataError(
                    f"sample {sample.id!r}: class {label} is out of range for {width} classes "
                    f"({', '.join(task.label_names)})"
                )
            rows.append(int(label))
        else:
            values = np.asarray(label, dtype=np.float64)
            if values.shape != (width,):
                raise DataError(
                    f"sample {sample.id!r}: {task.kind} label must have {width} values "
                    f"({', '.join(task.label_names)}), got {label!r}"
                )
            if not np.isfinite(values).all():
                raise DataError(f"sample {sample.id!r}: label {label!r} is not finite")
            rows.append(values)
    if task.kind == "classification":
        return np.asarray(rows, dtype=np.int64)
    return np.asarray(rows, dtype=np.float32).reshape(len(rows), width)


class ArrayDataset(torch.utils.data.Dataset):
    """The samples at ``indices`` of ``prepared`` as batch items, in train or eval mode.

    An item is ``{modality: tensor (see to_model_input), "label": tensor, "index": int}``;
    ``"label"`` is left out when ``labels`` is None (a label-free pretraining stage) and
    ``"index"`` is the item's position in this dataset, i.e. in ``indices`` (the split).
    ``labels`` holds one row per item, aligned with ``indices``: a dataset carries the labels of
    its own rows and no others, so a method handed the training side's dataset cannot read a
    validation or test label through it (the label fence, see :mod:`bench.running.training`).
    ``train`` selects the random sampling of variable-length modalities; its generator is seeded
    from :meth:`loader`'s ``seed`` and the number of passes that loader has started (see
    :func:`item_rng`).
    """

    def __init__(self, prepared: Prepared, labels: np.ndarray | None, indices: Sequence[int],
                 train: bool = False) -> None:
        count = len(prepared.ids)
        self.indices = [int(i) for i in indices]
        if labels is not None and len(labels) != len(self.indices):
            raise ValueError(f"labels has {len(labels)} rows for {len(self.indices)} items")
        bad = [i for i in self.indices if not 0 <= i < count]
        if bad:
            raise IndexError(f"indices {bad[:5]} are outside the {count} prepared samples")
        self.prepared = prepared
        self.labels = labels
        self.train = train
        self.seed = 0
        self.pass_index = 0
        self._batch_rngs = BatchRngs()

    def start_pass(self, seed: int, pass_index: int) -> None:
        """Set what a pass over the data draws its train-time samplings from (see :func:`item_rng`).

        The only setter of this state: both loaders (:meth:`loader`, :func:`train_loader`) call it
        before the pass's first item is read.
        """
        self.seed, self.pass_index = seed, pass_index

    def __len__(self) -> int:
        return len(self.indices)

    def _sampled(self, modality: str, stored: np.ndarray, row: int) -> np.ndarray:
        """One variable-length modality's item from ``stored``, the array of ``row``, under this dataset's mode."""
        rng = item_rng(self.seed, self.pass_index, row) if self.train else None
        return self.prepared.samplers[modality].sample(stored, self.train, rng)

    def _gather(self, modality: str, rows: np.ndarray) -> np.ndarray:
        """The items of ``rows`` of one modality, stacked."""
        arrays = self.prepared.arrays[modality]
        if modality not in self.prepared.samplers:
            return arrays[rows]
        stored = arrays.take(rows) if isinstance(arrays, LazyArrays) else [arrays[int(r)] for r in rows]
        sampler = self.prepared.samplers[modality]
        # in train mode, item_rng of each row (as _sampled), built for the batch at once
        rngs = self._batch_rngs(self.seed, self.pass_index, rows.tolist()) if self.train else [None] * len(rows)
        items = [sampler.sample(array, self.train, rng) for array, rng in zip(stored, rngs, strict=True)]
        shapes = {item.shape for item in items}
        if len(shapes) > 1:
            raise DataError(
                f"modality {modality!r} ({self.prepared.variants[modality]['name']}) gives items of different "
                f"shapes {sorted(shapes)} in one batch: use batch size 1 for whole-clip inputs"
            )
        return np.stack(items)

    def __getitem__(self, position: int) -> dict[str, Any]:
        row = self.indices[position]
        item: dict[str, Any] = {
            m: to_model_input(m, self._sampled(m, a[row], row) if m in self.prepared.samplers else a[row])
            for m, a in self.prepared.arrays.items()
        }
        if self.labels is not None:
            item["label"] = torch.as_tensor(self.labels[position])
        item["index"] = position
        return item

    def __getitems__(self, positions: Sequence[int]) -> dict[str, Any]:
        """A whole batch at once, as a DataLoader asks for it: one gather and one conversion per
        modality instead of one per item followed by collation (use :meth:`collate` with it)."""
        rows = np.asarray([self.indices[p] for p in positions], dtype=np.int64)
        batch: dict[str, Any] = {m: to_model_input(m, self._gather(m, rows)) for m in self.prepared.arrays}
        if self.labels is not None:
            batch["label"] = torch.as_tensor(self.labels[np.asarray(positions, dtype=np.int64)])
        batch["index"] = torch.as_tensor(list(positions), dtype=torch.int64)
        return batch

    @staticmethod
    def collate(batch: dict[str, Any]) -> dict[str, Any]:
        """The DataLoader ``collate_fn`` for batches :meth:`__getitems__` already assembled."""
        return batch

    def loader(self, batch_size: int, shuffle: bool, seed: int) -> torch.utils.data.DataLoader:
        """A single-process DataLoader over this dataset, shuffled and (in train mode) sampled
        reproducibly from ``seed``."""
        self.start_pass(seed, 0)
        return _PassCountingLoader(self, batch_size=batch_size, shuffle=shuffle, num_workers=0,
                                   generator=torch.Generator().manual_seed(seed), collate_fn=self.collate)


class _PassCountingLoader(torch.utils.data.DataLoader):
    """A DataLoader that tells its :class:`ArrayDataset` which pass over the data starts.

    The pass index is set before the iterator (and any worker process) is created, so every
    pass (epoch) draws fresh, reproducible train-time samplings.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._passes = 0

    def __iter__(self) -> Iterator[Any]:
        self.dataset.start_pass(self.dataset.seed, self._passes)
        self._passes += 1
        return super().__iter__()


def derived_seed(seed: int, stage: int, epoch: int, purpose: str) -> int:
    """A 32-bit seed that depends only on (cell seed, stage number, epoch, purpose)."""
    return int(stable_hash([seed, stage, epoch, purpose])[:8], 16)


class _EpochSampler(torch.utils.data.Sampler[int]):
    """Shuffles with an order that is a function of (seed, stage, epoch), not of consumed state.

    Lightning calls :meth:`set_epoch` before every epoch (a resumed fit too); it also starts the
    dataset's pass, from which :class:`ArrayDataset` draws its train-time samplings.
    """

    def __init__(self, dataset: ArrayDataset, seed: int, stage: int, kind: str = "shuffle") -> None:
        self.dataset, self.seed, self.stage, self.epoch = dataset, seed, stage, 0
        self.weights = class_balanced_weights(dataset) if kind == "class_balanced" else None

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch
        self.dataset.start_pass(self.seed + self.stage, epoch)

    def __len__(self) -> int:
        return len(self.dataset)

    def __iter__(self) -> Iterator[int]:
        generator = torch.Generator().manual_seed(derived_seed(self.seed, self.stage, self.epoch, "order"))
        if self.weights is not None:
            return iter(torch.multinomial(self.weights, len(self.dataset), True, generator=generator).tolist())
        return iter(torch.randperm(len(self.dataset), generator=generator).tolist())


def class_balanced_weights(dataset: ArrayDataset) -> torch.Tensor:
    """Per training item, MPUC's ``WeightedRandomSampler`` weight: 1 / (its class's count) for single
    labels (RAVDESS, ``main.py`` L66-67); for multilabel 0/1 rows, the sum over its present labels of
    1 / (that label's count), a row with none counted under one more, "none" label (MOSEI, ``main.py``
    L55-56 with ``data/CMU_MOSEI.py`` L52-70 and its neutral column, L120-123). Counts are taken over
    the training rows only."""
    if dataset.labels is None or dataset.labels.ndim not in (1, 2):
        raise ConfigError("sampler=class_balanced draws by label: it needs a labelled training set "
                          "(single-label, or multilabel 0/1 rows)")
    rows = dataset.labels  # the training rows' labels: the dataset holds no others
    if rows.ndim == 1:
        labels = torch.as_tensor(rows, dtype=torch.long)
        return 1.0 / torch.bincount(labels)[labels].double()
    present = torch.as_tensor(rows > 0, dtype=torch.float64)
    present = torch.cat([present, (present.sum(dim=1, keepdim=True) == 0).double()], dim=1)
    counts = present.sum(dim=0)
    return present @ torch.where(counts > 0, 1.0 / counts.clamp(min=1.0), torch.zeros_like(counts))


def train_loader(dataset: ArrayDataset, batch_size: int, seed: int, stage: int,
                 drop_last: bool = False, sampler: str = "shuffle") -> torch.utils.data.DataLoader:
    """The training loader of one stage of a cell: per-epoch order and sampling (see :class:`_EpochSampler`;
    ``sampler`` as :class:`bench.api.Stage`); ``drop_last`` drops each epoch's last, smaller batch."""
    dataset.start_pass(seed + stage, 0)
    order = _EpochSampler(dataset, seed, stage, sampler)
    # its own generator: creating an iterator then draws no number from the global RNG
    return torch.utils.data.DataLoader(dataset, batch_size=batch_size, sampler=order,
                                       num_workers=0, collate_fn=dataset.collate, drop_last=drop_last,
                                       generator=torch.Generator().manual_seed(seed))
