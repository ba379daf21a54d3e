"""The deep media check of ``bench prepare --check``: every media file a dataset uses, decoded whole.

Each file source of every sample is decoded from start to end in a pool of worker
processes, and everything wrong is listed, one line per file:

* video containers (PyAV): every frame of the first video stream; fewer frames than the
  container declares (by more than one) is a truncated file;
* audio read by libsndfile (wav, flac, ogg, opus): every sample; besides, an Ogg file must be
  a whole chain of pages ending in one flagged end-of-stream (a file cut short loses it, and
  libsndfile then decodes what is left without complaint), and a WAV file must be as long as
  its RIFF header says;
* audio in other containers (PyAV): every audio frame;
* frame folders: every image, fully loaded (a truncated JPEG fails here, not on opening);
* other files (landmark tables, transcripts): present and not empty.
"""

from __future__ import annotations

import concurrent.futures
import os
import struct
from collections.abc import Iterable, Sequence
from pathlib import Path

from bench.api import Sample
from bench.data.progress import Progress

FRAME_SUFFIXES: tuple[str, ...] = (".jpg", ".jpeg", ".png")
SOUNDFILE_SUFFIXES: tuple[str, ...] = (".wav", ".flac", ".ogg", ".opus")

Task = tuple[str, str, str]
"""(sample id, modality, path) of one file source."""


def tasks_of(samples: Iterable[Sample]) -> list[Task]:
    """One task per distinct file source of ``samples`` (inline text is not a file)."""
    seen: set[str] = set()
    out = []
    for sample in samples:
        for modality, source in sample.sources.items():
            if isinstance(source, Path) and str(source) not in seen:
                seen.add(str(source))
                out.append((sample.id, modality, str(source)))
    return out


def decode_all(samples: Sequence[Sample], workers: int, progress: bool = False) -> tuple[int, list[str]]:
    """Decode every file source of ``samples`` in ``workers`` processes: (files checked, problem lines)."""
    tasks = tasks_of(samples)
    problems: list[str] = []
    if workers <= 1:
        results: Iterable[list[str]] = map(_check_task, tasks)
        pool = None
    else:
        pool = concurrent.futures.ProcessPoolExecutor(max_workers=workers)
        results = pool.map(_check_task, tasks, chunksize=max(1, min(32, len(tasks) // (4 * workers) or 1)))
    counter = Progress("decode media", len(tasks), enabled=progress)
    try:
        for found in results:
            problems += found
            counter.step(f"{len(problems)} problem(s)")
    finally:
        counter.close()
        if pool is not None:
            pool.shutdown(cancel_futures=True)
    return len(tasks), problems


def _check_task(task: Task) -> list[str]:
    sample_id, modality, name = task
    path = Path(name)
    return [f"{where}: {modality} of sample {sample_id} {why}" for where, why in file_problems(modality, path)]


def file_problems(modality: str, path: Path) -> list[tuple[Path, str]]:
    """(file, what is wrong) for ``path`` serving ``modality``; empty when it decodes whole."""
    if path.is_dir():
        return _frame_folder(path)
    if path.is_symlink() and not path.exists():
        return [(path, "is a symbolic link that leads nowhere or loops back to itself")]
    if not path.is_file():
        return [(path, "is missing")]
    try:
        with path.open("rb"):
            pass
    except OSError as error:
        return [(path, f"cannot be read ({error.strerror or error})")]
    if path.stat().st_size == 0:
        return [(path, "is empty (0 bytes)")]
    suffix = path.suffix.lower()
    why: str | None = None
    if modality == "video" or (modality == "audio" and suffix not in SOUNDFILE_SUFFIXES):
        why = _container(path, "video" if modality == "video" else "audio")
    elif modality == "audio":
        why = _ogg_pages(path) if suffix in (".ogg", ".opus") else _riff_size(path) if suffix == ".wav" else None
        why = why or _soundfile(path)
    return [] if why is None else [(path, why)]


def _frame_folder(folder: Path) -> list[tuple[Path, str]]:
    from PIL import Image, UnidentifiedImageError

    frames = sorted(p for p in folder.iterdir() if p.suffix.lower() in FRAME_SUFFIXES)
    if not frames:
        return [(folder, f"frame folder holds no {'/'.join(FRAME_SUFFIXES)} images")]
    problems = []
    for frame in frames:
        try:
            with Image.open(frame) as image:
                image.load()
        except (UnidentifiedImageError, OSError, SyntaxError) as error:
            problems.append((frame, f"frame cannot be decoded ({error})"))
    return problems


def _container(path: Path, kind: str) -> str | None:
    import av

    decoded = 0
    try:
        with av.open(str(path)) as container:
            streams = container.streams.video if kind == "video" else container.streams.audio
            if not streams:
                return f"has no {kind} stream"
            declared = streams[0].frames
            for _ in container.decode(streams[0]):
                decoded += 1
    except (av.FFmpegError, OSError, ValueError, EOFError) as error:
        return f"cannot be decoded after {decoded} {kind} frame(s) ({getattr(error, 'strerror', None) or error})"
    if decoded == 0:
        return f"no {kind} frame could be decoded"
    # one frame of slack: an AVI written by FFmpeg declares one frame more than it holds
    if kind == "video" and declared and decoded + 1 < declared:
        return f"is truncated: {decoded} of the {declared} video frames its header declares decode"
    return None


def _soundfile(path: Path) -> str | None:
    import soundfile as sf

    try:
        with sf.SoundFile(str(path)) as handle:
            if handle.frames == 0:
                return "has no audio samples (zero-length)"
            read = 0
            while True:
                block = handle.read(1 << 16, dtype="float32")
                if not len(block):
                    break
                read += len(block)
    except (sf.SoundFileError, RuntimeError, OSError) as error:
        return f"cannot be decoded ({error})"
    if read < handle.frames:
        return f"is truncated: {read} of {handle.frames} audio samples decode"
    return None


def _ogg_pages(path: Path) -> str | None:
    """Why an Ogg file is not a whole chain of pages ending in an end-of-stream page, or None."""
    data = path.read_bytes()
    offset, last_flags = 0, 0
    while offset < len(data):
        if offset + 27 > len(data):
            return f"is truncated: {len(data) - offset} stray byte(s) after the last whole Ogg page"
        if data[offset:offset + 4] != b"OggS":
            return f"is not a whole Ogg stream: no page starts at byte {offset} of {len(data)}"
        last_flags, segments = data[offset + 5], data[offset + 26]
        table_end = offset + 27 + segments
        if table_end > len(data):
            return f"is truncated: the Ogg page at byte {offset} is cut short"
        end = table_end + sum(data[offset + 27:table_end])
        if end > len(data):
            return f"is truncated: the Ogg page at byte {offset} needs {end} bytes, the file has {len(data)}"
        offset = end
    if not last_flags & 0x04:
        return "is truncated: its last Ogg page is not flagged end-of-stream"
    return None


def _riff_size(path: Path) -> str | None:
    """Why a WAV file is shorter than its RIFF header says, or None."""
    size = path.stat().st_size
    with path.open("rb") as handle:
        header = handle.read(12)
    if len(header) < 12 or header[:4] != b"RIFF" or header[8:12] != b"WAVE":
        return None  # not RIFF/WAVE (RF64, raw): libsndfile judges it
    declared = struct.unpack("<I", header[4:8])[0] + 8
    if declared != 0xFFFFFFFF + 8 and size < declared:
        return f"is truncated: {size} bytes, its RIFF header declares {declared}"
    return None


def default_workers() -> int:
    """Worker processes when none are asked for: the cores this process may use, at most 8."""
    return max(1, min(8, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1))
