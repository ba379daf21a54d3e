"""MTCNN face crops under each official policy, on a real face (scikit-image's astronaut)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from skimage import data

from bench.api import Sample, TransformSpec
from bench.data import faces
from bench.data.cache import Cache
from bench.data.frames import resize
from bench.data.media import write_video
from bench.data.prepare import prepare
from bench.data.catalog import get_transform

ASTRONAUT_BOX = np.array([181.1, 62.2, 267.7, 172.1])  # ENVIRONMENT.md: MTCNN(keep_all=True).detect
SIDE = 128  # test frames: 128x128 windows of the astronaut at half size (face about 44x55 px), fast to detect


@pytest.fixture(scope="module")
def astronaut() -> np.ndarray:
    return data.astronaut()


@pytest.fixture(scope="module")
def half(astronaut: np.ndarray) -> np.ndarray:
    return resize(astronaut, 256, 256)


def _window(half: np.ndarray, x0: int, y0: int) -> np.ndarray:
    return np.ascontiguousarray(half[y0 : y0 + SIDE, x0 : x0 + SIDE])


@pytest.fixture(scope="module")
def window(half: np.ndarray) -> np.ndarray:
    return _window(half, 48, 0)


def _blank(shape: tuple[int, ...] = (SIDE, SIDE, 3)) -> np.ndarray:
    return np.full(shape, 128, dtype=np.uint8)


def test_astronaut_box_as_documented(astronaut: np.ndarray) -> None:
    (boxes,) = faces.detect([astronaut])
    assert boxes.shape == (1, 4) and boxes.dtype == np.float32
    np.testing.assert_allclose(boxes[0], ASTRONAUT_BOX, atol=2.0)


def test_batched_detection_equals_one_at_a_time(half: np.ndarray) -> None:
    offsets = [(48, 0), (40, 6), (56, 3), (44, 0)]  # jittered windows
    frames = [_window(half, x, y) for x, y in offsets] + [_blank()]
    batched = faces.detect(frames, batch_size=8)
    single = faces.detect(frames, batch_size=1)
    assert batched[-1] is None and single[-1] is None
    for (x, y), got, alone in zip(offsets, batched, single):
        np.testing.assert_allclose(got[0], alone[0], atol=1e-3)
        # the face moves with the window (a few px of detector jitter at this scale)
        np.testing.assert_allclose(got[0], ASTRONAUT_BOX / 2 - [x, y, x, y], atol=4.0)


def test_mma_dfer_square_box_hand_computed() -> None:
    # Union of two boxes: x 10.4..50.6 -> 10..51 (41 wide), y 20.5..90.2 -> 20..90 (70 tall; round half to even).
    found = np.array([[10.4, 20.5, 30.0, 60.0], [25.0, 40.0, 50.6, 90.2]], dtype=np.float32)
    assert faces.mma_dfer_square_box(found) == (10 - 14, 20, 51 + 14, 90)  # (70 - 41) // 2 = 14 per side
    wide = np.array([[0.0, 30.0, 100.0, 50.0]])
    assert faces.mma_dfer_square_box(wide) == (0, 30 - 40, 100, 50 + 40)
    # The top-left is clipped at 0 before squaring, so the square may reach left of 0 again
    # (the crop's slice then starts at 0): 20 wide, 22 tall -> x grows by 1 on each side.
    assert faces.mma_dfer_square_box(np.array([[-5.0, -3.0, 20.0, 22.0]])) == (-1, 0, 21, 22)


def test_mma_dfer_square_policy_crops_and_falls_back(window: np.ndarray) -> None:
    crops, reasons = faces.face_crops([window, _blank((200, 300, 3))], "mma_dfer_square", size=64)
    assert crops.shape == (2, 64, 64, 3) and reasons == ("no_face_centre_square",)
    (boxes,) = faces.detect([window])
    x1, y1, x2, y2 = faces.mma_dfer_square_box(boxes)
    assert abs((x2 - x1) - (y2 - y1)) <= 1  # square up to the odd half
    np.testing.assert_array_equal(crops[0], resize(window[max(y1, 0) : y2, max(x1, 0) : x2], 64, 64))
    # No face in a 200x300 frame: the centred square of side min(H, W) / 2 = 100.
    patterned = np.zeros((200, 300, 3), dtype=np.uint8)
    patterned[50:150, 100:200] = 255
    np.testing.assert_array_equal(faces.centre_square(patterned), np.full((100, 100, 3), 255, np.uint8))


def test_avce_margin_policy(window: np.ndarray) -> None:
    crops, reasons = faces.face_crops([window, _blank(), window], "avce_margin")
    assert crops.shape == (3, 224, 224, 3) and reasons == ("no_face_previous_crop",)  # AVCE's 224 output
    np.testing.assert_array_equal(crops[1], crops[0])  # the frame without a face re-uses the previous crop
    # The crop is the face box grown by 20 output pixels' worth (facenet's extract_face), resized.
    (boxes,) = faces.detect([window])
    x1, y1, x2, y2 = boxes[0]
    mx, my = 20 * (x2 - x1) / (224 - 20), 20 * (y2 - y1) / (224 - 20)
    box = (int(max(x1 - mx / 2, 0)), int(max(y1 - my / 2, 0)), int(min(x2 + mx / 2, SIDE)), int(min(y2 + my / 2, SIDE)))
    expected = np.asarray(Image.fromarray(window).crop(box).resize((224, 224), Image.BILINEAR))
    np.testing.assert_array_equal(crops[0], expected)
    first, reasons = faces.face_crops([_blank(), window], "avce_margin")
    assert reasons == ("no_face_first_frame_ones",) and np.all(first[0] == 1)


@pytest.mark.parametrize(
    ("boxes", "expected"),
    [
        # one overlapping chain over 14 frames, with a missed detection inside: one segment, union box
        ([[10, 10, 50, 50]] * 6 + [None] + [[12, 8, 55, 52]] * 7, [(0, 14, (10, 8, 55, 52))]),
        # a jump after 12 frames ends the segment; the jump starts the next one (13 frames, y clipped at 120)
        ([[10, 10, 50, 50]] * 12 + [[100, 100, 140, 140]] * 13,
         [(0, 12, (10, 10, 50, 50)), (12, 25, (100, 100, 140, 120))]),
        # a jump after only 5 frames is ignored (the code's `continue`), the chain goes on
        ([[10, 10, 50, 50]] * 5 + [[100, 100, 140, 140]] + [[10, 10, 50, 50]] * 8, [(0, 14, (10, 10, 50, 50))]),
        # a final segment of 10 frames or fewer is dropped; boxes are clipped to the 160x120 frame
        ([[-4, 10, 50, 130]] * 11 + [[100, 0, 140, 20]] * 10, [(0, 11, (0, 10, 50, 120))]),
        ([None] * 12, []),
    ],
)
def test_conclugen_segments_hand_cases(boxes: list, expected: list) -> None:
    found = [None if b is None else np.array([b], dtype=np.float32) for b in boxes]
    assert faces.conclugen_segments(found, height=120, width=160) == expected


def test_conclugen_policy_crops_segments_and_falls_back(window: np.ndarray) -> None:
    crops, reasons = faces.face_crops([window] * 11, "conclugen_segments", size=48)
    assert crops.shape == (11, 48, 48, 3) and reasons == ()
    (bgr,) = faces.detect([window[..., ::-1]], select_largest=False)  # detection on BGR, as the code
    x1, y1, x2, y2 = (int(v) for v in bgr[0])
    np.testing.assert_array_equal(crops[0], resize(window[y1:y2, x1:x2], 48, 48))
    whole, reasons = faces.face_crops([_blank()] * 11, "conclugen_segments", size=48)
    assert reasons == ("no_face_segment_full_frame",) and whole.shape == (11, 48, 48, 3)
    short, reasons = faces.face_crops([window] * 10, "conclugen_segments", size=48)
    assert reasons == ("no_face_segment_full_frame",)  # a 10-frame segment is too short


def test_face_frames_fallbacks_reach_prepared_even_from_cache(window: np.ndarray, tmp_path: Path) -> None:
    with_face = tmp_path / "face.mp4"
    write_video(with_face, np.stack([window] * 4), fps=4.0)
    no_face = tmp_path / "empty.mp4"
    write_video(no_face, np.stack([_blank()] * 4), fps=4.0)
    samples = [Sample("a", 0, {"video": with_face}), Sample("b", 0, {"video": no_face})]
    spec = {"video": TransformSpec("face_frames", {"policy": "mma_dfer_square", "size": 32, "num_frames": 2})}
    cache = Cache(tmp_path / "cache")
    first = prepare(samples, spec, cache)
    again = prepare(samples, spec, cache)
    assert (again.cache_hits, again.cache_misses) == (2, 0)
    for prepared in (first, again):
        assert prepared.fallbacks == {"video": {"no_face_centre_square": 1}}
        assert prepared.shapes["video"] == (2, 3, 32, 32)
    assert "batch_size" not in first.variants["video"]["params"]  # speed settings are not identity


def test_face_image_converts_grey_and_falls_back(window: np.ndarray, tmp_path: Path) -> None:
    grey = tmp_path / "grey.png"
    Image.fromarray(window).convert("L").save(grey)
    out = get_transform(TransformSpec("face_image", {"size": 64})).run(grey)
    assert out.array.shape == (64, 64, 3) and out.fallbacks == ()
    assert np.array_equal(out.array[..., 0], out.array[..., 2])  # grey replicated into RGB
    blank = tmp_path / "blank.png"
    Image.fromarray(_blank((100, 60, 3))).save(blank)
    fallback = get_transform(TransformSpec("face_image", {"size": 32})).run(blank)
    assert fallback.fallbacks == ("no_face_whole_image",)
    np.testing.assert_array_equal(fallback.array, resize(_blank((100, 60, 3)), 32, 32))
    plain = get_transform(TransformSpec("face_image", {"policy": "none", "size": 32})).run(blank)
    assert plain.fallbacks == () and plain.array.shape == (32, 32, 3)
