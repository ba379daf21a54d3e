"""Video frames: decoding a clip (a video file or a folder of frame images), resizing, TSN sampling.

A clip is either a video file (decoded with PyAV) or a directory of frame images, the way
DFEW ships ``clip_224x224/<id>/`` and MMA-DFER stores its MAFW face crops (``0.jpg, 1.jpg,
…``, not zero-padded). Frame images are ordered by the integer in their name
(``ordering="numeric"``, the temporal order) or, as an explicit switch, by
``ordering="lexicographic"``: the ``glob`` + ``sort`` of the MMA-DFER loader
(``video_dataloader.py`` L138-139), which on MAFW's unpadded names gives
0, 1, 10, 100, … — the order its reported numbers were trained and tested with.

``video_frames`` caches the whole clip, resized, and samples at batch time: TSN segments
with a random frame per segment in training and the segment centre in evaluation
(MMA-DFER ``_get_train_indices`` / ``_get_test_indices``), optionally ``test_clips`` evenly
placed clips per test video.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from bench.data.media import read_video
from bench.data.transforms import (Ordering, Output, Transform, file_source, positive, register, tsn_clip_indices,
                                   tsn_indices)
from bench.errors import DataError

FRAME_SUFFIXES: tuple[str, ...] = (".jpg", ".jpeg", ".png", ".bmp")
"""Files of a frame directory that are frames; anything else in it is ignored."""

_INDEX = re.compile(r"\d+")


def frame_files(folder: Path, ordering: Ordering) -> list[Path]:
    """The frame images of ``folder`` in temporal (``numeric``) or ``lexicographic`` order.

    ``numeric`` needs every name to carry an integer index (its first run of digits) and
    no index twice; a name without one is a DataError naming it.
    """
    files = [p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in FRAME_SUFFIXES]
    if not files:
        raise DataError(f"{folder}: no frame images ({', '.join(FRAME_SUFFIXES)}) in this clip directory")
    if ordering == "lexicographic":
        return sorted(files, key=lambda p: str(p))
    keyed = []
    for path in files:
        found = _INDEX.search(path.stem)
        if found is None:
            raise DataError(
                f"{path}: frame image name has no frame index (expected names like 0.jpg, 1.jpg or 00001.jpg; "
                f"use ordering='lexicographic' for other names)"
            )
        keyed.append((int(found.group()), path))
    keyed.sort(key=lambda item: item[0])
    for (a, first), (b, second) in zip(keyed, keyed[1:]):
        if a == b:
            raise DataError(f"{folder}: frames {first.name} and {second.name} have the same index {a}")
    return [path for _, path in keyed]


def read_image(path: Path) -> np.ndarray:
    """One image file as uint8 RGB ``[H, W, 3]`` (grey, palette and RGBA images converted)."""
    try:
        with Image.open(path) as image:
            return np.asarray(image.convert("RGB"), dtype=np.uint8)
    except FileNotFoundError:
        raise DataError(f"{path}: no such file (expected an image)") from None
    except (UnidentifiedImageError, OSError, ValueError) as error:
        raise DataError(f"{path}: cannot decode image ({error}; corrupt or truncated file?)") from None


def read_clip(source: Path, ordering: Ordering = "numeric") -> list[np.ndarray]:
    """Every frame of a video file or frame directory, uint8 RGB ``[H, W, 3]`` each.

    The frames of a directory may differ in size (MMA-DFER's per-frame face crops do).
    """
    if source.is_dir():
        return [read_image(path) for path in frame_files(source, ordering)]
    return list(read_video(source).frames)


def resize(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """Bilinear (antialiased, like PIL's) resize of uint8 ``[..., H, W, 3]`` images, rounded to uint8."""
    x = torch.from_numpy(np.require(image, requirements=["C", "W"]))
    lead = x.shape[:-3]
    x = x.reshape(-1, *x.shape[-3:]).permute(0, 3, 1, 2).float()
    x = torch.nn.functional.interpolate(x, size=(height, width), mode="bilinear", align_corners=False,
                                        antialias=True)
    x = x.round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1)
    return x.reshape(*lead, height, width, 3).contiguous().numpy()


def resize_all(frames: list[np.ndarray], size: int) -> np.ndarray:
    """Frames of any sizes, each resized to ``size x size``: uint8 ``[N, size, size, 3]``."""
    if all(f.shape == frames[0].shape for f in frames):
        return resize(np.stack(frames), size, size)
    return np.stack([resize(f, size, size) for f in frames])


def tsn_sample(frames: np.ndarray, num_frames: int, test_clips: int, train: bool,
               rng: np.random.Generator | None) -> np.ndarray:
    """TSN sampling of a stored clip ``[N, ...]``: ``[T, ...]`` in train mode (random per segment),
    ``[T, ...]`` (centre) or ``[K, T, ...]`` (``test_clips = K > 1``) in eval mode."""
    if train:
        return np.asarray(frames[tsn_indices(len(frames), num_frames, "random", rng)])
    out = np.asarray(frames[tsn_clip_indices(len(frames), num_frames, test_clips)])
    return out[0] if test_clips == 1 else out


@register
class VideoFrames(Transform):
    """The clip's frames resized to ``size x size``, TSN-sampled at batch time (MMA-DFER, DFER-CLIP).

    Stored: every frame (of a video file, or a frame directory in ``ordering``) resized with
    :func:`resize` (MMA-DFER's test-time ``GroupResize``: the whole frame straight to S×S,
    aspect ratio not kept): uint8 ``[N, size, size, 3]``. ``count="mmadfer_lists"`` keeps the
    frames MMA-DFER's lists count: a frame directory inside a ``clips_faces/`` folder (its MAFW
    face crops) loses its last frame in ``ordering``, because the official MAFW lists give
    ``len(os.listdir(dir)) - 1`` as the frame count (``data_utils/process_ann_mfaw.py:26``) and
    the loader samples indices below it (``dataloader/video_dataloader.py:57-75``); DFEW's lists
    count every file. Items: :func:`tsn_sample` with
    ``num_frames`` segments; ``test_clips = K > 1`` gives eval items ``[K, T, size, size, 3]``
    for a K-clip test average. Version 1 sampled at preprocessing time (centre only).
    """

    name = "video_frames"
    version = 2
    modality = "video"
    variable_length = True
    sampling_params = ("num_frames", "test_clips")

    @dataclasses.dataclass(frozen=True)
    class Params:
        num_frames: int = 8
        size: int = 32
        ordering: Ordering = "numeric"
        test_clips: int = 1
        count: Literal["files", "mmadfer_lists"] = "files"

        def __post_init__(self) -> None:
            positive("video_frames", num_frames=self.num_frames, size=self.size, test_clips=self.test_clips)

    def run(self, source: Path | str) -> Output:
        path = file_source(source, self.name)
        frames = read_clip(path, self.params.ordering)
        if self.params.count == "mmadfer_lists" and path.is_dir() and path.parent.name == "clips_faces" \
                and len(frames) > 1:
            frames = frames[:-1]
        return Output(resize_all(frames, self.params.size))

    def sample(self, array: np.ndarray, train: bool, rng: np.random.Generator | None) -> np.ndarray:
        return tsn_sample(array, self.params.num_frames, self.params.test_clips, train, rng)
