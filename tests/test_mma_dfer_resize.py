"""MMA-DFER's ``resize`` switch against frames resized by PIL itself (the code's ``Image.BILINEAR``).

The fixture ``fixtures/mma_dfer_pil_resize.npz`` holds two seeded 40 x 48 frames and their PIL
resizes (its ``about`` entry says how the inputs were drawn and which Pillow made it).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from bench_methods.mma_dfer import MMADFER
from bench_methods.mma_dfer.augment import augment_clips, crop_box
from bench_methods.mma_dfer.config import MMADFERConfig
from bench_methods.mma_dfer.module import to_model_size
from bench_methods.mma_dfer.resize import resize_frames

from bench import config

FIXTURE = np.load(Path(__file__).parent / "fixtures" / "mma_dfer_pil_resize.npz")

pytestmark = pytest.mark.usefixtures("one_thread")


def frames(array: np.ndarray) -> torch.Tensor:
    """uint8 ``[N, H, W, 3]`` as the model's frames ``[N, 3, H, W]`` in [0, 1]."""
    return torch.from_numpy(array).permute(0, 3, 1, 2).float() / 255.0


def grey_levels(tensor: torch.Tensor) -> np.ndarray:
    return (tensor * 255.0).round().permute(0, 2, 3, 1).numpy().astype(np.int64)


def test_pil_gives_the_fixtures_frames_and_torch_does_not() -> None:
    inputs = frames(FIXTURE["inputs"])
    for key, size in (("down_32", (32, 32)), ("up_56", (56, 56))):
        want = FIXTURE[key].astype(np.int64)
        assert np.array_equal(grey_levels(resize_frames(inputs, size, "pil")), want), key
        torch_levels = grey_levels(resize_frames(inputs, size, "torch"))
        off = np.abs(torch_levels - want)
        assert off.max() >= 1, key  # the switch changes the frames the model sees
        assert off.max() <= 2 and off.mean() < 0.5, key  # about one grey level: the same filter, other arithmetic


def test_the_training_crop_is_resized_by_pil_under_the_code_preset() -> None:
    top, left, h, w = (int(v) for v in FIXTURE["crop_box"])
    inputs = frames(FIXTURE["inputs"])
    crop = resize_frames(inputs[..., top:top + h, left:left + w], (32, 32), "pil")
    assert np.array_equal(grey_levels(crop), FIXTURE["crop_32"].astype(np.int64))
    # augment_clips: the same draws (brightness, box, flip) with either resize, the crop resized as asked
    clip = inputs[None]  # one clip of two frames
    torch_out = augment_clips(clip, torch.Generator().manual_seed(4), size=32, resize="torch")
    pil_out = augment_clips(clip, torch.Generator().manual_seed(4), size=32, resize="pil")
    generator = torch.Generator().manual_seed(4)
    factor = 0.5 + float(torch.rand((), generator=generator))
    t, lft, hh, ww = crop_box(40, 48, generator)
    flip = float(torch.rand((), generator=generator)) < 0.5
    expected = resize_frames((clip[0] * factor).clamp(0, 1)[..., t:t + hh, lft:lft + ww], (32, 32), "pil")
    torch.testing.assert_close(pil_out[0], expected.flip(-1) if flip else expected)
    assert (pil_out - torch_out).abs().max() > 0


def test_code_preset_resizes_with_pil_and_paper_keeps_its_configuration() -> None:
    def resolve(preset: str) -> MMADFERConfig:
        return config.resolve(MMADFERConfig, MMADFER.presets, preset, {}, "mma_dfer")

    assert resolve("code").resize == "pil" and resolve("paper").resize == "torch"
    assert "resize" not in config.to_dict(resolve("paper"))  # cells made before the switch keep their hash
    video = frames(FIXTURE["inputs"])[None]
    assert torch.equal(to_model_size(video, 32, "pil")[0], resize_frames(video[0], (32, 32), "pil"))
    assert not torch.equal(to_model_size(video, 32, "pil"), to_model_size(video, 32, "torch"))
