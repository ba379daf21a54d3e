"""MMA-DFER's frame resizing: torch's antialiased bilinear (default) or PIL's bilinear (the code's).

The official loader resizes PIL images: the training crop with ``Image.BILINEAR``
(``dataloader/video_transform.py:271``, ``GroupRandomSizedCrop``) and the test frame the same way
(``:229``, ``GroupResize``), on 8-bit RGB, before ``ToTorchFormatTensor`` divides by 255. ``pil``
does exactly that to frames in [0, 1]: rounds them to 8 bits, resizes each frame with PIL and
divides by 255. ``torch`` interpolates the floats with ``antialias=True``, whose filter is
PIL's but whose arithmetic is not (floats against PIL's 8-bit fixed point and rounding), so the
two differ by about one grey level.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

Resize = Literal["torch", "pil"]


def resize_frames(frames: torch.Tensor, size: tuple[int, int], how: Resize = "torch") -> torch.Tensor:
    """Frames ``(..., 3, H, W)`` in [0, 1] resized to ``size`` = (height, width), bilinear."""
    if how == "torch":
        flat = frames.flatten(0, -4) if frames.dim() > 3 else frames[None]
        out = F.interpolate(flat, size=size, mode="bilinear", align_corners=False, antialias=True)
        return out.unflatten(0, frames.shape[:-3]) if frames.dim() > 3 else out[0]
    eight_bit = (frames.detach() * 255.0).round().clamp(0, 255).to(torch.uint8).cpu()
    images = eight_bit.reshape(-1, *eight_bit.shape[-3:]).permute(0, 2, 3, 1).numpy()
    height, width = size
    resized = np.stack([np.asarray(Image.fromarray(image).resize((width, height), Image.BILINEAR))
                        for image in images])
    out = torch.from_numpy(resized).permute(0, 3, 1, 2).to(frames.device, frames.dtype) / 255.0
    return out.reshape(*frames.shape[:-2], height, width)
