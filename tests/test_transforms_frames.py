"""video_frames on real files: frame directories and their ordering, TSN sampling at batch time."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from bench.api import Sample, TransformSpec
from bench.data.cache import Cache
from bench.data.frames import frame_files
from bench.data.media import write_video
from bench.data.prepare import ArrayDataset, prepare
from bench.data.transforms import get_transform, tsn_clip_indices
from bench.errors import ConfigError, DataError


def _level(k: int) -> int:
    """The grey level that encodes frame index ``k``."""
    return 10 + 6 * k


def _frame_dir(folder: Path, count: int, name: str = "{k}.png", size: tuple[int, int] = (24, 32)) -> Path:
    """A clip as a directory of PNG frames whose brightness encodes their index (MAFW-style names)."""
    folder.mkdir(parents=True)
    for k in range(count):
        Image.fromarray(np.full((*size, 3), _level(k), dtype=np.uint8)).save(folder / name.format(k=k))
    return folder


def _indices(frames: np.ndarray) -> list[int]:
    """Decode each frame's index back from its brightness."""
    return [int(round((float(f.mean()) - 10) / 6)) for f in frames]


def _video_frames(**params: object):
    return get_transform(TransformSpec("video_frames", params))


def test_numeric_and_lexicographic_order_of_unpadded_names(tmp_path: Path) -> None:
    clip = _frame_dir(tmp_path / "00001", 12)
    numeric = _video_frames(size=8).apply(clip)
    assert numeric.shape == (12, 8, 8, 3) and _indices(numeric) == list(range(12))
    lexicographic = _video_frames(size=8, ordering="lexicographic").apply(clip)
    # glob + sort, as the MMA-DFER loader: 0, 1, 10, 11, 2, ..., 9
    assert _indices(lexicographic) == [0, 1, 10, 11, 2, 3, 4, 5, 6, 7, 8, 9]
    assert [p.name for p in frame_files(clip, "numeric")][:3] == ["0.png", "1.png", "2.png"]


def test_zero_padded_names_agree_in_both_orders(tmp_path: Path) -> None:
    clip = _frame_dir(tmp_path / "dfew", 11, name="{k:05d}.png")
    (clip / "notes.txt").write_text("not a frame")
    a = _video_frames(size=8).apply(clip)
    b = _video_frames(size=8, ordering="lexicographic").apply(clip)
    assert _indices(a) == _indices(b) == list(range(11))


def test_frame_directory_equals_video_file(tmp_path: Path) -> None:
    clip = _frame_dir(tmp_path / "frames", 6, size=(32, 32))
    frames = np.stack([np.full((32, 32, 3), _level(k), dtype=np.uint8) for k in range(6)])
    video = tmp_path / "clip.mp4"
    write_video(video, frames, fps=6.0)
    from_dir, from_mp4 = _video_frames(size=16).apply(clip), _video_frames(size=16).apply(video)
    assert from_dir.shape == from_mp4.shape == (6, 16, 16, 3)
    assert np.abs(from_dir.astype(int) - from_mp4.astype(int)).max() <= 3  # H.264 is lossy


def test_frames_of_different_sizes_are_each_resized(tmp_path: Path) -> None:
    clip = tmp_path / "crops"
    clip.mkdir()
    for k, size in enumerate([(40, 40), (52, 50), (31, 33)]):
        Image.fromarray(np.full((*size, 3), _level(k), dtype=np.uint8)).save(clip / f"{k}.jpg", quality=100)
    out = _video_frames(size=8).apply(clip)
    assert out.shape == (3, 8, 8, 3) and _indices(out) == [0, 1, 2]


def test_bad_frame_directories(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DataError, match="empty: no frame images"):
        _video_frames().apply(empty)
    named = _frame_dir(tmp_path / "named", 2)
    Image.fromarray(np.zeros((24, 32, 3), np.uint8)).save(named / "cover.png")
    with pytest.raises(DataError, match="cover.png: frame image name has no frame index"):
        _video_frames().apply(named)
    assert len(_video_frames(ordering="lexicographic").apply(named)) == 3  # the switch takes any names
    twice = _frame_dir(tmp_path / "twice", 2)
    Image.fromarray(np.zeros((24, 32, 3), np.uint8)).save(twice / "001.png")
    with pytest.raises(DataError, match="same index 1"):
        _video_frames().apply(twice)
    broken = _frame_dir(tmp_path / "broken", 3)
    (broken / "1.png").write_bytes(b"\x89PNG truncated")
    with pytest.raises(DataError, match=r"broken/1.png: cannot decode image"):
        _video_frames().apply(broken)
    with pytest.raises(ConfigError, match="'ordering': 'natural' is not one of 'numeric', 'lexicographic'"):
        _video_frames(ordering="natural")


def test_multi_clip_indices_hand_computed() -> None:
    # 32 frames, 8 segments (tick 4): one clip = centres 2, 6, ...; two clips at tick/4 and 3 tick/4.
    assert tsn_clip_indices(32, 8, 1).tolist() == [[2, 6, 10, 14, 18, 22, 26, 30]]
    assert tsn_clip_indices(32, 8, 2).tolist() == [[1, 5, 9, 13, 17, 21, 25, 29], [3, 7, 11, 15, 19, 23, 27, 31]]
    assert tsn_clip_indices(5, 8, 2).tolist() == [[0, 1, 2, 3, 4, 4, 4, 4]] * 2  # short clip: edge-padded


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("clips")
    samples = [Sample(f"c{n}", 0, {"video": _frame_dir(root / f"c{n}", n)}) for n in (37, 5, 16)]
    spec = {"video": TransformSpec("video_frames", {"num_frames": 8, "size": 8, "test_clips": 2})}
    return prepare(samples, spec, Cache(root / "cache"))


def test_eval_items_are_deterministic_multi_clip(dataset) -> None:
    assert dataset.shapes["video"] == (8, 3, 8, 8)
    assert dataset.eval_shapes["video"] == (2, 8, 3, 8, 8)
    evaluation = ArrayDataset(dataset, None, [0, 1, 2])
    batch = next(iter(evaluation.loader(batch_size=3, shuffle=False, seed=0)))
    assert tuple(batch["video"].shape) == (3, 2, 8, 3, 8, 8)
    clips = batch["video"].permute(0, 1, 2, 4, 5, 3).numpy() * 255
    assert [_indices(c) for c in clips[0]] == tsn_clip_indices(37, 8, 2).tolist()
    assert [_indices(c) for c in clips[1]] == [[0, 1, 2, 3, 4, 4, 4, 4]] * 2
    assert _indices(clips[2][0]) == [0, 2, 4, 6, 8, 10, 12, 14]


def test_train_items_random_within_segments_seeded_per_pass(dataset) -> None:
    train = ArrayDataset(dataset, None, [0, 1, 2], train=True)

    def passes(seed: int, count: int) -> list[list[list[int]]]:
        loader = train.loader(batch_size=3, shuffle=False, seed=seed)
        out = []
        for _ in range(count):
            (batch,) = list(loader)
            out.append([_indices(v.permute(0, 2, 3, 1).numpy() * 255) for v in batch["video"]])
        return out

    first = passes(seed=7, count=12)
    for picks in first:
        long, short, exact = picks
        # 37 frames: avg = 4, frame 4k + randint(4) (frames 32..36 never); 16 frames: frame 2k + randint(2)
        assert all(4 * k <= p < 4 * k + 4 for k, p in enumerate(long))
        assert all(2 * k <= p < 2 * k + 2 for k, p in enumerate(exact))
        assert short == [0, 1, 2, 3, 4, 4, 4, 4]
    assert len({tuple(p[0]) for p in first}) > 6  # each pass draws anew
    assert passes(seed=7, count=12) == first  # ... reproducibly
    assert passes(seed=8, count=12) != first
    # Batching does not change an item's sampling: one at a time gives the same frames.
    one = train.loader(batch_size=1, shuffle=False, seed=7)
    items = [_indices(b["video"][0].permute(0, 2, 3, 1).numpy() * 255) for b in one]
    assert items == first[0]
