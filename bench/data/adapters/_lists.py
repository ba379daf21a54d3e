"""What the dataset adapters share: split-list parsing, fold assembly and the checks of ``check()``.

* :func:`read_clip_list` parses the one-clip-per-line lists of DFER-CLIP / MMA-DFER
  (``<frame-dir> <num_frames> <label>``) and of MAE-DFER (``<frame-dir> <label>``), where only
  the last path component of ``<frame-dir>`` (the clip id) matters.
* :func:`read_id_list` parses plain id lists (the CMU-MOSEI standard folds).
* :func:`assemble_folds` turns k (train, test) lists into :class:`~bench.api.Split` objects and
  refuses a clip on both sides of a fold, in two folds' test lists or with two labels.
* :func:`probe` opens a media source just far enough to know it is readable (the first video
  frame, the first audio samples, the first image of a frame folder), so that
  ``bench prepare --check`` over a whole dataset stays fast.

Every error is a :class:`~bench.errors.DataError` naming the file and line.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path, PurePosixPath

import av
import soundfile as sf
from PIL import Image, UnidentifiedImageError

from bench.api import Sample, Split
from bench.data.media import SOUNDFILE_SUFFIXES
from bench.errors import DataError

FRAME_SUFFIXES: tuple[str, ...] = (".jpg", ".jpeg", ".png")
"""Image files counted as the frames of a frame folder."""


@dataclasses.dataclass(frozen=True)
class Entry:
    """One line of a split list: the clip id, its label, its frame count (when listed) and where it is."""

    clip: str
    label: int
    num_frames: int | None
    path: Path
    line: int

    @property
    def where(self) -> str:
        """``<file>, line <n>``, for messages."""
        return f"{self.path}, line {self.line}"


def require_file(path: Path, layout: str) -> Path:
    """``path`` if it is a file, else a DataError naming it and showing the expected layout."""
    if not path.is_file():
        raise DataError(f"{path}: required file not found; the dataset is expected laid out as:\n{layout}")
    return path


def require_root(root: Path, name: str, layout: str) -> None:
    """A DataError naming the expected layout unless ``root`` is a folder."""
    if not root.is_dir():
        raise DataError(f"{root}: {name} data root not found; it is expected laid out as:\n{layout}")


def _lines(path: Path) -> list[str]:
    try:
        return path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise DataError(f"{path}: cannot read split list ({error})") from error


def read_clip_list(path: Path, with_num_frames: bool, num_classes: int, clip_pattern: str) -> list[Entry]:
    """Parse a list of ``<frame-dir> [<num_frames>] <label>`` lines (blank lines are skipped).

    The clip id is the last component of ``<frame-dir>`` and must match ``clip_pattern``
    (a full-match regular expression); labels are 0-based and must lie in
    ``[0, num_classes)``. A malformed line, a clip listed twice or a label out of range is a
    DataError naming the file and line. A missing final newline is accepted (the DFER-CLIP
    MAFW lists end without one).
    """
    entries: list[Entry] = []
    seen: dict[str, int] = {}
    problems: list[str] = []
    for number, text in enumerate(_lines(path), 1):
        if not text.strip():
            continue
        try:
            entry = _clip_line(text, path, number, with_num_frames, num_classes, clip_pattern)
            if entry.clip in seen:
                raise DataError(f"{entry.where}: clip {entry.clip} is listed twice (first on line {seen[entry.clip]})")
        except DataError as error:  # every bad line is named, not only the first
            problems.append(str(error))
            continue
        seen[entry.clip] = number
        entries.append(entry)
    if problems:
        raise DataError.of(problems)
    return entries


def _clip_line(text: str, path: Path, number: int, with_num_frames: bool, num_classes: int,
               clip_pattern: str) -> Entry:
    form = "<frame-dir> <num_frames> <label>" if with_num_frames else "<frame-dir> <label>"
    fields_wanted = 3 if with_num_frames else 2
    fields = text.split()
    where = f"{path}, line {number}"
    if len(fields) != fields_wanted:
        raise DataError(f"{where}: expected '{form}' ({fields_wanted} space-separated fields), got {text!r}")
    clip = PurePosixPath(fields[0].rstrip("/")).name
    if not re.fullmatch(clip_pattern, clip):
        raise DataError(f"{where}: clip id {clip!r} (last component of {fields[0]!r}) does not match {clip_pattern!r}")
    label = _int(fields[-1], where, "label")
    if not 0 <= label < num_classes:
        raise DataError(f"{where}: label {label} is out of range; expected 0..{num_classes - 1}")
    num_frames = _int(fields[1], where, "num_frames") if with_num_frames else None
    if num_frames is not None and num_frames < 0:
        raise DataError(f"{where}: num_frames {num_frames} is negative")
    return Entry(clip, label, num_frames, path, number)


def _int(text: str, where: str, what: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise DataError(f"{where}: {what} {text!r} is not an integer") from None


def read_id_list(path: Path) -> list[tuple[str, int]]:
    """``(id, line)`` for each non-blank line of a one-id-per-line file; a repeated id is a DataError."""
    out: list[tuple[str, int]] = []
    seen: dict[str, int] = {}
    problems: list[str] = []
    for number, text in enumerate(_lines(path), 1):
        item = text.strip()
        if not item:
            continue
        if len(item.split()) != 1:
            problems.append(f"{path}, line {number}: expected one id per line, got {text!r}")
        elif item in seen:
            problems.append(f"{path}, line {number}: id {item} is listed twice (first on line {seen[item]})")
        else:
            seen[item] = number
            out.append((item, number))
    if problems:
        raise DataError.of(problems)
    return out


def assemble_folds(sides: Sequence[tuple[list[Entry], list[Entry]]]) -> tuple[list[Split], dict[str, Entry]]:
    """Folds ``fold1 .. foldK`` from K (train, test) lists, and the first entry of every clip.

    Refused with a DataError naming both places: a clip on both sides of one fold, a clip in
    the test lists of two folds, and a clip listed with two different labels anywhere.
    """
    first: dict[str, Entry] = {}
    tested: dict[str, tuple[int, Entry]] = {}
    folds = []
    for k, (train, test) in enumerate(sides, 1):
        on_train = {e.clip: e for e in train}
        for entry in test:
            if entry.clip in on_train:
                raise DataError(
                    f"{entry.where}: clip {entry.clip} is also on the train side of fold {k} "
                    f"({on_train[entry.clip].where})"
                )
            if entry.clip in tested:
                other_fold, other = tested[entry.clip]
                raise DataError(
                    f"{entry.where}: clip {entry.clip} is already in the test list of fold {other_fold} "
                    f"({other.where}); the official folds' test sides are disjoint"
                )
            tested[entry.clip] = (k, entry)
        for entry in (*train, *test):
            known = first.setdefault(entry.clip, entry)
            if known.label != entry.label:
                raise DataError(
                    f"{entry.where}: clip {entry.clip} has label {entry.label}, but {known.label} in {known.where}"
                )
        folds.append(Split(f"fold{k}", tuple(e.clip for e in train), tuple(e.clip for e in test)))
    return folds, first


def untested(folds: Sequence[Split]) -> list[str]:
    """Clips that appear in some fold but in no fold's test side (the k test sides must cover the set)."""
    tested = {c for f in folds for c in f.test}
    return sorted({c for f in folds for c in f.train} - tested)


# ---------------------------------------------------------------------------- media checks


def _probe_container(path: Path, kind: str) -> str | None:
    try:
        with av.open(str(path)) as container:
            streams = container.streams.video if kind == "video" else container.streams.audio
            if not streams:
                return f"has no {kind} stream"
            for _ in container.decode(streams[0]):
                return None
    except (av.FFmpegError, OSError, ValueError) as error:
        return f"cannot be decoded ({getattr(error, 'strerror', None) or error})"
    return f"no {kind} frame could be decoded"


def _probe_soundfile(path: Path) -> str | None:
    try:
        with sf.SoundFile(str(path)) as handle:
            if handle.frames == 0:
                return "has no audio samples (zero-length)"
            handle.read(min(handle.frames, 1024), dtype="float32")
    except (sf.SoundFileError, RuntimeError, OSError) as error:
        return f"cannot be decoded ({error})"
    return None


def _probe_frames(folder: Path) -> str | None:
    frames = sorted(p for p in folder.iterdir() if p.suffix.lower() in FRAME_SUFFIXES)
    if not frames:
        return f"frame folder holds no {'/'.join(FRAME_SUFFIXES)} images"
    try:
        with Image.open(frames[0]) as image:
            image.load()
    except (UnidentifiedImageError, OSError) as error:
        return f"first frame {frames[0].name} cannot be decoded ({error})"
    return None


def probe(modality: str, source: Path) -> str | None:
    """Why ``source`` cannot serve ``modality`` (missing, empty, undecodable), or None when it can.

    Only the start is decoded: the first video frame, the first 1,024 audio samples or the
    first audio frame of a container, the first image of a frame folder.
    """
    if source.is_dir():
        return _probe_frames(source)
    if not source.is_file():
        return "is missing"
    if source.stat().st_size == 0:
        return "is empty (0 bytes)"
    if modality == "video":
        return _probe_container(source, "video")
    if modality == "audio":
        if source.suffix.lower() in SOUNDFILE_SUFFIXES:
            return _probe_soundfile(source)
        return _probe_container(source, "audio")
    return None


def media_problems(samples: Iterable[Sample]) -> list[str]:
    """One line per unreadable file source of ``samples`` (inline text is not a file)."""
    problems = []
    for sample in samples:
        for modality, source in sample.sources.items():
            if isinstance(source, Path):
                why = probe(modality, source)
                if why is not None:
                    problems.append(f"{source}: {modality} of sample {sample.id} {why}")
    return problems


def count_problems(counts: Mapping[str, int], expected: Mapping[str, int], source: str) -> list[str]:
    """One line per count that differs from the dataset's known size (``source`` says where that is from)."""
    return [
        f"{key}: {counts.get(key, 0)} found, expected {want} ({source})"
        for key, want in expected.items()
        if counts.get(key, 0) != want
    ]


def fold_counts(folds: Sequence[Split]) -> dict[str, int]:
    """``{"fold1/train": n, "fold1/test": m, ...}`` (and ``/val`` where a fold has one)."""
    counts = {}
    for fold in folds:
        for side in ("train", "val", "test"):
            ids = getattr(fold, side)
            if side != "val" or ids:
                counts[f"{fold.name}/{side}"] = len(ids)
    return counts
