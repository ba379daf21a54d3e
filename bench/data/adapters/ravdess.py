"""RAVDESS speech (Livingstone & Russo 2018): audio-only, audio-visual and landmark releases.

Every RAVDESS file is named ``MM-VV-EE-II-SS-RR-AA.<ext>`` (the dataset's own convention):
modality MM (01 audio-visual, 02 video-only, 03 audio-only), vocal channel VV (01 speech,
02 song), emotion EE (01 neutral .. 08 surprised), intensity II (01 normal, 02 strong; neutral
has only 01), statement SS (01 "Kids are talking by the door", 02 "Dogs are sitting by the
door"), repetition RR (01, 02) and actor AA (01..24). The three releases are the same
recordings split by channel, so one *recording* is named by ``VV-EE-II-SS-RR-AA``.

One sample per speech recording
===============================
The audio-only ``03-…`` file and the audio-visual ``01-…`` / video-only ``02-…`` file of one
recording are merged into **one sample with several sources** (rather than two samples), so a
split can never put the two copies of a recording on different sides, and a multimodal method
sees one recording once: this is how MPUC's official RAVDESS loader pairs them (the landmark
CSV of ``01-…`` with the mel of the ``03-…`` file of the same name, ``data/RAVDESS.py`` L20).

* ``sources["audio"]``: the ``03-…`` ``.wav`` (48 kHz as shipped) or ``.opus`` (the 16 kHz
  transcode in ``../shared/data``);
* ``sources["video"]``: the ``01-…`` ``.mp4`` when present, else the ``02-…`` ``.mp4`` (the same
  frames without the audio track);
* ``sources["landmarks"]``: the OpenFace 2.1.0 CSV of the RAVDESS Facial Landmark Tracking release
  (Zenodo 3255102, ``FacialTracking_Actors_01-24.zip``), named like the ``01-…`` video;
* ``sources["text"]``: the recording's fixed statement (inline text, always present).

A modality whose files are absent is simply not among a sample's sources (with only the audio
release, samples have ``audio`` and ``text``). ``id`` and ``group`` are the recording key
``VV-EE-II-SS-RR-AA``; ``subject`` is the actor ``"01"`` .. ``"24"``; ``label`` is the emotion
code − 1 (0 neutral .. 7 surprised, the order of the codes, as MAE-DFER and MPUC's ``train.py``
L70-71 use). Song files (VV = 02) are skipped: MPUC uses speech only. ``meta`` holds
``emotion``, ``intensity`` ("normal" / "strong"), ``statement`` (1, 2), ``repetition`` (1, 2) and
``sex`` (odd actors male, even female).

Files are found by walking the root for folders named ``Actor_NN`` at any depth; inside them
every ``.wav``, ``.opus``, ``.mp4`` and ``.csv`` must follow the convention (hidden files and other
suffixes are ignored). Verified on the 1,440 real audio files of ``../shared/data``; the video and
landmark layouts are taken from the RAVDESS and Zenodo 3255102 pages (the landmark archive's inner
folders are not verified: keep the CSVs in ``Actor_NN`` folders).
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections import Counter
from pathlib import Path
from typing import ClassVar

from bench.api import CheckReport, DatasetAdapter, Sample, TaskKind
from bench.errors import DataError

EMOTIONS: tuple[str, ...] = ("neutral", "calm", "happy", "sad", "angry", "fearful", "disgust", "surprised")
STATEMENTS: dict[str, str] = {"01": "Kids are talking by the door", "02": "Dogs are sitting by the door"}
NUM_ACTORS = 24
RECORDINGS_PER_ACTOR = 60
"""Speech trials per actor: neutral 2 statements x 2 repetitions, the 7 others also x 2 intensities."""

_AUDIO_SUFFIXES = (".wav", ".opus")
_NAME = re.compile(r"^(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)$")
_ACTOR_DIR = re.compile(r"^Actor_(\d\d)$")
_SHOWN = 5

LAYOUT = """\
<root>/**/Actor_NN/03-01-EE-II-SS-RR-NN.wav|.opus   audio-only speech (Audio_Speech_Actors_01-24)
<root>/**/Actor_NN/01-01-EE-II-SS-RR-NN.mp4         audio-visual speech (Video_Speech_Actor_NN)
<root>/**/Actor_NN/02-01-EE-II-SS-RR-NN.mp4         video-only speech (Video_Speech_Actor_NN)
<root>/**/Actor_NN/01-01-EE-II-SS-RR-NN.csv         OpenFace landmarks (Zenodo 3255102,
                                                    FacialTracking_Actors_01-24, one Actor_NN folder each)
Actor_NN folders are found at any depth; any subset of the releases may be present.
NN = actor 01..24, EE = emotion 01..08, II = intensity, SS = statement, RR = repetition."""


@dataclasses.dataclass
class _Recording:
    """The files found for one recording key, by slot (``audio``, ``video01``, ...)."""

    key: str
    fields: tuple[str, ...]
    files: dict[str, Path] = dataclasses.field(default_factory=dict)


def _slot(path: Path, modality: str) -> str | None:
    """Which slot a file fills, or None when its suffix and modality code do not go together."""
    suffix = path.suffix.lower()
    if suffix in _AUDIO_SUFFIXES:
        return "audio" if modality == "03" else None
    if suffix == ".mp4":
        return f"video{modality}" if modality in ("01", "02") else None
    if suffix == ".csv" and modality in ("01", "02"):
        return f"landmarks{modality}"
    return None


def _parse_name(path: Path, folder_actor: str) -> tuple[str, ...]:
    """The seven fields of a RAVDESS file name, validated; a DataError names the file otherwise."""
    match = _NAME.match(path.stem)
    expected = "a name MM-VV-EE-II-SS-RR-AA (two digits each) as RAVDESS ships it"
    if match is None:
        raise DataError(f"{path}: file name breaks the RAVDESS convention; expected {expected}")
    mm, vv, ee, ii, ss, rr, aa = match.groups()
    checks = (
        (mm in ("01", "02", "03"), f"modality {mm} is not 01, 02 or 03"),
        (vv in ("01", "02"), f"vocal channel {vv} is not 01 (speech) or 02 (song)"),
        ("01" <= ee <= "08", f"emotion {ee} is not 01..08"),
        (ii in ("01", "02"), f"intensity {ii} is not 01 or 02"),
        (not (ee == "01" and ii == "02"), "neutral (emotion 01) has no strong intensity 02"),
        (ss in STATEMENTS, f"statement {ss} is not 01 or 02"),
        (rr in ("01", "02"), f"repetition {rr} is not 01 or 02"),
        ("01" <= aa <= f"{NUM_ACTORS:02d}", f"actor {aa} is not 01..{NUM_ACTORS}"),
        (aa == folder_actor, f"actor {aa} is not the actor of its folder Actor_{folder_actor}"),
        (_slot(path, mm) is not None, f"modality {mm} does not go with a {path.suffix} file"),
    )
    for ok, reason in checks:
        if not ok:
            raise DataError(f"{path}: file name breaks the RAVDESS convention: {reason}; expected {expected}")
    return mm, vv, ee, ii, ss, rr, aa


@dataclasses.dataclass(frozen=True)
class _Scan:
    """What a walk of the root found: recordings by key, problems, skipped song files."""

    recordings: dict[str, _Recording]
    problems: tuple[str, ...]
    songs: int


def _scan(root: Path) -> _Scan:
    """Walk ``root`` for ``Actor_NN`` folders and collect every speech file by recording key."""
    recordings: dict[str, _Recording] = {}
    problems: list[str] = []
    songs = 0
    for folder, dirs, names in os.walk(root):
        dirs.sort()
        actor_dir = _ACTOR_DIR.match(Path(folder).name)
        if actor_dir is None:
            continue
        for name in sorted(names):
            path = Path(folder) / name
            if name.startswith(".") or path.suffix.lower() not in (*_AUDIO_SUFFIXES, ".mp4", ".csv"):
                continue
            try:
                mm, vv, *rest = _parse_name(path, actor_dir.group(1))
            except DataError as error:
                problems.append(str(error))
                continue
            if vv == "02":
                songs += 1
                continue
            key = "-".join((vv, *rest))
            record = recordings.setdefault(key, _Recording(key, (vv, *rest)))
            slot = _slot(path, mm)
            assert slot is not None  # _parse_name checked it
            if slot in record.files:
                problems.append(f"{path}: recording {key} has a second {slot} file; the first is {record.files[slot]}")
                continue
            record.files[slot] = path
    return _Scan(dict(sorted(recordings.items())), tuple(problems), songs)


def _sample(record: _Recording) -> Sample:
    _, ee, ii, ss, rr, aa = record.fields
    sources: dict[str, Path | str] = {}
    files = record.files
    if "audio" in files:
        sources["audio"] = files["audio"]
    video = files.get("video01") or files.get("video02")
    if video is not None:
        sources["video"] = video
    landmarks = files.get("landmarks01") or files.get("landmarks02")
    if landmarks is not None:
        sources["landmarks"] = landmarks
    sources["text"] = STATEMENTS[ss]
    meta = {
        "emotion": EMOTIONS[int(ee) - 1],
        "intensity": "normal" if ii == "01" else "strong",
        "statement": int(ss),
        "repetition": int(rr),
        "sex": "male" if int(aa) % 2 else "female",
    }
    return Sample(id=record.key, label=int(ee) - 1, sources=sources, subject=aa, group=record.key, meta=meta)


def expected_keys() -> list[str]:
    """The 1,440 speech recording keys ``01-EE-II-SS-RR-AA`` RAVDESS contains (24 actors x 60)."""
    keys = []
    for actor in range(1, NUM_ACTORS + 1):
        for emotion in range(1, len(EMOTIONS) + 1):
            for intensity in (1,) if emotion == 1 else (1, 2):
                for statement in (1, 2):
                    for repetition in (1, 2):
                        keys.append(f"01-{emotion:02d}-{intensity:02d}-{statement:02d}-{repetition:02d}-{actor:02d}")
    return sorted(keys)


def _few(items: list[str]) -> str:
    return ", ".join(items[:_SHOWN]) + (f", ... ({len(items) - _SHOWN} more)" if len(items) > _SHOWN else "")


class RAVDESS(DatasetAdapter):
    """RAVDESS speech, 24 actors x 60 recordings, 8 emotion classes (MPUC Tables I and III).

    See the module docstring for the file convention, how the audio-only, audio-visual and
    landmark copies of one recording become one sample, and what is verified.
    """

    name = "ravdess"
    task: ClassVar[TaskKind] = "classification"
    label_names = EMOTIONS
    label_names_source = "RAVDESS file-name emotion codes 01..08 minus one (MPUC train.py L70-71, MAE-DFER)"
    modalities = ("audio", "video", "landmarks", "text")
    layout = LAYOUT

    def samples(self) -> list[Sample]:
        """One sample per speech recording found, sorted by recording key."""
        scan = _scan(self.root)
        if scan.problems:
            more = len(scan.problems) - 1
            extra = f" (and {more} more problem(s); `bench prepare ravdess --check` lists them)" if more else ""
            raise DataError(scan.problems[0] + extra)
        if not scan.recordings:
            raise DataError(f"{self.root}: no RAVDESS speech files in any Actor_NN folder; expected:\n{LAYOUT}")
        return [_sample(record) for record in scan.recordings.values()]

    def expected_samples(self) -> list[Sample]:
        """The 1,440 speech recordings of the complete release, without files (for the run's completeness check)."""
        out = []
        for key in expected_keys():
            _, ee, _, _, _, aa = key.split("-")
            out.append(Sample(id=key, label=int(ee) - 1, sources={}, subject=aa, group=key))
        return out

    def check(self) -> CheckReport:
        """Counts per modality and emotion; bad names, duplicates, empty files and missing recordings.

        Expected: 1,440 speech recordings (24 actors x 60: neutral 4, the other seven emotions
        8 each per actor), and every modality present for either all recordings or none.
        """
        scan = _scan(self.root)
        problems = list(scan.problems)
        samples = [_sample(record) for record in scan.recordings.values()]
        for sample in samples:
            for modality, source in sample.sources.items():
                if isinstance(source, Path) and source.stat().st_size == 0:
                    problems.append(f"{source}: empty {modality} file of recording {sample.id}")
        missing = sorted(set(expected_keys()) - set(scan.recordings))
        if missing:
            problems.append(
                f"{self.root}: {len(missing)} of the {NUM_ACTORS * RECORDINGS_PER_ACTOR} RAVDESS speech "
                f"recordings have no file: {_few(missing)}"
            )
        counts: dict[str, int] = {"recordings": len(samples), "song_files_skipped": scan.songs}
        for modality in ("audio", "video", "landmarks"):
            having = [s for s in samples if modality in s.sources]
            counts[modality] = len(having)
            if having and len(having) < len(samples):
                lacking = [s.id for s in samples if modality not in s.sources]
                problems.append(
                    f"{self.root}: {len(lacking)} recordings have no {modality} file while "
                    f"{len(having)} do: {_few(lacking)}"
                )
        per_emotion = Counter(EMOTIONS[int(s.label)] for s in samples)
        counts.update({f"emotion_{name}": per_emotion.get(name, 0) for name in EMOTIONS})
        counts["actors"] = len({s.subject for s in samples})
        return CheckReport(self.name, self.root, counts, tuple(problems))
