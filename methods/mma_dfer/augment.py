"""MMA-DFER's train-time clip augmentation, applied to a batch of frames on the model's device.

The official loader (``dataloader/video_dataloader.py:173-178``,
``dataloader/video_transform.py:233-277``) draws, once per clip and for all its 16 frames:
``ColorJitter(brightness=0.5)`` (a factor in U[0.5, 1.5], clipped), ``GroupRandomSizedCrop(S)``
(area fraction U[0.08, 1], aspect U[3/4, 4/3], a random width/height swap, up to 10 tries,
then a bilinear resize to S x S) and a horizontal flip with p = 0.5. The crop is taken from
the frames as stored: S x S with ``crop_from="cached"``, or ``source_size`` (224, DFEW's
frames) with ``crop_from="source"``, as the code crops the source frame; either way the result
is resized to S x S (``resize``: torch's antialiased bilinear, or PIL's as the code, see
:mod:`.resize`). The fallback after 10 failed tries (scale, then a random S x S crop) is
the whole frame resized to S x S here (the identity on an S x S frame).
"""

from __future__ import annotations

import math

import torch

from bench_methods.mma_dfer.resize import Resize, resize_frames


def crop_box(height: int, width: int, generator: torch.Generator | None = None) -> tuple[int, int, int, int]:
    """``(top, left, h, w)`` of a TSN random-sized crop; the whole frame when 10 tries fail."""

    def uniform(low: float, high: float) -> float:
        return low + (high - low) * float(torch.rand((), generator=generator))

    for _ in range(10):
        area = uniform(0.08, 1.0) * height * width
        aspect = uniform(3 / 4, 4 / 3)
        w, h = round(math.sqrt(area * aspect)), round(math.sqrt(area / aspect))
        if float(torch.rand((), generator=generator)) < 0.5:
            w, h = h, w
        if 0 < w <= width and 0 < h <= height:
            left = int(torch.randint(0, width - w + 1, (), generator=generator))
            top = int(torch.randint(0, height - h + 1, (), generator=generator))
            return top, left, h, w
    return 0, 0, height, width


def augment_clips(video: torch.Tensor, generator: torch.Generator | None = None,
                  size: int | None = None, resize: Resize = "torch") -> torch.Tensor:
    """Brightness, random-sized crop and flip, drawn per clip: ``(B, T, 3, H, W)`` in [0, 1] →
    ``(B, T, 3, size, size)`` (``size`` None: ``H x W``), the crop resized as ``resize`` says."""
    height, width = video.shape[-2:]
    out_hw = (height, width) if size is None else (size, size)
    out = []
    for clip in video:
        factor = 0.5 + float(torch.rand((), generator=generator))
        top, left, h, w = crop_box(height, width, generator)
        clip = (clip * factor).clamp(0.0, 1.0)[..., top:top + h, left:left + w]
        if (h, w) != out_hw:
            clip = resize_frames(clip, out_hw, resize)
        if float(torch.rand((), generator=generator)) < 0.5:
            clip = clip.flip(-1)
        out.append(clip)
    return torch.stack(out)
