"""Adapters serving every method's inputs: the video of a frame folder (DFEW's layout) for ConCluGen."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from bench.api import TransformSpec
from bench.data.media import read_video, write_video
from bench.data.transforms import get_transform
from bench_methods.conclugen import features  # noqa: F401  (registers the transform)

pytestmark = pytest.mark.usefixtures("one_thread")


def _features(source: Path, folder_fps: float) -> np.ndarray:
    spec = TransformSpec("conclugen_video_features", {"backbone_2d": "tiny", "backbone_3d": "tiny", "size": 32,
                                                      "folder_fps": folder_fps, "views": 1})
    return get_transform(spec).run(source).array


def test_conclugen_reads_a_frame_folder_as_the_video_it_was_decoded_from(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, size=(20, 40, 48, 3), dtype=np.uint8)
    video = tmp_path / "clip.mp4"
    write_video(video, frames, 10.0)
    decoded = read_video(video)
    folder = tmp_path / "clip"
    folder.mkdir()
    for index, image in enumerate(decoded.frames, 1):  # lossless PNG, numbered as DFEW's 00001.jpg ...
        Image.fromarray(image).save(folder / f"{index:05d}.png")
    from_file = _features(video, folder_fps=25.0)
    assert np.array_equal(_features(folder, folder_fps=10.0), from_file)  # the file's own rate: identical
    # another assumed rate picks other frames for the 1 fps and 16 fps streams
    assert not np.allclose(_features(folder, folder_fps=40.0), from_file)
