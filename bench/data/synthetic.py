"""The embedded default benchmark: a small, learnable, synthetic multimodal emotion dataset.

:func:`generate` writes real files (H.264/AAC mp4, PCM wav, landmark CSV, a manifest and
split lists) and the adapters read them back exactly like a real dataset, so the built-in
benchmark exercises the same decoding and preprocessing path as real data.

Generative model
================
Every clip has an expression vector ``p`` in R^6 (values roughly in [-1, 1]) and belongs to a
subject. One renderer turns ``(subject, p)`` into all four modalities:

========  ==========================================================================
``p[i]``  video (and landmarks) / audio / text
========  ==========================================================================
0         mouth curvature (smile > 0) / spectral tilt of the harmonics (brighter > 0)
          / "wonderful" vs "miserable" words
1         mouth opening / pitch (+-6 semitones) / "thrilling" vs "sleepy" words
2         brow height / loudness (+-6 dB) / "astonishing" vs "infuriating" words
3         eye size / even-harmonic strength / "alert" vs "weary" words
4         skin tint (red > 0, pale < 0) / vibrato depth / "fiery" vs "cold" words
5         head-sway amplitude / amplitude-modulation rate / "restless" vs "steady" words
========  ==========================================================================

* **Video**: a face-like image (a skin-coloured ellipse on a flat background, two eyes, two
  brows, a nose, a mouth) whose features follow ``p`` as above; the head sways sideways
  (and bobs a little) at 0.75 Hz with a random phase. Gaussian pixel noise (sigma 5) is
  added to every frame before H.264 encoding.
* **Landmarks**: the 68-point layout (jaw 0-16, brows 17-26, nose 27-35, eyes 36-47, mouth
  48-67) computed from the *same* per-frame face geometry the video is drawn from, plus
  Gaussian jitter (sigma 0.5 px at size 48, scaled with ``size``).
* **Audio**: a voiced harmonic tone at the subject's base pitch with the cues above, a
  fixed 30 ms fade in and out and white noise (about 20 dB below the voice).
* **Text**: ``"<topic> <verb> <adverb> <w1> and <w2>, a little <w3> and <w4> <ending>"``:
  neutral filler around four emotional words. Each word is drawn from the twelve signed word
  lists with weight ``max(|p_i| - 0.25, 0)^3`` for the list of ``p_i``'s sign, or from a list
  of flat words ("okay", "ordinary", ...) with weight 0.02; with probability 0.25 it is
  instead a uniformly random emotional word.
* **Nuisance per subject**: face position, size and aspect, skin and background colour, eye
  spacing, mouth width, base pitch (110-190 Hz) and voice gain; per clip: sway phase,
  pixel noise, landmark jitter, harmonic phases, audio noise and filler words.

Labels and ``p`` by variant:

* ``classification``: 4 classes :data:`CLASS_NAMES`; ``p`` = the class prototype
  (:data:`PROTOTYPES`, a valence/arousal-like arrangement) + N(0, 0.3^2) per dimension.
  Classes are balanced within every subject (``clips_per_subject`` cycling over the classes,
  shuffled).
* ``multilabel``: 6 labels :data:`MULTILABEL_NAMES` (CMU-MOSEI's order), each present with
  probability 0.3 (one random label is added when none is); ``p_l`` = an intensity
  U(0.5, 1) if label ``l`` is present, else 0, + N(0, 0.15^2).
* ``va``: valence and arousal U(-1, 1), rounded to 3 decimals; ``p_0`` = valence,
  ``p_1`` = arousal (each + N(0, 0.2^2)); ``p_2 .. p_5`` are nuisance, N(0, 0.4^2).

How hard it is: on the default classification spec, a logistic regression on crude
per-clip features, trained and tested on the official subject-disjoint folds, reaches
about 0.90 (mean normalised landmarks), 0.78 (log power in 48 log-spaced FFT bands), 0.79
(mean and standard deviation of the frames, downsampled) and 0.65 (bag of words) accuracy,
against a chance level of 0.25.

Every random draw comes from a generator seeded by ``(seed, purpose, subject, clip)``, so
a clip does not depend on the order of generation and equal specs give equal data.

Layout
======
See :data:`LAYOUT`. Split files list ids, one per line; the five official folds put every
subject in exactly one test fold (subjects dealt round-robin after a seeded shuffle), and
the official train/val/test partition is subject-disjoint with about 60/20/20 % of the
subjects.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import io
import json
import math
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar, Literal

import numpy as np

from bench.api import CheckReport, DatasetAdapter, Label, Sample, Split, TaskKind
from bench.data.media import write_video, write_wav
from bench.errors import DataError, did_you_mean
from bench.io import atomic_directory, write_json, write_text
from bench.paths import cache_root

GENERATOR_VERSION = 2  # 2: video written losslessly (media.write_video), decodes identically on every run
VARIANTS: tuple[str, ...] = ("classification", "multilabel", "va")
CLASS_NAMES: tuple[str, ...] = ("neutral", "happy", "sad", "angry")
MULTILABEL_NAMES: tuple[str, ...] = ("happy", "sad", "anger", "surprise", "disgust", "fear")
VA_NAMES: tuple[str, ...] = ("valence", "arousal")
NUM_FOLDS = 5
NUM_LANDMARKS = 68
EXPRESSION_DIMS = 6

PROTOTYPES: dict[str, tuple[float, ...]] = {
    "neutral": (0.0, 0.0, 0.0, 0.0, 0.0, 0.0),
    "happy": (0.8, 0.3, 0.3, 0.3, 0.3, 0.4),
    "sad": (-0.7, -0.6, -0.2, -0.5, -0.5, -0.6),
    "angry": (-0.5, 0.6, -0.8, 0.2, 0.6, 0.5),
}
"""Expression-vector prototypes of the classification variant."""

LAYOUT = """\
<root>/SYNTHETIC.json                      spec, generator version, counts
<root>/manifest.csv                        id,subject,<label columns>,text
    classification: label (a class name); multilabel: one 0/1 column per label;
    va: valence,arousal
<root>/video/<id>.mp4                      H.264 video + AAC audio track (the wav's audio)
<root>/audio/<id>.wav                      mono PCM_16 at the spec's sample rate (16 kHz)
<root>/landmarks/<id>.csv                  frame,x_0..x_67,y_0..y_67 (one row per frame, pixels)
<root>/splits/fold{1..5}_{train,test}.txt  official subject-disjoint 5 folds, one id per line
<root>/splits/{train,val,test}.txt         official subject-disjoint train/val/test partition
ids look like s03_c017 (subject s03, clip 17)"""

Variant = Literal["classification", "multilabel", "va"]

# Purposes of the seeded generators, so that no two draws share a stream.
_SUBJECT, _CLIP, _ORDER, _SPLIT = 0, 1, 2, 3

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


@dataclasses.dataclass(frozen=True)
class SyntheticSpec:
    """What :func:`generate` produces; equal specs give identical datasets."""

    variant: Variant
    num_subjects: int = 10
    clips_per_subject: int = 24
    num_frames: int = 16
    size: int = 48
    fps: float = 8.0
    sample_rate: int = 16000
    duration_s: float = 1.0
    seed: int = 0

    def __post_init__(self) -> None:
        if self.variant not in VARIANTS:
            raise ValueError(f"synthetic variant must be one of {VARIANTS}, got {self.variant!r}")
        if self.num_subjects < NUM_FOLDS:
            raise ValueError(
                f"synthetic data needs at least {NUM_FOLDS} subjects (one per fold), got {self.num_subjects}"
            )
        if self.clips_per_subject < 1 or self.num_frames < 1:
            raise ValueError("clips_per_subject and num_frames must be positive")
        if self.size < 16 or self.size % 2:
            raise ValueError(f"size must be even and at least 16 (H.264 in yuv420p), got {self.size}")
        if self.fps <= 0 or self.duration_s <= 0 or self.sample_rate < 8000:
            raise ValueError("fps and duration_s must be positive and sample_rate at least 8000 Hz")

    def digest(self) -> str:
        """A short stable hash of the spec and generator version (names the default root)."""
        payload = json.dumps({"spec": dataclasses.asdict(self), "version": GENERATOR_VERSION}, sort_keys=True)
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:10]

    @property
    def label_names(self) -> tuple[str, ...]:
        """Class, label or axis names of this variant."""
        return {"classification": CLASS_NAMES, "multilabel": MULTILABEL_NAMES, "va": VA_NAMES}[self.variant]

    @property
    def label_columns(self) -> tuple[str, ...]:
        """The manifest's label columns for this variant."""
        return _label_columns(self.variant)


def _label_columns(variant: str) -> tuple[str, ...]:
    return ("label",) if variant == "classification" else {"multilabel": MULTILABEL_NAMES, "va": VA_NAMES}[variant]


def subject_id(index: int) -> str:
    """The subject name of 0-based subject ``index`` (``s01`` for 0)."""
    return f"s{index + 1:02d}"


def clip_id(subject: int, clip: int) -> str:
    """The sample id of 0-based ``clip`` of 0-based ``subject`` (``s01_c001`` for 0, 0)."""
    return f"{subject_id(subject)}_c{clip + 1:03d}"


def _rng(spec: SyntheticSpec, *key: int) -> np.random.Generator:
    return np.random.default_rng([spec.seed, *key])


# --------------------------------------------------------------------------- subjects and labels


@dataclasses.dataclass(frozen=True)
class _Subject:
    """Nuisance parameters shared by all clips of one subject (pixels at the spec's size)."""

    cx: float
    cy: float
    rx: float
    ry: float
    skin: np.ndarray
    background: np.ndarray
    eye_gap: float
    mouth_width: float
    pitch: float
    gain: float


def _subject(spec: SyntheticSpec, index: int) -> _Subject:
    rng = _rng(spec, _SUBJECT, index)
    s = spec.size
    rx = s * rng.uniform(0.27, 0.33)
    shade = rng.uniform(0.0, 1.0)
    skin = (1 - shade) * np.array([236.0, 200.0, 172.0]) + shade * np.array([140.0, 96.0, 72.0])
    return _Subject(
        cx=(s - 1) / 2 + s * rng.uniform(-0.04, 0.04),
        cy=(s - 1) / 2 + s * rng.uniform(-0.03, 0.03),
        rx=rx,
        ry=rx * rng.uniform(1.15, 1.3),
        skin=skin + rng.normal(0.0, 6.0, 3),
        background=rng.uniform(20.0, 110.0, 3),
        eye_gap=rx * rng.uniform(0.36, 0.44),
        mouth_width=rx * rng.uniform(0.4, 0.5),
        pitch=float(rng.uniform(110.0, 190.0)),
        gain=float(rng.uniform(0.75, 1.0)),
    )


def _class_order(spec: SyntheticSpec, subject: int) -> np.ndarray:
    """Balanced class indices of one subject's clips, in a seeded random order."""
    classes = np.arange(spec.clips_per_subject) % len(CLASS_NAMES)
    return _rng(spec, _ORDER, subject).permutation(classes)


def _draw_label(spec: SyntheticSpec, rng: np.random.Generator, class_index: int) -> tuple[Label, np.ndarray]:
    """The clip's label and its expression vector ``p``."""
    if spec.variant == "classification":
        p = np.array(PROTOTYPES[CLASS_NAMES[class_index]]) + rng.normal(0.0, 0.3, EXPRESSION_DIMS)
        return class_index, p
    if spec.variant == "multilabel":
        present = rng.random(EXPRESSION_DIMS) < 0.3
        if not present.any():
            present[rng.integers(EXPRESSION_DIMS)] = True
        p = present * rng.uniform(0.5, 1.0, EXPRESSION_DIMS) + rng.normal(0.0, 0.15, EXPRESSION_DIMS)
        return tuple(float(x) for x in present), p
    valence, arousal = (round(float(x), 3) for x in rng.uniform(-1.0, 1.0, 2))
    p = np.concatenate([[valence, arousal] + rng.normal(0.0, 0.2, 2), rng.normal(0.0, 0.4, 4)])
    return (valence, arousal), p


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


def _face(spec: SyntheticSpec, subject: _Subject, p: np.ndarray, rng: np.random.Generator) -> _Face:
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


def _render_video(spec: SyntheticSpec, subject: _Subject, p: np.ndarray, face: _Face,
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


def _render_audio(spec: SyntheticSpec, subject: _Subject, p: np.ndarray, rng: np.random.Generator) -> np.ndarray:
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
    """Neutral filler around four emotional words that follow ``p`` (see the module docstring)."""
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


# --------------------------------------------------------------------------- generation


def _split_files(spec: SyntheticSpec, ids_by_subject: Sequence[Sequence[str]]) -> dict[str, list[str]]:
    """Every split file's name (without ``.txt``) and sorted ids."""
    rng = _rng(spec, _SPLIT)
    n = spec.num_subjects

    def ids(subjects: Sequence[int]) -> list[str]:
        return sorted(i for s in subjects for i in ids_by_subject[s])

    files: dict[str, list[str]] = {}
    order = [int(s) for s in rng.permutation(n)]
    for k in range(NUM_FOLDS):
        test = order[k::NUM_FOLDS]
        files[f"fold{k + 1}_test"] = ids(test)
        files[f"fold{k + 1}_train"] = ids([s for s in order if s not in test])
    order = [int(s) for s in rng.permutation(n)]
    held = max(1, round(0.2 * n))
    files["test"] = ids(order[:held])
    files["val"] = ids(order[held : 2 * held])
    files["train"] = ids(order[2 * held :])
    return files


def _write_all(tmp: Path, spec: SyntheticSpec) -> None:
    """Write the whole dataset of ``spec`` into the empty folder ``tmp``; SYNTHETIC.json last."""
    for folder in ("video", "audio", "landmarks", "splits"):
        (tmp / folder).mkdir()
    header = ["id", "subject", *spec.label_columns, "text"]
    rows: list[list[str]] = []
    ids_by_subject: list[list[str]] = []
    labels: list[Label] = []
    for s in range(spec.num_subjects):
        subject = _subject(spec, s)
        classes = _class_order(spec, s)
        ids_by_subject.append([])
        for c in range(spec.clips_per_subject):
            rng = _rng(spec, _CLIP, VARIANTS.index(spec.variant), s, c)
            label, p = _draw_label(spec, rng, int(classes[c]))
            face = _face(spec, subject, p, rng)
            sample = clip_id(s, c)
            audio = _render_audio(spec, subject, p, rng)
            write_wav(tmp / "audio" / f"{sample}.wav", audio, spec.sample_rate)
            frames = _render_video(spec, subject, p, face, rng)
            write_video(tmp / "video" / f"{sample}.mp4", frames, spec.fps, audio, spec.sample_rate)
            write_text(tmp / "landmarks" / f"{sample}.csv", _landmark_csv(_landmarks(face, spec.size, rng)))
            cells = [CLASS_NAMES[label]] if isinstance(label, int) else [
                str(int(v)) if spec.variant == "multilabel" else f"{v:.3f}" for v in label
            ]
            labels.append(label)
            rows.append([sample, subject_id(s), *cells, _sentence(p, rng)])
            ids_by_subject[-1].append(sample)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    write_text(tmp / "manifest.csv", buffer.getvalue())
    for name, ids in _split_files(spec, ids_by_subject).items():
        write_text(tmp / "splits" / f"{name}.txt", "".join(f"{i}\n" for i in ids))
    counts = {"clips": len(rows), "subjects": spec.num_subjects, "labels": _label_counts(spec.variant, labels)}
    write_json(tmp / "SYNTHETIC.json", {
        "generator_version": GENERATOR_VERSION,
        "spec": dataclasses.asdict(spec),
        "label_names": list(spec.label_names),
        "counts": counts,
    })


def _label_counts(variant: str, labels: Sequence[Label]) -> dict[str, int]:
    """Clips per class (classification), positives per label (multilabel), nothing for va."""
    found: Counter[str] = Counter()
    for label in labels:
        if isinstance(label, int):
            found[CLASS_NAMES[label]] += 1
        elif variant == "multilabel":
            found.update(name for name, v in zip(MULTILABEL_NAMES, label) if v)
    return dict(sorted(found.items()))


def _read_info(root: Path) -> dict | None:
    """``root``'s parsed SYNTHETIC.json, or None when the root is not (yet) complete."""
    path = root / "SYNTHETIC.json"
    if not path.is_file():
        return None
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise DataError(f"{path}: cannot read the synthetic dataset description ({error})") from None
    if not isinstance(info, dict) or not isinstance(info.get("spec"), dict) or not isinstance(info.get("counts"), dict):
        raise DataError(f"{path}: not a synthetic dataset description (needs 'spec' and 'counts')")
    return info


def _check_same_spec(root: Path, info: dict, spec: SyntheticSpec) -> None:
    if info["spec"] != dataclasses.asdict(spec) or info.get("generator_version") != GENERATOR_VERSION:
        raise DataError(
            f"{root}: already holds synthetic data of another spec or generator version "
            f"({info['spec']}, v{info.get('generator_version')}); remove it or choose another root"
        )


def generate(root: Path, spec: SyntheticSpec) -> Path:
    """Write the dataset of ``spec`` under ``root`` (see :data:`LAYOUT`) and return ``root``.

    Everything is written into a temporary sibling folder that is renamed to ``root`` once
    complete, so ``root`` is either absent or whole. A complete ``root`` of the same spec is
    returned as is; when concurrent generators race, the first rename wins and the others
    discard their copy.
    """
    root = Path(root)
    info = _read_info(root)
    if info is not None:
        _check_same_spec(root, info, spec)
        return root
    if root.exists() and (not root.is_dir() or any(root.iterdir())):
        raise DataError(f"{root}: exists but is not a complete synthetic dataset; remove it or choose another root")
    with atomic_directory(root) as tmp:
        _write_all(tmp, spec)
    info = _read_info(root)  # ours, or that of a concurrent generator that finished first
    if info is None:
        raise DataError(f"{root}: cannot move the generated data into place")
    _check_same_spec(root, info, spec)
    return root


# --------------------------------------------------------------------------- adapters


def _layout_error(root: Path, missing: str) -> DataError:
    return DataError(
        f"{root}: not a complete synthetic dataset ({missing}); expected the layout\n{LAYOUT}\n"
        "(generate it with bench.data.synthetic.generate, or omit the root to use the default one)"
    )


def _read_id_list(path: Path, known: set[str]) -> tuple[str, ...]:
    """The ids of a split file, one per line (blank lines ignored), each known and listed once."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise DataError(f"{path}: split file missing") from None
    except (OSError, UnicodeDecodeError) as error:
        raise DataError(f"{path}: cannot read split file ({error})") from None
    seen: dict[str, int] = {}
    for number, line in enumerate(lines, start=1):
        item = line.strip()
        if not item:
            continue
        if item not in known:
            raise DataError(f"{path}:{number}: unknown sample id {item!r}{did_you_mean(item, known)}")
        if item in seen:
            raise DataError(f"{path}:{number}: sample id {item!r} repeats line {seen[item]}")
        seen[item] = number
    if not seen:
        raise DataError(f"{path}: split file lists no sample ids")
    return tuple(seen)


class _SyntheticAdapter(DatasetAdapter):
    """Reads a root written by :func:`generate` for one variant."""

    variant: ClassVar[Variant]
    modalities = ("video", "audio", "text", "landmarks")
    layout = LAYOUT
    label_names_source = "bench.data.synthetic (the generator defines the names and their order)"

    def _info(self) -> dict:
        if not self.root.is_dir():
            raise _layout_error(self.root, "the folder does not exist")
        info = _read_info(self.root)
        if info is None:
            raise _layout_error(self.root, "SYNTHETIC.json missing")
        if info["spec"].get("variant") != self.variant:
            raise DataError(
                f"{self.root}: holds the {info['spec'].get('variant')!r} synthetic variant, "
                f"not {self.variant!r} (dataset {self.name!r})"
            )
        return info

    def _parse_label(self, path: Path, line: int, row: dict[str, str]) -> Label:
        if self.variant == "classification":
            name = row["label"].strip()
            if name not in CLASS_NAMES:
                raise DataError(
                    f"{path}:{line}: unknown class {name!r}{did_you_mean(name, CLASS_NAMES)}; "
                    f"valid: {', '.join(CLASS_NAMES)}"
                )
            return CLASS_NAMES.index(name)
        values = []
        for column in self.label_names:
            cell = row[column].strip()
            try:
                value = float(cell)
            except ValueError:
                value = math.nan
            if not math.isfinite(value) or (self.variant == "multilabel" and value not in (0.0, 1.0)):
                expected = "0 or 1" if self.variant == "multilabel" else "a finite number"
                raise DataError(f"{path}:{line}: column {column!r} is {cell!r}, expected {expected}")
            values.append(value)
        return tuple(values)

    def samples(self) -> list[Sample]:
        """Every clip in manifest order; labels as class index, 0/1 tuple or (valence, arousal)."""
        self._info()
        path = self.root / "manifest.csv"
        if not path.is_file():
            raise _layout_error(self.root, "manifest.csv missing")
        required = ["id", "subject", *_label_columns(self.variant), "text"]
        out: list[Sample] = []
        seen: dict[str, int] = {}
        try:
            with path.open(newline="", encoding="utf-8") as handle:
                reader = csv.DictReader(handle)
                missing = [c for c in required if c not in (reader.fieldnames or [])]
                if missing:
                    raise DataError(
                        f"{path}:1: header lacks column(s) {', '.join(missing)}; expected {','.join(required)}"
                    )
                for row in reader:
                    line = reader.line_num
                    if None in row or any(v is None for v in row.values()):
                        raise DataError(f"{path}:{line}: expected {len(reader.fieldnames or [])} fields")
                    sample, subject = row["id"].strip(), row["subject"].strip()
                    if not sample or not subject:
                        raise DataError(f"{path}:{line}: empty id or subject")
                    if sample in seen:
                        raise DataError(f"{path}:{line}: id {sample!r} repeats line {seen[sample]}")
                    seen[sample] = line
                    out.append(Sample(
                        id=sample,
                        label=self._parse_label(path, line, row),
                        sources={
                            "video": self.root / "video" / f"{sample}.mp4",
                            "audio": self.root / "audio" / f"{sample}.wav",
                            "text": row["text"],
                            "landmarks": self.root / "landmarks" / f"{sample}.csv",
                        },
                        subject=subject,
                        group=sample,
                    ))
        except (OSError, UnicodeDecodeError, csv.Error) as error:
            raise DataError(f"{path}: cannot read manifest ({error})") from None
        if not out:
            raise DataError(f"{path}: manifest lists no samples")
        return out

    def _known_ids(self) -> set[str]:
        return {s.id for s in self.samples()}

    def official_folds(self) -> list[Split]:
        """The five subject-disjoint folds of ``splits/fold{k}_{train,test}.txt``."""
        known = self._known_ids()
        folder = self.root / "splits"
        return [
            Split(
                name=f"fold{k}",
                train=_read_id_list(folder / f"fold{k}_train.txt", known),
                test=_read_id_list(folder / f"fold{k}_test.txt", known),
            )
            for k in range(1, NUM_FOLDS + 1)
        ]

    def official_split(self) -> Split:
        """The subject-disjoint partition of ``splits/{train,val,test}.txt``."""
        known = self._known_ids()
        folder = self.root / "splits"
        return Split(
            name="official",
            train=_read_id_list(folder / "train.txt", known),
            val=_read_id_list(folder / "val.txt", known),
            test=_read_id_list(folder / "test.txt", known),
        )

    def check(self) -> CheckReport:
        """The base check (every file present and non-empty) plus counts against SYNTHETIC.json and the splits."""
        info = self._info()
        base = super().check()
        samples = self.samples()
        problems = list(base.problems)
        expected = info["counts"]
        subjects = {s.subject for s in samples}
        manifest = self.root / "manifest.csv"
        if len(samples) != expected.get("clips"):
            problems.append(f"{manifest}: {len(samples)} samples, SYNTHETIC.json says {expected.get('clips')}")
        if len(subjects) != expected.get("subjects"):
            problems.append(f"{manifest}: {len(subjects)} subjects, SYNTHETIC.json says {expected.get('subjects')}")
        if _label_counts(self.variant, [s.label for s in samples]) != expected.get("labels"):
            problems.append(f"{manifest}: label counts differ from SYNTHETIC.json's {expected.get('labels')}")
        for load in (self.official_folds, self.official_split):
            try:
                load()
            except DataError as error:
                problems.append(str(error))
        counts = {"samples": len(samples), "subjects": len(subjects), "folds": NUM_FOLDS}
        return CheckReport(self.name, self.root, counts, tuple(problems))

    @classmethod
    def default_spec(cls) -> SyntheticSpec:
        """The spec of the built-in benchmark for this variant."""
        return SyntheticSpec(variant=cls.variant)

    @classmethod
    def default_root(cls) -> Path:
        """``cache_root()/synthetic/<variant>-v<version>-<spec hash>``, generated there when missing."""
        spec = cls.default_spec()
        root = cache_root() / "synthetic" / f"{spec.variant}-v{GENERATOR_VERSION}-{spec.digest()}"
        return generate(root, spec)


class SyntheticClassification(_SyntheticAdapter):
    """Synthetic 4-class emotion classification (neutral, happy, sad, angry)."""

    name = "synthetic"
    task: ClassVar[TaskKind] = "classification"
    variant = "classification"
    label_names = CLASS_NAMES


class SyntheticMultilabel(_SyntheticAdapter):
    """Synthetic 6-label emotion presence in CMU-MOSEI's label order."""

    name = "synthetic_multilabel"
    task: ClassVar[TaskKind] = "multilabel"
    variant = "multilabel"
    label_names = MULTILABEL_NAMES


class SyntheticValenceArousal(_SyntheticAdapter):
    """Synthetic valence/arousal regression, both in [-1, 1]."""

    name = "synthetic_va"
    task: ClassVar[TaskKind] = "regression"
    variant = "va"
    label_names = VA_NAMES
