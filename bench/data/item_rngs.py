"""The random generators of train-time sampling: one per (seed, pass, row), for one item or a whole batch.

An item's generator is ``numpy.random.default_rng([seed, pass_index, row])``: a PCG64 seeded
through numpy's ``SeedSequence``. Building one costs about 20 µs, mostly the sequence's hashing,
which for a batch of 32 clips was a noticeable part of a small model's training step.
:class:`BatchRngs` gives the very same generators for many rows at once: it runs the hashing
(``SeedSequence`` as documented in ``numpy/random/bit_generator.pyx``: ``mix_entropy``, then
``generate_state(4, uint64)``) on all rows together in numpy, turns each row's four words into
a PCG64 state the way ``PCG64.__init__`` does (``pcg64_set_seed``: ``state = 0``,
``inc = 2·seq + 1``, one step, add the seed word, one step), and loads it into one reused
generator. ``tests/test_item_rngs.py`` checks the states and the draws against ``default_rng``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np

_MASK32 = 0xFFFFFFFF
_INIT_A, _MULT_A = 0x43B0D7E5, 0x931E8875
_INIT_B, _MULT_B = 0x8B51F9DD, 0x58F38DED
_MIX_MULT_L, _MIX_MULT_R = 0xCA01F9DD, 0x4973F715
_XSHIFT = np.uint32(16)
_POOL_WORDS = 4
_PCG_MULTIPLIER = (2549297995355413924 << 64) + 4865540595714422341
_MASK128 = (1 << 128) - 1


def item_rng(seed: int, pass_index: int, row: int) -> np.random.Generator:
    """The generator of one train-mode item: the same for every modality of the sample."""
    return np.random.default_rng([seed, pass_index, row])


class _HashConstant:
    """SeedSequence's running hash constant: the same sequence of values for every entropy."""

    def __init__(self, start: int, multiplier: int) -> None:
        self.value, self.multiplier = start, multiplier

    def mix_in(self, words: np.ndarray) -> np.ndarray:
        """``hashmix`` of every word with the current constant (then advanced)."""
        words = words ^ np.uint32(self.value)
        self.value = (self.value * self.multiplier) & _MASK32
        words = words * np.uint32(self.value)
        return words ^ (words >> _XSHIFT)


def _mix(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    result = np.uint32(_MIX_MULT_L) * x - np.uint32(_MIX_MULT_R) * y
    return result ^ (result >> _XSHIFT)


def _seed_words(entropy: np.ndarray) -> np.ndarray:
    """``SeedSequence(row).generate_state(4, np.uint64)`` of each row of ``entropy`` (uint32 ``[N, W]``,
    ``W <= 4`` words, no spawn key): uint64 ``[N, 4]``."""
    constant = _HashConstant(_INIT_A, _MULT_A)
    zeros = np.zeros(len(entropy), dtype=np.uint32)
    pool = [constant.mix_in(entropy[:, i] if i < entropy.shape[1] else zeros) for i in range(_POOL_WORDS)]
    for source in range(_POOL_WORDS):
        for target in range(_POOL_WORDS):
            if source != target:
                pool[target] = _mix(pool[target], constant.mix_in(pool[source]))
    constant = _HashConstant(_INIT_B, _MULT_B)
    out = np.stack([constant.mix_in(pool[i % _POOL_WORDS]) for i in range(2 * _POOL_WORDS)], axis=1)
    return out[:, 0::2].astype(np.uint64) | (out[:, 1::2].astype(np.uint64) << np.uint64(32))


def _pcg64_state(words: Sequence[int]) -> tuple[int, int]:
    """PCG64's (state, increment) after seeding from four 64-bit words (seed high, low; sequence high, low)."""
    seed = (int(words[0]) << 64) | int(words[1])
    increment = (((int(words[2]) << 64) | int(words[3])) << 1 | 1) & _MASK128
    state = increment  # 0 · multiplier + increment
    state = (state + seed) & _MASK128
    return (state * _PCG_MULTIPLIER + increment) & _MASK128, increment


class BatchRngs:
    """``item_rng(seed, pass_index, row)`` for each of many rows, built together.

    The generators yielded are one object, reloaded for each row: draw from it before taking the
    next. Values outside ``[0, 2**32)`` (more than one SeedSequence word) take :func:`item_rng`.
    """

    def __init__(self) -> None:
        self._bits = np.random.PCG64(0)
        self._generator = np.random.Generator(self._bits)

    def __call__(self, seed: int, pass_index: int, rows: Sequence[int]) -> Iterator[np.random.Generator]:
        rows = [int(row) for row in rows]
        if not all(0 <= value <= _MASK32 for value in (seed, pass_index, min(rows, default=0), max(rows, default=0))):
            yield from (item_rng(seed, pass_index, row) for row in rows)
            return
        entropy = np.asarray([[seed, pass_index, row] for row in rows], dtype=np.uint32).reshape(len(rows), 3)
        for words in _seed_words(entropy).tolist():
            state, increment = _pcg64_state(words)
            self._bits.state = {"bit_generator": "PCG64", "state": {"state": state, "inc": increment},
                                "has_uint32": 0, "uinteger": 0}
            yield self._generator
