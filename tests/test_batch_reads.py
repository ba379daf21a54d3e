"""Batch reads of the prepared arrays change no result: a short training, fed once through
arrays kept in memory and read in row order per batch (the default) and once through a memory
map opened per item (the reading of every entry before the memo existed), ends with the same
history and the same test predictions, bit for bit."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import lightning as L
import numpy as np
import pytest

from bench.data.cache import Cache
from bench.data.prepare import LazyArrays, prepare
from bench.running import training
from bench.running.planning import RunRequest, make_plan

pytestmark = pytest.mark.usefixtures("one_thread")

SEED = 3


def _fitted(tmp_path: Path) -> Callable[[int | None], tuple[list[dict], np.ndarray]]:
    """A short training of late_fusion (tiny) on fold 1 of synthetic_5fold, fed through
    :class:`LazyArrays` of the given memo budget (None: the default)."""
    plan = make_plan(RunRequest("late_fusion", "synthetic_5fold", folds=["1"], seeds=[SEED], preset="tiny",
                                overrides={"epochs": 2}, progress=False, cache_root=tmp_path))
    split = plan.folds[0]
    used = [s for s in plan.samples if s.id in {*split.train, *split.val, *split.test}]
    prepared = prepare(used, plan.method.inputs(plan.cfg, plan.modalities), Cache(tmp_path))
    assert isinstance(prepared.arrays["video"], LazyArrays)
    by_id = {s.id: s for s in used}
    labels = training.CellLabels.of(by_id, split.train, split.val, plan.task)
    position = {sid: i for i, sid in enumerate(prepared.ids)}
    index = {side: [position[i] for i in getattr(split, side)] for side in ("train", "val", "test")}

    def train(memo_bytes: int | None) -> tuple[list[dict], np.ndarray]:
        lazy = LazyArrays(prepared.arrays["video"].entries, *([] if memo_bytes is None else [memo_bytes]))
        fed = dataclasses.replace(prepared, arrays={**prepared.arrays, "video": lazy})
        L.seed_everything(SEED, verbose=False)
        module = plan.method.build(plan.task, plan.cfg, fed.shapes)
        test = training.TestSplit(fed, index["test"], split.name, [by_id[i] for i in split.test], plan.task)
        fitted = training.fit(plan, plan.cell_key(split.name, SEED), module, fed, labels, index, test, None, None)
        assert (len(lazy._memo) == 0) == (memo_bytes == 0)  # each path was the one under test
        return fitted.history, test.predict(module)[0]

    return train


@pytest.mark.slow  # generates the synthetic dataset and trains twice: about a minute on two busy cores
def test_training_on_kept_batch_reads_equals_per_item_memory_maps(tmp_path: Path) -> None:
    train = _fitted(tmp_path)
    history_mapped, predictions_mapped = train(0)
    history_kept, predictions_kept = train(None)
    assert history_kept == history_mapped
    assert len(history_kept) == 2 and all(entry["train_loss"] is not None for entry in history_kept)
    np.testing.assert_array_equal(predictions_kept, predictions_mapped)


def test_take_reads_in_row_order_and_keeps_what_fits(tmp_path: Path) -> None:
    cache = Cache(tmp_path)
    entries = []
    for k in range(3):
        entry, _ = cache.entry({"k": k}, lambda k=k: (np.full((k + 1, 2), k, dtype=np.uint8), {}), mapped=True)
        entries.append(entry.mapped)
    lazy = LazyArrays(entries, memo_bytes=5)  # rows of 2, 4 and 6 bytes: room for row 0 only
    arrays = lazy.take([2, 0, 2, 1])
    assert [a.tolist() for a in arrays] == [[[2, 2]] * 3, [[0, 0]], [[2, 2]] * 3, [[1, 1]] * 2]
    assert sorted(lazy._memo) == [0] and lazy._memo_used == 2  # read in row order: row 0 fits, row 1 would not
    assert isinstance(arrays[3], np.memmap) and isinstance(arrays[0], np.memmap)
