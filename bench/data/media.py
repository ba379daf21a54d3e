"""Decoding and encoding of video and audio files.

Readers turn a file into arrays and report every failure (missing, empty, corrupt,
truncated, lacking the expected stream) as a :class:`~bench.errors.DataError` that names
the file and what was expected, never as a raw PyAV or libsndfile traceback.

* :func:`read_video` decodes the first video stream of any container FFmpeg reads into
  RGB frames.
* :func:`read_audio` reads ``.wav``/``.flac``/``.ogg``/``.opus`` with soundfile and the
  audio track of any other container (``.mp4``, ``.mkv``, ``.m4a``, ``.avi``, ...) with
  PyAV. Multichannel audio is averaged to mono (the plain mean of the channels, no
  downmix matrix) or reduced to its first channel (``mix="first"``, what ``torchaudio.load``
  followed by ``[0]`` gives), at the file's own sample rate (no resampling). A container
  without an audio track raises :class:`NoAudioTrackError` (a DataError), so that callers
  can offer a fallback for that case only.
* :func:`media_duration_s` is a container's declared duration, without decoding.
* :func:`write_video` (lossless H.264 in yuv420p, optional mono AAC track) and :func:`write_wav`
  (PCM_16) write atomically: the bytes go to a temporary file in the destination folder
  that is renamed over the destination only once complete.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import tempfile
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from typing import Literal

import av
import numpy as np
import soundfile as sf

from bench.errors import DataError
from bench.files.io import atomic_open, new_file_mode

SOUNDFILE_SUFFIXES: tuple[str, ...] = (".wav", ".flac", ".ogg", ".opus")
"""Audio files read with soundfile; every other suffix is read as a container with PyAV."""

_AAC_FRAME = 1024

Mix = Literal["mean", "first"]


class NoAudioTrackError(DataError):
    """A container that decodes but has no audio stream."""


@dataclasses.dataclass(frozen=True)
class VideoClip:
    """Decoded video: ``frames`` is uint8 ``[T, H, W, 3]`` RGB, ``fps`` frames per second."""

    frames: np.ndarray
    fps: float

    @property
    def num_frames(self) -> int:
        """Number of decoded frames ``T``."""
        return int(self.frames.shape[0])


@dataclasses.dataclass(frozen=True)
class AudioClip:
    """Decoded audio: ``samples`` is float32 ``[S]`` mono in [-1, 1] at ``sample_rate`` Hz."""

    samples: np.ndarray
    sample_rate: int

    @property
    def duration_s(self) -> float:
        """Length in seconds."""
        return len(self.samples) / self.sample_rate


def _reason(error: Exception) -> str:
    """The library's own description of a failure, without the file name it repeats."""
    return str(getattr(error, "strerror", None) or getattr(error, "error_string", None) or error)


def _require_file(path: Path, expected: str) -> None:
    """Raise a DataError unless ``path`` is a non-empty regular file."""
    if not path.is_file():
        raise DataError(f"{path}: no such file (expected {expected})")
    if path.stat().st_size == 0:
        raise DataError(f"{path}: file is empty (0 bytes; expected {expected})")
    try:  # the decoders' own message for a file they may not open is "System error."
        with path.open("rb"):
            pass
    except OSError as error:
        raise DataError(f"{path}: cannot be read ({error.strerror or error}; expected {expected})") from None


def read_video(path: Path) -> VideoClip:
    """Decode every frame of the first video stream of ``path`` as RGB."""
    path = Path(path)
    expected = "a video file"
    _require_file(path, expected)
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise DataError(f"{path}: has no video stream (expected {expected})")
            stream = container.streams.video[0]
            rate = stream.average_rate or stream.guessed_rate or stream.base_rate
            frames = [frame.to_ndarray(format="rgb24") for frame in container.decode(stream)]
    except (av.FFmpegError, OSError, ValueError) as error:
        raise DataError(f"{path}: cannot decode video ({_reason(error)}; corrupt or truncated file?)") from None
    if not frames:
        raise DataError(f"{path}: no video frames decoded (expected {expected})")
    if not rate:
        raise DataError(f"{path}: video stream declares no frame rate")
    return VideoClip(np.stack(frames), float(rate))


def _mix(channels: np.ndarray, mix: Mix) -> np.ndarray:
    """``[channels, samples]`` to mono: their mean, or the first channel."""
    return channels[0] if mix == "first" else channels.mean(axis=0)


def _read_audio_soundfile(path: Path, mix: Mix) -> AudioClip:
    try:
        data, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except (sf.SoundFileError, RuntimeError, OSError) as error:
        raise DataError(f"{path}: cannot decode audio ({_reason(error)}; corrupt or truncated file?)") from None
    return AudioClip(np.ascontiguousarray(_mix(data.T, mix), dtype=np.float32), int(rate))


def _read_audio_container(path: Path, mix: Mix) -> AudioClip:
    try:
        with av.open(str(path)) as container:
            if not container.streams.audio:
                raise NoAudioTrackError(f"{path}: has no audio track (expected a file with audio)")
            stream = container.streams.audio[0]
            rate = int(stream.codec_context.sample_rate)
            # Convert to planar float so that to_ndarray() is [channels, samples] whatever the codec.
            resampler = av.AudioResampler(format="fltp")
            chunks = [
                _mix(converted.to_ndarray(), mix)
                for frame in container.decode(stream)
                for converted in resampler.resample(frame)
            ]
            duration = stream.duration * stream.time_base if stream.duration else None
    except (av.FFmpegError, OSError, ValueError) as error:
        raise DataError(f"{path}: cannot decode audio ({_reason(error)}; corrupt or truncated file?)") from None
    samples = np.concatenate(chunks).astype(np.float32) if chunks else np.zeros(0, np.float32)
    if duration is not None:
        # AAC decodes whole 1024-sample frames; the stream duration says how many are real.
        samples = samples[: int(round(duration * rate))]
    return AudioClip(samples, rate)


def read_audio(path: Path, mix: Mix = "mean") -> AudioClip:
    """Read ``path``'s audio as mono float32 (channels averaged, or the first) at its own sample rate."""
    path = Path(path)
    _require_file(path, "an audio file or a container with an audio track")
    if path.suffix.lower() in SOUNDFILE_SUFFIXES:
        clip = _read_audio_soundfile(path, mix)
    else:
        clip = _read_audio_container(path, mix)
    if len(clip.samples) == 0:
        raise DataError(f"{path}: no audio samples decoded (expected a non-empty audio track)")
    return clip


def media_duration_s(path: Path) -> float:
    """The duration a container declares (its own, else its first video stream's), in seconds."""
    path = Path(path)
    _require_file(path, "a media file")
    try:
        with av.open(str(path)) as container:
            if container.duration:
                return float(container.duration / av.time_base)
            for stream in container.streams.video:
                if stream.duration and stream.time_base:
                    return float(stream.duration * stream.time_base)
    except (av.FFmpegError, OSError, ValueError) as error:
        raise DataError(f"{path}: cannot open media ({_reason(error)}; corrupt or truncated file?)") from None
    raise DataError(f"{path}: the container declares no duration")


@contextlib.contextmanager
def _temporary_beside(path: Path) -> Iterator[Path]:
    """Yield a fresh temporary path beside ``path`` with its suffix; rename it over ``path`` on success."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=path.suffix, dir=path.parent)
    os.fchmod(fd, new_file_mode())
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _audio_frames(samples: np.ndarray, sample_rate: int) -> Iterator[av.AudioFrame]:
    """Cut mono float samples into AAC-sized frames with their pts (in samples)."""
    for start in range(0, len(samples), _AAC_FRAME):
        chunk = np.ascontiguousarray(samples[None, start : start + _AAC_FRAME], dtype=np.float32)
        frame = av.AudioFrame.from_ndarray(chunk, format="fltp", layout="mono")
        frame.sample_rate = sample_rate
        frame.pts = start
        yield frame


def write_video(
    path: Path,
    frames: np.ndarray,
    fps: float,
    audio: np.ndarray | None = None,
    sample_rate: int = 16000,
) -> None:
    """Write uint8 RGB ``frames`` ``[T, H, W, 3]`` as lossless H.264 (yuv420p) with an optional mono AAC track.

    The colour conversion is :func:`rgb_to_yuv420p`, so decoding gives back ``frames`` up to
    that conversion (chroma at half resolution, BT.601 rounding), identically on every run.
    ``H`` and ``W`` must be even (a yuv420p requirement). ``audio`` is float ``[S]`` in [-1, 1]
    at ``sample_rate`` (a rate AAC supports). The container follows ``path``'s suffix (``.mp4``,
    ``.mkv``, ...). The file appears whole or not at all; an encoder failure is a DataError.
    """
    path = Path(path)
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8 or len(frames) == 0:
        raise ValueError(f"frames must be a non-empty uint8 [T, H, W, 3] array, got {frames.dtype} {frames.shape}")
    height, width = int(frames.shape[1]), int(frames.shape[2])
    if height % 2 or width % 2:
        raise ValueError(f"H.264 in yuv420p needs an even width and height, got {width}x{height}")
    if fps <= 0:
        raise ValueError(f"fps must be positive, got {fps}")
    samples = None
    if audio is not None:
        samples = np.clip(np.asarray(audio, dtype=np.float32).reshape(-1), -1.0, 1.0)
    try:
        with _temporary_beside(path) as tmp, av.open(str(tmp), "w") as out:
            video = out.add_stream("libx264", rate=Fraction(fps).limit_denominator(1001))
            video.width, video.height, video.pix_fmt = width, height, "yuv420p"
            # Lossless (qp 0) from planes converted here: x264's lossy decisions and swscale's
            # conversion were measured to differ between runs on a loaded machine (1 clip in ~40),
            # which made generated datasets, and every result trained on them, irreproducible.
            # Lossless coding makes the decoded frames a function of ``frames`` alone.
            video.thread_count, video.thread_type = 1, "NONE"
            video.options = {"qp": "0", "preset": "veryfast", "x264-params": "threads=1:lookahead-threads=1"}
            track = None
            if samples is not None:
                track = out.add_stream("aac", rate=sample_rate)
                track.layout = "mono"
                track.options = {"aac_coder": "fast"}
            for index, image in enumerate(frames):
                frame = av.VideoFrame.from_ndarray(rgb_to_yuv420p(image), format="yuv420p")
                frame.pts = index
                out.mux(video.encode(frame))
            out.mux(video.encode())
            if track is not None and samples is not None:
                for frame in _audio_frames(samples, sample_rate):
                    out.mux(track.encode(frame))
                out.mux(track.encode())
    except av.FFmpegError as error:
        raise DataError(f"{path}: cannot encode video ({_reason(error)})") from None


def rgb_to_yuv420p(image: np.ndarray) -> np.ndarray:
    """One uint8 RGB image ``[H, W, 3]`` as yuv420p planes stacked ``[3H/2, W]`` (BT.601, limited range).

    Chroma is the mean of each 2×2 block; the integer coefficients are ITU-R BT.601's ×256,
    the form FFmpeg's decoder inverts by default for untagged H.264.
    """
    rgb = image.astype(np.int32)
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    y = (66 * r + 129 * g + 25 * b + 128) // 256 + 16
    u = (-38 * r - 74 * g + 112 * b + 128) // 256 + 128
    v = (112 * r - 94 * g - 18 * b + 128) // 256 + 128
    height, width = y.shape

    def half(plane: np.ndarray) -> np.ndarray:
        return (plane.reshape(height // 2, 2, width // 2, 2).sum(axis=(1, 3)) + 2) // 4

    planes = np.concatenate([y.ravel(), half(u).ravel(), half(v).ravel()])
    return np.clip(planes, 0, 255).astype(np.uint8).reshape(height * 3 // 2, width)


def write_wav(path: Path, samples: np.ndarray, sample_rate: int) -> None:
    """Write mono float ``samples`` in [-1, 1] as a 16-bit PCM wav, atomically."""
    data = np.clip(np.asarray(samples, dtype=np.float32).reshape(-1), -1.0, 1.0)
    with atomic_open(Path(path)) as handle:
        sf.write(handle, data, int(sample_rate), subtype="PCM_16", format="WAV")
