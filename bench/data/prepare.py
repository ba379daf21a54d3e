"""From samples to stacked arrays, through the cache, and from arrays to a torch Dataset.

:func:`prepare` runs every (sample, modality) pair through the transform its
:class:`~bench.api.TransformSpec` names, reading from and writing to a
:class:`~bench.data.cache.Cache`, so a second identical call does no transform work.
:class:`ArrayDataset` turns the stacked arrays into the batch items methods receive (see
:mod:`bench.api`); :attr:`Prepared.shapes` reports exactly the shapes those items have.
"""

from __future__ import annotations

import dataclasses
import functools
import sys
import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch

from bench.api import Sample, TaskSpec, TransformSpec
from bench.data.cache import Cache, source_identity
from bench.data.transforms import get_transform
from bench.errors import ConfigError, DataError


@dataclasses.dataclass(frozen=True)
class Prepared:
    """A split's (or dataset's) preprocessed inputs.

    ``arrays`` maps a modality to the stacked transform outputs ``[N, ...]`` in ``ids``
    order; ``shapes`` is one item's shape per modality as :class:`ArrayDataset` yields it
    (video ``(T, 3, H, W)``); ``variants`` is each modality's ``transform.describe()``.
    """

    ids: tuple[str, ...]
    arrays: dict[str, np.ndarray]
    shapes: dict[str, tuple[int, ...]]
    variants: dict[str, dict[str, Any]]
    cache_hits: int
    cache_misses: int
    seconds: float


def to_model_input(modality: str, array: np.ndarray) -> torch.Tensor:
    """One sample's array (or a stack of them) as a method sees it.

    Video uint8 ``[..., T, H, W, 3]`` becomes float32 ``[..., T, 3, H, W]`` in [0, 1]; integer arrays
    (text token ids) stay int64; everything else is float32 as is.
    """
    tensor = torch.from_numpy(np.ascontiguousarray(array))
    if modality == "video":
        return tensor.movedim(-1, -3).float().div(255.0)
    if not torch.is_floating_point(tensor):
        return tensor.long()
    return tensor.float()


def prepare(
    samples: Sequence[Sample],
    specs: Mapping[str, TransformSpec],
    cache: Cache,
    progress: bool = False,
) -> Prepared:
    """Run each sample's source of each modality in ``specs`` through its transform, cached.

    A sample without a source for a requested modality is a DataError naming both, raised
    before any work; a spec whose transform serves another modality is a ConfigError. With
    ``progress``, a counter per modality is written to stderr.
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
    arrays: dict[str, np.ndarray] = {}
    for modality, transform in transforms.items():
        variant = transform.describe()
        outputs = []
        for done, sample in enumerate(samples, 1):
            source = sample.sources[modality]
            parts = {"transform": variant, "source": source_identity(source)}
            array, hit = cache.get_or_build(parts, functools.partial(transform.apply, source))
            hits += hit
            misses += not hit
            if outputs and (array.shape != outputs[0].shape or array.dtype != outputs[0].dtype):
                raise DataError(
                    f"sample {sample.id!r}: {modality} array is {array.dtype}{list(array.shape)}, "
                    f"the first sample's is {outputs[0].dtype}{list(outputs[0].shape)}"
                )
            outputs.append(array)
            if progress:
                print(f"\rprepare {modality}: {done}/{len(samples)}", end="", file=sys.stderr, flush=True)
        if progress:
            print(file=sys.stderr)
        arrays[modality] = np.stack(outputs)

    return Prepared(
        ids=tuple(s.id for s in samples),
        arrays=arrays,
        shapes={m: tuple(to_model_input(m, a[0]).shape) for m, a in arrays.items()},
        variants={m: t.describe() for m, t in transforms.items()},
        cache_hits=hits,
        cache_misses=misses,
        seconds=time.perf_counter() - start,
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
    """The samples at ``indices`` of ``prepared`` as batch items.

    An item is ``{modality: tensor (see to_model_input), "label": tensor, "index": int}``;
    ``"label"`` is left out when ``labels`` is None (a label-free pretraining stage) and
    ``"index"`` is the item's position in this dataset, i.e. in ``indices`` (the split).
    ``labels`` is aligned with ``prepared.ids``.
    """

    def __init__(self, prepared: Prepared, labels: np.ndarray | None, indices: Sequence[int]) -> None:
        count = len(prepared.ids)
        if labels is not None and len(labels) != count:
            raise ValueError(f"labels has {len(labels)} rows for {count} prepared samples")
        bad = [i for i in indices if not 0 <= int(i) < count]
        if bad:
            raise IndexError(f"indices {bad[:5]} are outside the {count} prepared samples")
        self.prepared = prepared
        self.labels = labels
        self.indices = [int(i) for i in indices]

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, position: int) -> dict[str, Any]:
        row = self.indices[position]
        item: dict[str, Any] = {
            m: to_model_input(m, a[row]) for m, a in self.prepared.arrays.items()
        }
        if self.labels is not None:
            item["label"] = torch.as_tensor(self.labels[row])
        item["index"] = position
        return item

    def __getitems__(self, positions: Sequence[int]) -> dict[str, Any]:
        """A whole batch at once, as a DataLoader asks for it: one gather and one conversion per
        modality instead of one per item followed by collation (use :meth:`collate` with it)."""
        rows = np.asarray([self.indices[p] for p in positions], dtype=np.int64)
        batch: dict[str, Any] = {m: to_model_input(m, a[rows]) for m, a in self.prepared.arrays.items()}
        if self.labels is not None:
            batch["label"] = torch.as_tensor(self.labels[rows])
        batch["index"] = torch.as_tensor(list(positions), dtype=torch.int64)
        return batch

    @staticmethod
    def collate(batch: dict[str, Any]) -> dict[str, Any]:
        """The DataLoader ``collate_fn`` for batches :meth:`__getitems__` already assembled."""
        return batch

    def loader(self, batch_size: int, shuffle: bool, seed: int) -> torch.utils.data.DataLoader:
        """A single-process DataLoader over this dataset, shuffled reproducibly from ``seed``."""
        return torch.utils.data.DataLoader(self, batch_size=batch_size, shuffle=shuffle, num_workers=0,
                                           generator=torch.Generator().manual_seed(seed), collate_fn=self.collate)
