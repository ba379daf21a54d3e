"""Face crops with facenet-pytorch's MTCNN, under the crop policy of each official code.

The detector is ``facenet_pytorch.MTCNN`` with its library defaults (min face 20 px,
thresholds 0.6/0.7/0.7, factor 0.709) and the P/R/O-net weights that ship inside the wheel
(never downloaded). It runs on batches of ``batch_size`` same-sized frames (a uint8
``[N, H, W, 3]`` array; the boxes equal frame-by-frame detection). ``detect`` gives per frame
``None`` or a float ``[k, 4]`` array of ``x1, y1, x2, y2`` boxes.

Policies (``face_frames`` parameter ``policy``; ConCluGen ``src/utils/crop_face_util.py`` L102-314,
MMA-DFER ``data_utils/extract_faces_mfaw.py``, AVCE ``preprocessing.py``):

``conclugen_segments`` (ConCluGen ``src/utils/crop_face_util.py``): ``MTCNN(select_largest=False)``
    run on BGR frames (the code feeds OpenCV frames unchanged; ``detect_order`` switches), first
    box of each frame, truncated to int. A segment's box is the union of its detections, each
    of which overlaps the previous one; a detection that does not overlap ends the segment if
    it already spans more than 10 frames (the detection then starts the next segment), and is
    ignored otherwise (the code's ``continue``). The last segment is kept if it spans more than
    10 frames; at most 31 segments. Frames without a detection inside a segment are kept. Every
    kept frame is cropped to its segment's box and resized to ``size`` (180) square, aspect
    ratio not kept (the code resizes segments to the largest one, concatenates, then resizes to
    180×180: one bilinear resize here). Not reproduced, as code defects: the final frame is
    never detected, and the last segment is written from frame 0 rather than its start.
    Fallback ``no_face_segment_full_frame``: no segment survives (the code drops the clip from
    its annotations; a split cannot lose a sample here) → the whole frames, resized.
``mma_dfer_square`` (MMA-DFER ``data_utils/extract_faces_mfaw.py``): detection on RGB; per frame
    the union of all detected boxes, rounded, its top-left clipped at 0, then squared by
    growing the shorter side by ``diff // 2`` on each side; the crop (native resolution, clipped
    at the frame) is resized to ``size`` (224) square, MMA-DFER's ``GroupResize``.
    Fallback ``no_face_centre_square`` (the code's): a centred square of side ``min(H, W) / 2``.
``avce_margin`` (AVCE ``preprocessing.py``): ``MTCNN(image_size=224, margin=20, post_process=False)``
    forward on RGB: the largest box, grown by ``margin`` (in output pixels), cropped from the PIL
    image and resized bilinearly to ``size`` (224). Fallbacks (the code's): ``no_face_previous_crop``
    re-uses the previous frame's crop, ``no_face_first_frame_ones`` is the all-ones image (value 1
    of 255) before any face was found.

A clip's fallback reasons are counted once per clip in the run record.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from PIL import Image

# A module reference, not its names: importing bench.data.frames first imports this module
# (through the registry) while frames is still half-initialised.
from bench.data import frames as clips
from bench.data.transforms import Ordering, Output, Transform, file_source, positive, register

Policy = Literal["conclugen_segments", "mma_dfer_square", "avce_margin"]
DetectOrder = Literal["official", "rgb", "bgr"]
Boxes = list[np.ndarray | None]

POLICY_SIZE: dict[str, int] = {"conclugen_segments": 180, "mma_dfer_square": 224, "avce_margin": 224}
"""Each policy's output side in its official code."""

_OFFICIAL_ORDER = {"conclugen_segments": "bgr", "mma_dfer_square": "rgb", "avce_margin": "rgb"}
_SELECT_LARGEST = {"conclugen_segments": False, "mma_dfer_square": True, "avce_margin": True}
CONCLUGEN_MIN_SEGMENT = 10
CONCLUGEN_MAX_SEGMENTS = 31


@functools.lru_cache(maxsize=4)
def detector(select_largest: bool, device: str) -> Any:
    """A facenet-pytorch MTCNN with the library defaults and the weights shipped in its wheel."""
    from facenet_pytorch import MTCNN

    return MTCNN(select_largest=select_largest, keep_all=True, device=torch.device(device)).eval()


def detect(frames: Sequence[np.ndarray], select_largest: bool = True, batch_size: int = 32,
           device: str = "cpu") -> Boxes:
    """MTCNN boxes of every frame (uint8 RGB/BGR ``[H, W, 3]``): ``None`` or float32 ``[k, 4]``.

    Same-sized frames go to the detector ``batch_size`` at a time; frames of different sizes
    (a directory of per-frame crops) one at a time. With ``select_largest`` the largest box
    comes first, otherwise the detector's own order.
    """
    mtcnn = detector(select_largest, device)
    same = all(f.shape == frames[0].shape for f in frames)
    step = batch_size if same else 1
    boxes: Boxes = []
    for start in range(0, len(frames), step):
        batch = np.stack(frames[start : start + step])
        found, _ = mtcnn.detect(batch)
        boxes.extend(None if b is None else np.asarray(b, dtype=np.float32).reshape(-1, 4) for b in found)
    return boxes


def _overlap(a: tuple[int, ...], b: tuple[int, ...]) -> bool:
    """ConCluGen's ``overlap``: the closed boxes ``x1, y1, x2, y2`` share at least a point."""
    return not (a[0] > b[2] or a[2] < b[0] or a[3] < b[1] or a[1] > b[3])


def conclugen_segments(boxes: Boxes, height: int, width: int) -> list[tuple[int, int, tuple[int, int, int, int]]]:
    """ConCluGen's face segments of a clip: ``(start, end, (x1, y1, x2, y2))`` per kept segment."""
    segments = []
    start, union, previous = 0, None, None
    for i, found in enumerate(boxes):
        if found is None:
            continue
        box = tuple(int(v) for v in found[0])
        if previous is not None and not _overlap(box, previous):
            if i - start <= CONCLUGEN_MIN_SEGMENT:
                continue
            segments.append((start, i, union))
            if len(segments) >= CONCLUGEN_MAX_SEGMENTS:
                return segments
            start, union = i, None
        if union is None:
            union = (max(box[0], 0), max(box[1], 0), min(box[2], width), min(box[3], height))
        else:
            union = (max(min(box[0], union[0]), 0), max(min(box[1], union[1]), 0),
                     min(max(box[2], union[2]), width), min(max(box[3], union[3]), height))
        previous = box
    if union is not None and len(boxes) - start > CONCLUGEN_MIN_SEGMENT:
        segments.append((start, len(boxes), union))
    return segments


def _crop(frame: np.ndarray, x1: int, y1: int, x2: int, y2: int) -> np.ndarray:
    """``frame[y1:y2, x1:x2]`` with the start clipped at 0 and at least one pixel kept."""
    y1, x1 = max(0, min(y1, frame.shape[0] - 1)), max(0, min(x1, frame.shape[1] - 1))
    return frame[y1 : max(y2, y1 + 1), x1 : max(x2, x1 + 1)]


def mma_dfer_square_box(found: np.ndarray) -> tuple[int, int, int, int]:
    """MMA-DFER's square crop box (``x1, y1, x2, y2``) around the union of a frame's boxes."""
    x1, y1 = round(float(found[:, 0].min())), round(float(found[:, 1].min()))
    x2, y2 = round(float(found[:, 2].max())), round(float(found[:, 3].max()))
    x1, y1 = max(0, x1), max(0, y1)
    tall, wide = y2 - y1, x2 - x1
    if tall > wide:
        x1, x2 = x1 - (tall - wide) // 2, x2 + (tall - wide) // 2
    elif wide > tall:
        y1, y2 = y1 - (wide - tall) // 2, y2 + (wide - tall) // 2
    return x1, y1, x2, y2


def centre_square(frame: np.ndarray) -> np.ndarray:
    """MMA-DFER's no-face crop: the centred square of side ``min(H, W) / 2``."""
    h, w = frame.shape[:2]
    half = min(h // 2, w // 2) // 2
    return frame[h // 2 - half : h // 2 + half, w // 2 - half : w // 2 + half]


def avce_crop(frame: np.ndarray, box: np.ndarray, size: int, margin: int) -> np.ndarray:
    """facenet-pytorch ``extract_face`` on the PIL image, as AVCE's ``MTCNN(...)(img)`` does: uint8."""
    from facenet_pytorch import extract_face

    face = extract_face(Image.fromarray(frame), box, image_size=size, margin=margin)
    return face.permute(1, 2, 0).round().clamp(0, 255).to(torch.uint8).numpy()


def _policy_crops(policy: str, frames: list[np.ndarray], boxes: Boxes, size: int, margin: int
                  ) -> tuple[np.ndarray, tuple[str, ...]]:
    """The face crops of a clip under ``policy``, uint8 ``[N', size, size, 3]``, and its fallbacks."""
    if policy == "conclugen_segments":
        h, w = frames[0].shape[:2]
        segments = conclugen_segments(boxes, h, w)
        if not segments:
            return clips.resize_all(frames, size), ("no_face_segment_full_frame",)
        crops = [clips.resize(_crop(frames[i], *box), size, size)
                 for start, end, box in segments for i in range(start, end)]
        return np.stack(crops), ()
    if policy == "mma_dfer_square":
        crops, reasons = [], set()
        for frame, found in zip(frames, boxes):
            crop = _crop(frame, *mma_dfer_square_box(found)) if found is not None else centre_square(frame)
            if found is None:
                reasons.add("no_face_centre_square")
            crops.append(clips.resize(crop, size, size))
        return np.stack(crops), tuple(sorted(reasons))
    crops, reasons, previous = [], set(), None
    for frame, found in zip(frames, boxes):
        if found is not None:
            previous = avce_crop(frame, found[0], size, margin)
        elif previous is None:
            reasons.add("no_face_first_frame_ones")
        else:
            reasons.add("no_face_previous_crop")
        crops.append(previous if previous is not None else np.ones((size, size, 3), dtype=np.uint8))
    return np.stack(crops), tuple(sorted(reasons))


def face_crops(frames: list[np.ndarray], policy: str, size: int | None = None, margin: int = 20,
               detect_order: str = "official", batch_size: int = 32, device: str = "cpu"
               ) -> tuple[np.ndarray, tuple[str, ...]]:
    """Detect faces in RGB ``frames`` and crop them under ``policy``: uint8 ``[N', S, S, 3]`` and fallbacks."""
    order = _OFFICIAL_ORDER[policy] if detect_order == "official" else detect_order
    seen = [f[..., ::-1] for f in frames] if order == "bgr" else frames
    boxes = detect(seen, _SELECT_LARGEST[policy], batch_size, device)
    return _policy_crops(policy, frames, boxes, size or POLICY_SIZE[policy], margin)


@register
class FaceFrames(Transform):
    """Face crops of every frame of a clip (video file or frame directory), TSN-sampled at batch time.

    Stored: the crops of :func:`face_crops` under ``policy`` (see the module docstring), uint8
    ``[N', size, size, 3]`` (``size`` defaults to the policy's: 180, 224, 224). Items: TSN
    sampling as ``video_frames`` (``num_frames`` segments, ``test_clips`` clips in eval mode).
    ``margin`` is AVCE's and used by ``avce_margin`` only.
    """

    name = "face_frames"
    version = 1
    modality = "video"
    variable_length = True
    sampling_params = ("num_frames", "test_clips")
    runtime_params = ("batch_size", "device")

    @dataclasses.dataclass(frozen=True)
    class Params:
        policy: Policy = "mma_dfer_square"
        size: int | None = None
        margin: int = 20
        detect_order: DetectOrder = "official"
        ordering: Ordering = "numeric"
        num_frames: int = 16
        test_clips: int = 1
        batch_size: int = 32
        device: str = "cpu"

        def __post_init__(self) -> None:
            positive("face_frames", size=self.size, num_frames=self.num_frames, test_clips=self.test_clips,
                     batch_size=self.batch_size)

    def run(self, source: Path | str) -> Output:
        p = self.params
        frames = clips.read_clip(file_source(source, self.name), p.ordering)
        crops, reasons = face_crops(frames, p.policy, p.size, p.margin, p.detect_order, p.batch_size, p.device)
        return Output(crops, reasons)

    def sample(self, array: np.ndarray, train: bool, rng: np.random.Generator | None) -> np.ndarray:
        return clips.tsn_sample(array, self.params.num_frames, self.params.test_clips, train, rng)


@register
class FaceImage(Transform):
    """One frame image (AVCE's frame-level samples) as a face crop: uint8 ``[size, size, 3]``.

    The image is read with PIL and converted to RGB (AVCE's ``FaceDataset`` forgets the
    conversion, so grey images break its 3-channel normalisation). ``policy="avce_margin"``
    crops the largest MTCNN face with ``margin`` as AVCE's ``preprocessing.py``; with no face
    the whole image is resized instead (fallback ``no_face_whole_image``: there is no previous
    frame to re-use). ``policy="none"`` resizes the whole image (for pre-cropped faces).
    """

    name = "face_image"
    version = 1
    modality = "video"
    runtime_params = ("device",)

    @dataclasses.dataclass(frozen=True)
    class Params:
        policy: Literal["avce_margin", "none"] = "avce_margin"
        size: int = 224
        margin: int = 20
        device: str = "cpu"

        def __post_init__(self) -> None:
            positive("face_image", size=self.size)

    def run(self, source: Path | str) -> Output:
        p = self.params
        image = clips.read_image(file_source(source, self.name))
        if p.policy == "avce_margin":
            (found,) = detect([image], select_largest=True, batch_size=1, device=p.device)
            if found is not None:
                return Output(avce_crop(image, found[0], p.size, p.margin))
            return Output(clips.resize(image, p.size, p.size), ("no_face_whole_image",))
        return Output(clips.resize(image, p.size, p.size))
