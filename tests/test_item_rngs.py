"""bench.data.item_rngs: the batch-built generators are numpy's ``default_rng([seed, pass, row])``, state
for state and draw for draw, and a training batch samples the same clips either way."""

from __future__ import annotations

import numpy as np
import pytest

from bench.data.item_rngs import BatchRngs, _pcg64_state, _seed_words, item_rng


def test_seed_words_are_seedsequences_state() -> None:
    draw = np.random.default_rng(20261208)
    entropy = draw.integers(0, 2**32, size=(64, 3), dtype=np.uint64)
    words = _seed_words(entropy.astype(np.uint32))
    for row, got in zip(entropy.tolist(), words, strict=True):
        assert got.tolist() == np.random.SeedSequence(row).generate_state(4, np.uint64).tolist()


def test_pcg64_state_matches_numpys_seeding() -> None:
    for row in ([0, 0, 0], [7, 3, 191], [2**32 - 1, 2**32 - 1, 2**32 - 1]):
        words = np.random.SeedSequence(row).generate_state(4, np.uint64).tolist()
        state = np.random.PCG64(np.random.SeedSequence(row)).state["state"]
        assert _pcg64_state(words) == (state["state"], state["inc"])


@pytest.mark.parametrize(("seed", "pass_index", "rows"), [
    (0, 0, [0, 1, 2, 3]),
    (1, 5, [191, 4, 4, 77]),            # a row twice in one batch (sampling with replacement)
    (123456789, 999, list(range(40))),
    (2**32 - 1, 2**32 - 1, [2**32 - 1]),  # the largest one-word values
    (2**32, 0, [1, 2]),                  # two-word values take item_rng itself
    (3, 0, []),
])
def test_batch_generators_draw_what_item_rng_draws(seed: int, pass_index: int, rows: list[int]) -> None:
    got = []
    for generator in BatchRngs()(seed, pass_index, rows):  # one reused object: draw before the next
        got.append((generator.integers(0, 13, size=8).tolist(), generator.random(3).tolist()))
    expected = []
    for row in rows:
        reference = item_rng(seed, pass_index, row)
        expected.append((reference.integers(0, 13, size=8).tolist(), reference.random(3).tolist()))
    assert got == expected
