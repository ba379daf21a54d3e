"""Round trips and failure modes of bench.data.media on real mp4 (H.264 + AAC) and wav files."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest
import soundfile as sf

from bench.data.media import AudioClip, VideoClip, read_audio, read_video, rgb_to_yuv420p, write_video, write_wav
from bench.errors import DataError

SR = 16000


def _frames(num: int = 12, height: int = 32, width: int = 48) -> np.ndarray:
    """Three flat colour bands that drift a little over time."""
    frames = np.zeros((num, height, width, 3), np.uint8)
    for t in range(num):
        frames[t, :, : width // 3] = (200, 40 + t, 60)
        frames[t, :, width // 3 : 2 * width // 3] = (30, 180, 90)
        frames[t, :, 2 * width // 3 :] = (70, 70, 220 - t)
    return frames


def _tone(num_samples: int = 2 * SR, freq: float = 440.0) -> np.ndarray:
    t = np.arange(num_samples) / SR
    return (0.4 * np.sin(2 * np.pi * freq * t) * (0.6 + 0.4 * np.sin(2 * np.pi * 3 * t))).astype(np.float32)


@pytest.fixture(scope="module")
def av_file(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, np.ndarray, np.ndarray]:
    path = tmp_path_factory.mktemp("media") / "clip.mp4"
    frames, audio = _frames(), _tone()
    write_video(path, frames, 8.0, audio, SR)
    return path, frames, audio


def test_video_round_trip(av_file: tuple[Path, np.ndarray, np.ndarray]) -> None:
    path, frames, _ = av_file
    clip = read_video(path)
    assert isinstance(clip, VideoClip)
    assert clip.frames.dtype == np.uint8
    assert clip.frames.shape == frames.shape
    assert clip.num_frames == 12
    assert clip.fps == pytest.approx(8.0)
    means = clip.frames.reshape(-1, 3).mean(axis=0)
    assert np.abs(means - frames.reshape(-1, 3).mean(axis=0)).max() < 3.0
    # Per frame and per band, not only on average.
    band = clip.frames[:, 4:-4, 4 : 48 // 3 - 4].reshape(12, -1, 3).mean(axis=1)
    assert np.abs(band - frames[:, 0, 0].astype(float)).max() < 4.0


def test_fractional_frame_rate_and_no_audio(tmp_path: Path) -> None:
    path = tmp_path / "ntsc.mp4"
    write_video(path, _frames(num=5), 30000 / 1001)
    clip = read_video(path)
    assert clip.fps == pytest.approx(30000 / 1001, rel=1e-6)
    assert clip.num_frames == 5
    with pytest.raises(DataError, match="has no audio track") as info:
        read_audio(path)
    assert str(path) in str(info.value)


def test_audio_track_of_mp4_is_trimmed(av_file: tuple[Path, np.ndarray, np.ndarray]) -> None:
    path, _, audio = av_file
    clip = read_audio(path)
    assert isinstance(clip, AudioClip)
    assert clip.sample_rate == SR
    assert clip.samples.dtype == np.float32 and clip.samples.ndim == 1
    # AAC decodes whole 1024-sample frames (32768 here); the reader trims to what was written.
    assert len(clip.samples) == len(audio) == 2 * SR
    assert clip.duration_s == pytest.approx(2.0)
    assert np.corrcoef(clip.samples, audio)[0, 1] > 0.99


def test_wav_round_trip_is_exact_to_pcm16(tmp_path: Path) -> None:
    path = tmp_path / "a.wav"
    audio = _tone(SR // 2)
    write_wav(path, audio, SR)
    assert sf.info(str(path)).subtype == "PCM_16"
    clip = read_audio(path)
    assert clip.sample_rate == SR and len(clip.samples) == len(audio)
    assert np.abs(clip.samples - audio).max() <= 1.0 / 32768
    assert [p.name for p in tmp_path.iterdir()] == ["a.wav"]


def test_stereo_is_averaged_to_mono(tmp_path: Path) -> None:
    path = tmp_path / "stereo.flac"
    left, right = _tone(4000, 300.0), _tone(4000, 500.0)
    sf.write(str(path), np.stack([left, right], axis=1), 8000, subtype="PCM_16")
    clip = read_audio(path)
    assert clip.sample_rate == 8000
    assert np.abs(clip.samples - (left + right) / 2).max() < 1e-3


def test_write_replaces_existing_file(tmp_path: Path) -> None:
    path = tmp_path / "v.mp4"
    write_video(path, _frames(num=3), 8.0)
    write_video(path, _frames(num=7), 8.0)
    assert read_video(path).num_frames == 7
    assert [p.name for p in tmp_path.iterdir()] == ["v.mp4"]


def test_failed_write_leaves_nothing_behind(tmp_path: Path) -> None:
    path = tmp_path / "keep.mp4"
    write_video(path, _frames(num=3), 8.0)
    before = path.read_bytes()
    # 1234 Hz is no AAC sampling rate: the encoder fails after the temporary file was opened.
    with pytest.raises(DataError, match="cannot encode") as info:
        write_video(path, _frames(num=3), 8.0, np.zeros(2000, np.float32), sample_rate=1234)
    assert str(path) in str(info.value)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["keep.mp4"]


@pytest.mark.parametrize("shape", [(3, 15, 16, 3), (3, 16, 16), (0, 16, 16, 3)])
def test_write_video_rejects_bad_frames(tmp_path: Path, shape: tuple[int, ...]) -> None:
    with pytest.raises(ValueError):
        write_video(tmp_path / "bad.mp4", np.zeros(shape, np.uint8), 8.0)
    assert list(tmp_path.iterdir()) == []


def test_missing_and_empty_files(tmp_path: Path) -> None:
    missing = tmp_path / "nope.mp4"
    for reader in (read_video, read_audio):
        with pytest.raises(DataError, match="no such file") as info:
            reader(missing)
        assert str(missing) in str(info.value)
    for name in ("empty.mp4", "empty.wav"):
        empty = tmp_path / name
        empty.touch()
        for reader in (read_video, read_audio):
            with pytest.raises(DataError, match="empty") as info:
                reader(empty)
            assert str(empty) in str(info.value)


def test_truncated_and_garbage_files(tmp_path: Path, av_file: tuple[Path, np.ndarray, np.ndarray]) -> None:
    data = av_file[0].read_bytes()
    truncated = tmp_path / "truncated.mp4"
    truncated.write_bytes(data[: len(data) // 2])
    garbage_mp4 = tmp_path / "garbage.mp4"
    garbage_mp4.write_bytes(b"\x00\x01not a video at all" * 64)
    garbage_wav = tmp_path / "garbage.wav"
    garbage_wav.write_bytes(b"RIFF....WAVEjunk" * 64)
    for path in (truncated, garbage_mp4):
        for reader in (read_video, read_audio):
            with pytest.raises(DataError, match="cannot decode") as info:
                reader(path)
            assert str(path) in str(info.value)
    with pytest.raises(DataError, match="cannot decode audio") as info:
        read_audio(garbage_wav)
    assert str(garbage_wav) in str(info.value)


def test_audio_only_container_has_no_video_stream(tmp_path: Path) -> None:
    path = tmp_path / "audio.wav"
    write_wav(path, _tone(1600), SR)
    with pytest.raises(DataError, match="no video stream") as info:
        read_video(path)
    assert str(path) in str(info.value)


def test_video_stream_without_frames(tmp_path: Path) -> None:
    path = tmp_path / "no_frames.mkv"
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=8)
        stream.width, stream.height, stream.pix_fmt = 16, 16, "yuv420p"
        out.start_encoding()
    assert path.stat().st_size > 0
    with pytest.raises(DataError) as info:
        read_video(path)
    assert str(path) in str(info.value)


def test_bt601_conversion_of_hand_computed_colours() -> None:
    """White, black and pure red in limited-range BT.601 (Y 16-235, chroma 16-240 around 128)."""
    image = np.zeros((2, 4, 3), np.uint8)
    image[:, :2] = 255  # a white 2×2 block
    image[:, 2:] = (255, 0, 0)  # a red 2×2 block
    planes = rgb_to_yuv420p(image)
    assert planes.shape == (3, 4)
    np.testing.assert_array_equal(planes[:2], [[235, 235, 82, 82], [235, 235, 82, 82]])
    # chroma rows: U of white, U of red, then V of white, V of red
    # red: U = (-38·255 + 128) // 256 + 128 = 90, V = (112·255 + 128) // 256 + 128 = 240
    np.testing.assert_array_equal(planes[2], [128, 90, 128, 240])
    black = rgb_to_yuv420p(np.zeros((2, 2, 3), np.uint8))
    np.testing.assert_array_equal(black.ravel(), [16, 16, 16, 16, 128, 128])


def test_video_is_lossless_so_decoding_does_not_depend_on_encoder_decisions(tmp_path: Path) -> None:
    """The decoded yuv420p planes are exactly the converted input: no lossy choice of x264's
    (which were seen to vary between runs on a loaded machine) can reach a decoded frame."""
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, (6, 32, 48, 3), dtype=np.uint8)
    path = tmp_path / "noise.mp4"
    write_video(path, frames, 8.0)
    with av.open(str(path)) as container:
        decoded = [frame.to_ndarray(format="yuv420p") for frame in container.decode(video=0)]
    assert len(decoded) == len(frames)
    for got, image in zip(decoded, frames):
        np.testing.assert_array_equal(got, rgb_to_yuv420p(image))
