"""The GloVe word-vector transform (MPUC's CMU-MOSEI text input) on small generated vector files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bench.api import TransformSpec
from bench.data.catalog import get_transform
from bench.data.transforms import SHORT_WRAPPED
from bench.errors import ConfigError, DataError

VECTORS = {"I": [1.0, 0.0, 0.5, -1.0], "feel": [0.25, 2.0, 0.0, 0.0], "happy": [-3.0, 0.5, 1.5, 4.0]}


def vectors_file(tmp_path: Path, rows: dict[str, list[float]] = VECTORS, name: str = "glove.4d.txt") -> Path:
    path = tmp_path / name
    path.write_text("".join(f"{w} {' '.join(str(v) for v in vec)}\n" for w, vec in rows.items()), encoding="utf-8")
    return path


def glove(path: Path, **params: object):  # type: ignore[no-untyped-def]
    return get_transform(TransformSpec("text_glove", {"vectors_path": str(path), "dim": 4, **params}))


def test_each_word_gets_its_vector_and_unknown_words_zeros(tmp_path: Path) -> None:
    transform = glove(vectors_file(tmp_path), num_frames=3)
    out = transform.run("I feel happy")
    np.testing.assert_array_equal(out.array, np.asarray([VECTORS["I"], VECTORS["feel"], VECTORS["happy"]], np.float32))
    assert out.fallbacks == ()
    unknown = transform.run("I feel Happy")  # GloVe 840B is cased: 'Happy' is not 'happy'
    np.testing.assert_array_equal(unknown.array[2], np.zeros(4))
    assert unknown.fallbacks == ("oov_words_zero",)
    empty = transform.run("   ")
    assert empty.array.shape == (1, 4) and empty.fallbacks == ("no_words_zero",)


def test_items_are_word_crops_that_wrap_when_short(tmp_path: Path) -> None:
    transform = glove(vectors_file(tmp_path), num_frames=5)
    words = transform.run("I feel happy").array
    item = transform.sample(words, train=False, rng=None)
    np.testing.assert_array_equal(item, words[[0, 1, 2, 0, 1]])
    assert transform.item_fallbacks(words) == (SHORT_WRAPPED,)
    long = np.arange(40, dtype=np.float32).reshape(10, 4)
    crop = transform.sample(long, train=True, rng=np.random.default_rng(0))
    start = int(crop[0, 0]) // 4
    np.testing.assert_array_equal(crop, long[start:start + 5])


def test_identity_follows_the_file_content(tmp_path: Path) -> None:
    first = glove(vectors_file(tmp_path)).describe()
    changed = dict(VECTORS, happy=[0.0, 0.0, 0.0, 1.0])
    second = glove(vectors_file(tmp_path, changed)).describe()
    assert first["params"] == second["params"] and first["vectors_digest"] != second["vectors_digest"]


def test_bad_vector_files_name_the_file_and_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="needs parameter 'vectors_path'"):
        get_transform(TransformSpec("text_glove", {}))
    with pytest.raises(ConfigError, match="is not a file"):
        glove(tmp_path / "absent.txt")
    wrong_dim = vectors_file(tmp_path, {"I": [1.0, 2.0, 3.0]}, "three.txt")
    with pytest.raises(DataError, match=r"three.txt:1: expected a word and 4 values, got 3 values"):
        glove(wrong_dim).run("I")
    bad = tmp_path / "bad.txt"
    bad.write_text("I 1 2 3 4\nfeel 1 x 3 4\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"bad.txt:2: a value is not a number"):
        glove(bad).run("feel")
