"""The generator of the embedded synthetic dataset: a small, learnable multimodal emotion dataset.

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
import io
import json
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from bench.api import Label
from bench.data.media import write_video, write_wav
from bench.data.synthetic_render import (
    EXPRESSION_DIMS,
    _face,
    _landmark_csv,
    _landmarks,
    _render_audio,
    _render_video,
    _sentence,
)
from bench.data.synthetic_spec import (
    CLASS_NAMES,
    GENERATOR_VERSION,
    MULTILABEL_NAMES,
    NUM_FOLDS,
    VARIANTS,
    Subject,
    SyntheticSpec,
)
from bench.errors import DataError
from bench.files.io import atomic_directory, write_json, write_text

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


# Purposes of the seeded generators, so that no two draws share a stream.
_SUBJECT, _CLIP, _ORDER, _SPLIT = 0, 1, 2, 3


def subject_id(index: int) -> str:
    """The subject name of 0-based subject ``index`` (``s01`` for 0)."""
    return f"s{index + 1:02d}"


def clip_id(subject: int, clip: int) -> str:
    """The sample id of 0-based ``clip`` of 0-based ``subject`` (``s01_c001`` for 0, 0)."""
    return f"{subject_id(subject)}_c{clip + 1:03d}"


def _rng(spec: SyntheticSpec, *key: int) -> np.random.Generator:
    return np.random.default_rng([spec.seed, *key])


# --------------------------------------------------------------------------- subjects and labels


def _subject(spec: SyntheticSpec, index: int) -> Subject:
    rng = _rng(spec, _SUBJECT, index)
    s = spec.size
    rx = s * rng.uniform(0.27, 0.33)
    shade = rng.uniform(0.0, 1.0)
    skin = (1 - shade) * np.array([236.0, 200.0, 172.0]) + shade * np.array([140.0, 96.0, 72.0])
    return Subject(
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
