"""AVCE's image pipeline on the batch (Sec. 4.2; code ``main.py`` L272-288), on cached frames.

bench caches each face once (``face_image``: the MTCNN crop of ``face_size`` = 224, or the
stored crop resized to ``resize``); per batch this module does what the code's torchvision
transforms do per image: ``Resize(256)`` (only when the cached side differs), then in
training ``RandomCrop(224)`` with an independent offset per image (and, with ``random_flip``,
the code's ``RandomHorizontalFlip``), at test ``CenterCrop(224)``, then the ImageNet
``Normalize``. Random draws come from torch's global generator, which the runner reseeds
every epoch.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def resized(images: torch.Tensor, side: int) -> torch.Tensor:
    """[B, 3, H, W] in [0, 1] resized to side × side (bilinear, antialiased like PIL) unless already so."""
    if images.shape[-2:] == (side, side):
        return images
    return F.interpolate(images, size=(side, side), mode="bilinear", align_corners=False, antialias=True)


def centre_crop(images: torch.Tensor, size: int) -> torch.Tensor:
    """torchvision ``CenterCrop``: top = round((H − size) / 2), left likewise."""
    top = int(round((images.shape[-2] - size) / 2.0))
    left = int(round((images.shape[-1] - size) / 2.0))
    return images[..., top : top + size, left : left + size]


def random_crop(images: torch.Tensor, size: int) -> torch.Tensor:
    """torchvision ``RandomCrop`` per image: offsets uniform in [0, H − size] × [0, W − size]."""
    b, _, h, w = images.shape
    tops = torch.randint(0, h - size + 1, (b,)).tolist()
    lefts = torch.randint(0, w - size + 1, (b,)).tolist()
    return torch.stack([img[:, t : t + size, l : l + size] for img, t, l in zip(images, tops, lefts)])


def random_flip(images: torch.Tensor) -> torch.Tensor:
    """torchvision ``RandomHorizontalFlip`` (p = 0.5) per image."""
    flip = torch.rand(images.shape[0]) < 0.5
    return torch.where(flip.to(images.device)[:, None, None, None], images.flip(-1), images)


def normalised(images: torch.Tensor) -> torch.Tensor:
    """ImageNet mean/std normalisation of [B, 3, H, W] in [0, 1]."""
    mean = images.new_tensor(IMAGENET_MEAN)[None, :, None, None]
    std = images.new_tensor(IMAGENET_STD)[None, :, None, None]
    return (images - mean) / std


def pipeline(images: torch.Tensor, resize: int, crop: int, train: bool, flip: bool) -> torch.Tensor:
    """The code's train (resize, random crop, flip) or test (resize, centre crop) transform, normalised."""
    images = resized(images, resize)
    if not train:
        return normalised(centre_crop(images, crop))
    images = random_crop(images, crop)
    return normalised(random_flip(images) if flip else images)
