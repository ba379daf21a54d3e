"""The synthetic dataset's renderer: one clip's face geometry, video frames, landmarks, audio and sentence.

How each expression dimension shows in each modality is described in
:mod:`bench.data.synthetic_generator`.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import math

import numpy as np

from bench.data.synthetic_spec import Subject, SyntheticSpec

NUM_LANDMARKS = 68
EXPRESSION_DIMS = 6

_WORDS: tuple[tuple[tuple[str, ...], tuple[str, ...]], ...] = (
    (("wonderful", "delightful", "lovely", "cheerful", "great"), ("awful", "miserable", "gloomy", "terrible", "bleak")),
    (("thrilling", "wild", "intense", "frantic", "loud"), ("sleepy", "slow", "quiet", "drowsy", "still")),
    (("astonishing", "curious", "unexpected", "amazing", "startling"),
     ("infuriating", "hostile", "irritating", "outrageous", "bitter")),
    (("alert", "bright", "vivid", "keen", "lively"), ("weary", "dull", "heavy", "tired", "faded")),
    (("fiery", "heated", "burning", "flushed", "fierce"), ("cold", "pale", "numb", "hollow", "frozen")),
    (("restless", "bouncy", "shaky", "jumpy", "nervous"), ("steady", "calm", "settled", "rigid", "composed")),
)
_FLAT_WORDS = ("okay", "fine", "normal", "usual", "plain", "ordinary")
_TOPICS = ("the meeting", "my day", "the weather", "this trip", "the film", "our dinner", "the news",
           "that call", "the project", "the game", "the lecture", "his answer")
_VERBS = ("was", "seemed", "felt", "looked", "sounded")
_ADVERBS = ("really", "quite", "rather", "somewhat", "very", "just")
_ENDINGS = ("today", "again", "overall", "to me", "honestly", "as usual")
_ALL_EMOTIONAL = tuple(word for pair in _WORDS for side in pair for word in side)


# --------------------------------------------------------------------------- geometry


@dataclasses.dataclass(frozen=True)
class _Face:
    """Per-frame face geometry in pixels: ``cx``/``cy`` are ``[T]``, the rest scalars."""

    cx: np.ndarray
    cy: np.ndarray
    rx: float
    ry: float
    eye_dx: float
    eye_dy: float
    eye_w: float
    eye_h: float
    brow_dy: float
    brow_w: float
    mouth_dy: float
    mouth_w: float
    curvature: float
    opening: float
    lip: float


def _face(spec: SyntheticSpec, subject: Subject, p: np.ndarray, rng: np.random.Generator) -> _Face:
    q = np.clip(p, -1.5, 1.5)
    rx, ry = subject.rx, subject.ry
    t = np.arange(spec.num_frames) / spec.fps
    amplitude = 0.04 * spec.size * max(0.0, 1.0 + float(np.clip(q[5], -1.0, 1.0)))
    phase = rng.uniform(0.0, 2 * np.pi, 2)
    eye_w = 0.22 * rx * (1.0 + 0.1 * q[3])
    return _Face(
        cx=subject.cx + amplitude * np.sin(2 * np.pi * 0.75 * t + phase[0]),
        cy=subject.cy + 0.3 * amplitude * np.sin(2 * np.pi * 1.5 * t + phase[1]),
        rx=rx,
        ry=ry,
        eye_dx=subject.eye_gap,
        eye_dy=-0.18 * ry,
        eye_w=eye_w,
        eye_h=max(0.02, 0.10 + 0.05 * q[3]) * ry,
        brow_dy=-0.18 * ry - (0.20 + 0.09 * q[2]) * ry,
        brow_w=1.15 * eye_w,
        mouth_dy=0.45 * ry,
        mouth_w=subject.mouth_width,
        curvature=0.16 * ry * q[0],
        opening=0.09 * ry * max(0.0, 1.0 + q[1]),
        lip=0.05 * ry + 0.3,
    )


def _mouth_profile(face: _Face, u: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For ``u`` in [-1, 1] across the mouth: centre-line offset, inner and outer half-height."""
    envelope = np.sqrt(np.clip(1.0 - u**2, 0.0, 1.0))
    centre = face.curvature * (0.5 - u**2)
    inner = face.opening * envelope
    return centre, inner, inner + face.lip * (0.4 + 0.6 * envelope)


def _landmarks(face: _Face, size: int, rng: np.random.Generator) -> np.ndarray:
    """The 68-point layout of every frame, float ``[T, 68, 2]`` (x, y) in pixels."""
    pts: list[tuple[np.ndarray, np.ndarray]] = []  # (dx, dy) offsets from the face centre
    theta = (np.pi + 0.25) - np.arange(17) * (np.pi + 0.5) / 16
    pts.append((face.rx * np.cos(theta), face.ry * np.sin(theta)))  # jaw 0-16
    along = np.linspace(-1.0, 1.0, 5)
    for side in (-1.0, 1.0):  # brows 17-21, 22-26, each left to right
        pts.append((side * face.eye_dx + face.brow_w * along, face.brow_dy - 0.04 * face.ry * (1 - along**2)))
    nose_tip = 0.15 * face.ry
    pts.append((np.zeros(4), np.linspace(face.eye_dy, nose_tip, 4)))  # bridge 27-30
    pts.append((0.15 * face.rx * along, nose_tip + 0.03 * face.ry * (1 - along**2)))  # nostrils 31-35
    # Eyes 36-41 and 42-47: left corner, two upper-lid points, right corner, two lower-lid points.
    eye_u = np.array([-1.0, -1 / 3, 1 / 3, 1.0, 1 / 3, -1 / 3])
    eye_v = np.array([0.0, -1.0, -1.0, 0.0, 1.0, 1.0]) * np.sqrt(1 - eye_u**2)
    for side in (-1.0, 1.0):
        pts.append((side * face.eye_dx + face.eye_w * eye_u, face.eye_dy + face.eye_h * eye_v))
    # Outer lip 48-59 (left corner, upper lip left to right, right corner, lower lip back) and
    # inner lip 60-67 (left corner, upper, right corner, lower back), from the drawn profile.
    outer_u = np.concatenate([[-1.0], np.linspace(-2 / 3, 2 / 3, 5), [1.0], np.linspace(2 / 3, -2 / 3, 5)])
    outer_sign = np.array([0.0] + [-1.0] * 5 + [0.0] + [1.0] * 5)
    inner_u = np.array([-0.9, -0.5, 0.0, 0.5, 0.9, 0.5, 0.0, -0.5])
    inner_sign = np.array([0.0, -1.0, -1.0, -1.0, 0.0, 1.0, 1.0, 1.0])
    centre, _, outer = _mouth_profile(face, outer_u)
    pts.append((face.mouth_w * outer_u, face.mouth_dy + centre + outer_sign * outer))
    centre, inner, _ = _mouth_profile(face, inner_u)
    pts.append((face.mouth_w * inner_u, face.mouth_dy + centre + inner_sign * inner))
    dx = np.concatenate([d for d, _ in pts])
    dy = np.concatenate([d for _, d in pts])
    xy = np.stack([face.cx[:, None] + dx[None], face.cy[:, None] + dy[None]], axis=-1)
    return xy + rng.normal(0.0, 0.5 * size / 48, xy.shape)


# --------------------------------------------------------------------------- rendering


def _paint(image: np.ndarray, alpha: np.ndarray, colour: np.ndarray) -> None:
    """Blend ``colour`` into float ``image`` ``[T, H, W, 3]`` with coverage ``alpha`` ``[T, H, W]``."""
    image += alpha[..., None] * (colour.astype(np.float32) - image)


def _edge(distance: np.ndarray) -> np.ndarray:
    """Anti-aliased coverage of a shape from a signed distance in pixels (< 0 inside)."""
    return np.clip(0.5 - distance, 0.0, 1.0)


def _ellipse(x: np.ndarray, y: np.ndarray, rx: float, ry: float) -> np.ndarray:
    """Coverage of an axis-aligned ellipse centred on the origin of ``x``, ``y``."""
    radius = np.sqrt((x / rx) ** 2 + (y / ry) ** 2)
    return _edge((radius - 1.0) * math.sqrt(rx * ry))


def _segment(x: np.ndarray, y: np.ndarray, half_length: float, bend: float, thickness: float) -> np.ndarray:
    """Coverage of a slightly arched horizontal stroke centred on the origin."""
    u = np.clip(x / half_length, -1.0, 1.0)
    centre = -bend * (1 - u**2)
    distance = np.hypot(x - u * half_length, y - centre)
    return _edge(distance - thickness / 2)


def _render_video(spec: SyntheticSpec, subject: Subject, p: np.ndarray, face: _Face,
                  rng: np.random.Generator) -> np.ndarray:
    """The clip's frames, uint8 ``[T, size, size, 3]``."""
    q = np.clip(p, -1.5, 1.5)
    n, s = spec.num_frames, spec.size
    grid = np.arange(s, dtype=np.float32)  # pixel centres at integer coordinates, like the landmarks
    x = grid[None, None, :] - face.cx[:, None, None]  # [T, 1, W], relative to the face centre
    y = grid[None, :, None] - face.cy[:, None, None]  # [T, H, 1]
    x, y = np.broadcast_arrays(x, y)
    image = np.empty((n, s, s, 3), np.float32)
    image[:] = subject.background
    skin = np.clip(subject.skin + q[4] * np.array([34.0, -10.0, -14.0]), 0, 255)
    _paint(image, _ellipse(x, y, face.rx, face.ry), skin)
    dark = np.array([45.0, 32.0, 30.0])
    for side in (-1.0, 1.0):
        _paint(image, _ellipse(x - side * face.eye_dx, y - face.eye_dy, face.eye_w, face.eye_h), dark)
        brow = _segment(x - side * face.eye_dx, y - face.brow_dy, face.brow_w, 0.04 * face.ry, 0.06 * face.ry + 0.6)
        _paint(image, brow, dark)
    nose = _segment(x, y - 0.15 * face.ry, 0.15 * face.rx, -0.03 * face.ry, 0.8) * 0.6
    _paint(image, nose, skin * 0.55)
    u = x / face.mouth_w
    centre, inner, outer = _mouth_profile(face, u)
    across = _edge(np.abs(x) - face.mouth_w)
    offset = np.abs(y - face.mouth_dy - centre)
    _paint(image, _edge(offset - outer) * across, np.array([168.0, 62.0, 70.0]))
    _paint(image, _edge(offset - inner) * across, np.array([52.0, 20.0, 26.0]))
    image += rng.normal(0.0, 5.0, image.shape).astype(np.float32)
    return np.clip(np.round(image), 0, 255).astype(np.uint8)


def _render_audio(spec: SyntheticSpec, subject: Subject, p: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The clip's voice, float32 ``[round(duration_s * sample_rate)]`` in [-1, 1]."""
    q = np.clip(p, -1.5, 1.5)
    sr = spec.sample_rate
    t = np.arange(int(round(spec.duration_s * sr))) / sr
    f0 = subject.pitch * 2 ** (6.0 * q[1] / 12)
    vibrato = 0.25 * max(0.0, 1.0 + q[4])  # semitones
    phases = rng.uniform(0.0, 2 * np.pi, 3)
    freq = f0 * 2 ** (vibrato * np.sin(2 * np.pi * 5.5 * t + phases[0]) / 12)
    phase = 2 * np.pi * np.cumsum(freq) / sr
    harmonics = np.arange(1, max(2, min(24, int(0.45 * sr / (f0 * 1.1)))) + 1)
    weights = harmonics ** -(1.5 - 0.7 * q[0])
    weights[1::2] *= np.clip(0.55 + 0.45 * q[3], 0.05, 1.0)
    coefficients = weights * np.exp(1j * rng.uniform(0.0, 2 * np.pi, len(harmonics)))
    # sum_k w_k sin(k phase + offset_k), with exp(i k phase) built up by repeated products.
    fundamental = np.exp(1j * phase)
    power = np.ones_like(fundamental)
    total = np.zeros_like(fundamental)
    for coefficient in coefficients:
        power *= fundamental
        total += coefficient * power
    voice = total.imag
    voice /= np.sqrt(np.mean(voice**2)) + 1e-12
    am_rate = 4.0 + 2.5 * q[5]
    voice *= 1.0 - 0.5 * (0.5 + 0.5 * np.sin(2 * np.pi * am_rate * t + phases[1]))
    voice *= 0.12 * subject.gain * 10 ** (6.0 * q[2] / 20)
    fade = np.clip(np.minimum(t, t[-1] - t) / 0.03, 0.0, 1.0)
    audio = voice * fade + rng.normal(0.0, 0.01, len(t))
    return np.clip(audio, -0.99, 0.99).astype(np.float32)


def _sentence(p: np.ndarray, rng: np.random.Generator) -> str:
    """Neutral filler around four emotional words that follow ``p`` (see :mod:`bench.data.synthetic_generator`)."""
    weights = np.concatenate([np.maximum(p, 0.0), np.maximum(-p, 0.0)])
    weights = np.append(np.maximum(weights - 0.25, 0.0) ** 3, 0.02)
    weights /= weights.sum()
    words = []
    for choice in rng.choice(len(weights), size=4, p=weights):
        if rng.random() < 0.25:
            words.append(rng.choice(_ALL_EMOTIONAL))
        elif choice == 2 * EXPRESSION_DIMS:
            words.append(rng.choice(_FLAT_WORDS))
        else:
            words.append(rng.choice(_WORDS[choice % EXPRESSION_DIMS][choice // EXPRESSION_DIMS]))
    topic, verb, adverb, ending = (rng.choice(options) for options in (_TOPICS, _VERBS, _ADVERBS, _ENDINGS))
    return f"{topic} {verb} {adverb} {words[0]} and {words[1]}, a little {words[2]} and {words[3]} {ending}"


def _landmark_csv(points: np.ndarray) -> str:
    """``frame,x_0..x_67,y_0..y_67`` rows of ``[T, 68, 2]`` points."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["frame"] + [f"x_{i}" for i in range(NUM_LANDMARKS)] + [f"y_{i}" for i in range(NUM_LANDMARKS)])
    for frame, xy in enumerate(points):
        writer.writerow([frame] + [f"{v:.2f}" for v in xy[:, 0]] + [f"{v:.2f}" for v in xy[:, 1]])
    return buffer.getvalue()
