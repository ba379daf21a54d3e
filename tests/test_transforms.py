"""Preprocessing variants on real files: TSN sampling, frames, log-mels, hashed text, landmarks."""

from __future__ import annotations

from pathlib import Path

import kaldi_native_fbank as knf
import numpy as np
import pytest
import soundfile as sf

from bench.api import TransformSpec
from bench.data.media import write_video, write_wav
from bench.data.transforms import TRANSFORMS, Transform, get_transform, tsn_indices
from bench.errors import ConfigError, DataError

SR = 16000


def _tone(freq: float, sample_rate: int, seconds: float = 1.0, amplitude: float = 0.5) -> np.ndarray:
    t = np.arange(int(sample_rate * seconds)) / sample_rate
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def _chord(sample_rate: int) -> np.ndarray:
    return _tone(300, sample_rate, amplitude=0.2) + _tone(1000, sample_rate, amplitude=0.2) + _tone(
        2500, sample_rate, amplitude=0.1
    ) + _tone(5000, sample_rate, amplitude=0.1)


def _mel_bin_of(freq: float, num_bins: int = 64, low: float = 20.0, high: float = SR / 2) -> int:
    """Index of the Kaldi mel filter (equally spaced on 1127 ln(1 + f/700)) centred nearest ``freq``."""

    def mel(f: float) -> float:
        return 1127.0 * np.log(1.0 + f / 700.0)

    step = (mel(high) - mel(low)) / (num_bins + 1)
    centres = mel(low) + step * (np.arange(num_bins) + 1)
    return int(np.abs(centres - mel(freq)).argmin())


def _transform(name: str, **params: object) -> Transform:
    return get_transform(TransformSpec(name, params))


# --- tsn_indices -------------------------------------------------------------------------


def test_tsn_centre_hand_cases() -> None:
    assert tsn_indices(32, 8, "centre").tolist() == [2, 6, 10, 14, 18, 22, 26, 30]
    assert tsn_indices(10, 4, "centre").tolist() == [1, 3, 6, 8]
    assert tsn_indices(8, 8, "centre").tolist() == list(range(8))
    assert tsn_indices(1, 3, "centre").tolist() == [0, 0, 0]
    assert tsn_indices(32, 8, "centre").dtype == np.int64


def test_tsn_short_clip_repeats_last_frame() -> None:
    assert tsn_indices(5, 8, "centre").tolist() == [0, 1, 2, 3, 4, 4, 4, 4]
    rng = np.random.default_rng(0)
    assert tsn_indices(5, 8, "random", rng).tolist() == [0, 1, 2, 3, 4, 4, 4, 4]


def test_tsn_random_stays_in_its_segment_and_is_seeded() -> None:
    # MMA-DFER's _get_train_indices: avg = 37 // 8 = 4, frame k*4 + randint(4); 32..36 never drawn.
    n, t = 37, 8
    bounds = [(4 * k, 4 * k + 4) for k in range(t)]
    seen = np.zeros(n, dtype=bool)
    rng = np.random.default_rng(123)
    for _ in range(200):
        picks = tsn_indices(n, t, "random", rng)
        assert all(lo <= p < hi for p, (lo, hi) in zip(picks.tolist(), bounds))
        seen[picks] = True
    assert seen[:32].all() and not seen[32:].any()
    again = [tsn_indices(n, t, "random", np.random.default_rng(5)).tolist() for _ in range(2)]
    assert again[0] == again[1]


def test_tsn_bad_arguments() -> None:
    with pytest.raises(ValueError, match="rng"):
        tsn_indices(32, 8, "random")
    with pytest.raises(ValueError, match="mode"):
        tsn_indices(32, 8, "middle")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="at least one frame"):
        tsn_indices(0, 8, "centre")


# --- parameter validation ----------------------------------------------------------------


def test_registry_and_describe() -> None:
    assert set(TRANSFORMS) >= {"video_frames", "audio_logmel", "text_hash", "landmarks_csv"}
    described = _transform("audio_logmel", frame_shift_ms=10, num_mel_bins=32).describe()
    assert described == {
        "name": "audio_logmel",
        "version": 1,
        "params": {
            "sample_rate": 16000,
            "num_mel_bins": 32,
            "frame_shift_ms": 10.0,
            "frame_length_ms": 25.0,
            "max_frames": 100,
        },
    }
    assert isinstance(described["params"]["frame_shift_ms"], float)  # an int is taken as a float


def test_unknown_transform_suggests_and_lists() -> None:
    with pytest.raises(ConfigError) as error:
        get_transform(TransformSpec("video_frame"))
    message = str(error.value)
    assert "did you mean 'video_frames'" in message
    assert all(name in message for name in TRANSFORMS)


def test_unknown_param_names_transform_and_valid_params() -> None:
    with pytest.raises(ConfigError) as error:
        _transform("video_frames", num_frame=8)
    message = str(error.value)
    assert "'video_frames'" in message and "'num_frame'" in message
    assert "num_frames" in message and "size" in message


@pytest.mark.parametrize(
    ("name", "params", "pattern"),
    [
        ("video_frames", {"num_frames": "8"}, "'num_frames': expected an integer, got '8'"),
        ("video_frames", {"size": 32.0}, "'size': expected an integer, got 32.0"),
        ("video_frames", {"size": True}, "'size': expected an integer, got True"),
        ("audio_logmel", {"frame_shift_ms": "10"}, "'frame_shift_ms': expected a number, got '10'"),
        ("video_frames", {"num_frames": 0}, "must be > 0"),
        ("text_hash", {"vocab_size": 1}, "must be >= 2"),
    ],
)
def test_bad_param_values(name: str, params: dict, pattern: str) -> None:
    with pytest.raises(ConfigError, match=pattern):
        _transform(name, **params)


def test_file_transform_rejects_inline_text() -> None:
    with pytest.raises(DataError, match="inline text"):
        _transform("video_frames").apply("some words")


# --- video_frames ------------------------------------------------------------------------


def test_video_frames_shape_and_order(tmp_path: Path) -> None:
    frames = np.stack([np.full((48, 64, 3), 4 + 7 * k, dtype=np.uint8) for k in range(32)])
    path = tmp_path / "ramp.mp4"
    write_video(path, frames, fps=25.0)
    transform = _transform("video_frames", num_frames=8, size=16)
    stored = transform.apply(path)  # the whole clip, resized: sampling happens per batch
    assert stored.shape == (32, 16, 16, 3) and stored.dtype == np.uint8
    np.testing.assert_allclose(stored.reshape(32, -1).mean(axis=1), 4 + 7 * np.arange(32), atol=3)
    out = transform.sample(stored, train=False, rng=None)
    assert out.shape == (8, 16, 16, 3)
    np.testing.assert_array_equal(out, stored[[2, 6, 10, 14, 18, 22, 26, 30]])


def test_video_frames_resizes_content_bilinearly(tmp_path: Path) -> None:
    # Left half dark, right half bright: after resizing the halves must survive.
    image = np.zeros((64, 64, 3), dtype=np.uint8)
    image[:, 32:] = 200
    path = tmp_path / "halves.mp4"
    write_video(path, np.stack([image] * 4), fps=10.0)
    out = _transform("video_frames", num_frames=2, size=8).apply(path)
    assert out.shape == (4, 8, 8, 3)
    assert out[:, :, :3].mean() < 20 and out[:, :, 5:].mean() > 180


def test_video_frames_bad_file(tmp_path: Path) -> None:
    path = tmp_path / "broken.mp4"
    path.write_bytes(b"\x00" * 100)
    with pytest.raises(DataError, match="broken.mp4"):
        _transform("video_frames").apply(path)


# --- audio_logmel ------------------------------------------------------------------------


def test_audio_logmel_tone_lands_in_its_mel_bin(tmp_path: Path) -> None:
    path = tmp_path / "tone.wav"
    write_wav(path, _tone(1000, SR), SR)
    out = _transform("audio_logmel").apply(path)
    assert out.shape == (100, 64) and out.dtype == np.float32
    valid = 1 + (SR - 400) // 160  # 98 frames of 25 ms every 10 ms in one second
    assert np.all(out[valid:] == 0) and np.all(out[valid - 1] != 0)
    spectrum = out[:valid].mean(axis=0)
    assert int(spectrum.argmax()) == _mel_bin_of(1000)
    assert spectrum.max() - np.median(spectrum) > 5  # a clear peak, not a flat spectrum


def test_audio_logmel_truncates_to_max_frames(tmp_path: Path) -> None:
    path = tmp_path / "long.wav"
    write_wav(path, _tone(440, SR, seconds=2.0), SR)
    out = _transform("audio_logmel", max_frames=50, num_mel_bins=40).apply(path)
    assert out.shape == (50, 40) and np.all(out != 0)


def test_audio_logmel_from_mp4_audio_track(tmp_path: Path) -> None:
    wav, mp4 = tmp_path / "tone.wav", tmp_path / "tone.mp4"
    tone = _tone(1000, SR)
    write_wav(wav, tone, SR)
    write_video(mp4, np.full((10, 32, 32, 3), 90, dtype=np.uint8), fps=10.0, audio=tone, sample_rate=SR)
    transform = _transform("audio_logmel")
    from_wav, from_mp4 = transform.apply(wav), transform.apply(mp4)
    assert from_mp4.shape == from_wav.shape == (100, 64)
    assert int(from_mp4[:90].mean(axis=0).argmax()) == _mel_bin_of(1000)
    # AAC is lossy, but the long-term spectrum around the tone is the same.
    near = slice(_mel_bin_of(1000) - 5, _mel_bin_of(1000) + 6)
    np.testing.assert_allclose(from_mp4[5:90, near].mean(0), from_wav[5:90, near].mean(0), atol=0.5)


def test_audio_logmel_resamples_48k_like_16k(tmp_path: Path) -> None:
    low, high = tmp_path / "chord16.wav", tmp_path / "chord48.wav"
    sf.write(low, _chord(16000), 16000, subtype="FLOAT")
    sf.write(high, _chord(48000), 48000, subtype="FLOAT")
    transform = _transform("audio_logmel")
    a, b = transform.apply(low), transform.apply(high)
    diff = np.abs(a[:98] - b[:98])
    assert diff.mean() < 0.01 and diff.max() < 0.1


def test_audio_logmel_matches_kaldi_native_fbank(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    noise = (0.1 * rng.standard_normal(SR)).astype(np.float32) + _tone(700, SR, amplitude=0.2)
    path = tmp_path / "noise.wav"
    sf.write(path, noise, SR, subtype="FLOAT")
    ours = _transform("audio_logmel", max_frames=120).apply(path)

    opts = knf.FbankOptions()
    opts.frame_opts.samp_freq = SR
    opts.frame_opts.dither = 0.0
    opts.frame_opts.window_type = "hanning"
    opts.frame_opts.frame_shift_ms = 10.0
    opts.frame_opts.frame_length_ms = 25.0
    opts.mel_opts.num_bins = 64
    opts.htk_compat = True
    opts.use_energy = False
    reference = knf.OnlineFbank(opts)
    reference.accept_waveform(SR, noise.tolist())
    reference.input_finished()
    theirs = np.stack([reference.get_frame(i) for i in range(reference.num_frames_ready)])

    assert theirs.shape == (98, 64)
    assert np.abs(ours[:98] - theirs).max() < 1e-2
    assert np.all(ours[98:] == 0)


def test_audio_logmel_too_short(tmp_path: Path) -> None:
    path = tmp_path / "blip.wav"
    write_wav(path, _tone(1000, SR, seconds=0.01), SR)  # 160 samples < one 400-sample frame
    with pytest.raises(DataError, match="blip.wav.*shorter than one"):
        _transform("audio_logmel").apply(path)


# --- text_hash ---------------------------------------------------------------------------


def test_text_hash_is_pinned_case_and_punctuation_free() -> None:
    transform = _transform("text_hash", vocab_size=4096, max_tokens=6)
    out = transform.apply("Hello, WORLD!  hello")
    assert out.dtype == np.int64 and out.shape == (6,)
    # crc32 values are fixed, so these ids are the same in every process and every run.
    assert out.tolist() == [1991, 2287, 1991, 0, 0, 0]
    assert transform.apply("hello world hello").tolist() == out.tolist()


def test_text_hash_padding_truncation_and_range(tmp_path: Path) -> None:
    transform = _transform("text_hash", vocab_size=16, max_tokens=4)
    assert transform.apply("").tolist() == [0, 0, 0, 0]
    assert transform.apply("...!?").tolist() == [0, 0, 0, 0]
    many = transform.apply("a b c d e f g")
    assert many.shape == (4,) and np.all((many >= 1) & (many <= 15))
    assert many.tolist() == transform.apply("a b c d").tolist()
    file = tmp_path / "utterance.txt"
    file.write_text("A b C d", encoding="utf-8")
    assert transform.apply(file).tolist() == many.tolist()


# --- landmarks_csv -----------------------------------------------------------------------


def _write_landmarks(path: Path, table: np.ndarray, points: int, extra: bool = True) -> None:
    """An OpenFace-like CSV: frame, confidence, then y columns before x columns, ", " separated."""
    header = (["frame", "confidence"] if extra else []) + [f"y_{i}" for i in range(points)] + [
        f"x_{i}" for i in range(points)
    ]
    lines = [", ".join(header)]
    for r, row in enumerate(table):
        xs, ys = row[:points], row[points:]
        cells = ([str(r + 1), "0.98"] if extra else []) + [repr(float(v)) for v in ys] + [
            repr(float(v)) for v in xs
        ]
        lines.append(", ".join(cells))
    path.write_text("\n".join(lines) + "\n")


def test_landmarks_csv_selects_and_normalises(tmp_path: Path) -> None:
    points, rows = 3, 10
    rng = np.random.default_rng(1)
    table = np.concatenate(
        [rng.uniform(100, 300, (rows, points)), rng.uniform(50, 90, (rows, points))], axis=1
    )
    path = tmp_path / "lm.csv"
    _write_landmarks(path, table, points)
    out = _transform("landmarks_csv", num_frames=4, num_points=points).apply(path)
    assert out.shape == (4, 2 * points) and out.dtype == np.float32
    picked = table[[1, 3, 6, 8]]
    xs, ys = picked[:, :points], picked[:, points:]
    expected = np.concatenate(
        [(xs - xs.min()) / (xs.max() - xs.min()), (ys - ys.min()) / (ys.max() - ys.min())], axis=1
    )
    np.testing.assert_allclose(out, expected, atol=1e-6)
    assert out[:, :points].min() == 0 and out[:, :points].max() == 1


def test_landmarks_csv_constant_coordinate_is_zero(tmp_path: Path) -> None:
    table = np.array([[5.0, 5.0, 1.0, 3.0], [5.0, 5.0, 2.0, 4.0]])
    path = tmp_path / "flat.csv"
    _write_landmarks(path, table, 2, extra=False)
    out = _transform("landmarks_csv", num_frames=3, num_points=2).apply(path)
    assert out.shape == (3, 4)
    np.testing.assert_array_equal(out[:, :2], 0)
    np.testing.assert_allclose(out[:, 2:], [[0, 2 / 3], [1 / 3, 1], [1 / 3, 1]], atol=1e-6)


def test_landmarks_csv_missing_columns(tmp_path: Path) -> None:
    path = tmp_path / "few.csv"
    _write_landmarks(path, np.ones((2, 4)), 2)
    with pytest.raises(DataError) as error:
        _transform("landmarks_csv", num_points=3).apply(path)
    message = str(error.value)
    assert "few.csv" in message and "x_2" in message and "x_0..x_2, y_0..y_2" in message


def test_landmarks_csv_non_numeric_cell(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("frame,x_0,y_0\n1,0.5,0.5\n2,oops,0.1\n")
    with pytest.raises(DataError, match=r"bad.csv: line 3, column 'x_0': 'oops'"):
        _transform("landmarks_csv", num_points=1).apply(path)


def test_landmarks_csv_ragged_and_empty(tmp_path: Path) -> None:
    ragged = tmp_path / "ragged.csv"
    ragged.write_text("x_0,y_0\n1,2\n3\n")
    with pytest.raises(DataError, match="ragged.csv: line 3 has 1 cells"):
        _transform("landmarks_csv", num_points=1).apply(ragged)
    empty = tmp_path / "empty.csv"
    empty.write_text("frame,x_0,y_0\n")
    with pytest.raises(DataError, match="empty.csv: landmark CSV has no data rows"):
        _transform("landmarks_csv", num_points=1).apply(empty)
    with pytest.raises(DataError, match="absent.csv"):
        _transform("landmarks_csv", num_points=1).apply(tmp_path / "absent.csv")


def test_choice_and_optional_params_and_storage_declarations() -> None:
    with pytest.raises(ConfigError, match="'channel': 'left' is not one of 'mean', 'first'$"):
        _transform("audio_fbank_audiomae", channel="left")
    assert _transform("audio_fbank_audiomae", sample_rate=None).params.sample_rate is None
    assert _transform("audio_fbank_audiomae", sample_rate=16000).params.sample_rate == 16000
    with pytest.raises(ConfigError, match=r"'sample_rate': expected an integer \(or null\), got '16k'"):
        _transform("audio_fbank_audiomae", sample_rate="16k")
    with pytest.raises(ConfigError, match="'size' must be > 0"):
        _transform("face_frames", size=0)
    frames = _transform("video_frames", num_frames=16, test_clips=2)
    assert frames.variable_length and frames.describe()["version"] == 2
    assert frames.describe()["params"] == {"num_frames": 16, "size": 32, "ordering": "numeric", "test_clips": 2,
                                           "count": "files"}
    # Sampling parameters are recorded but do not key the cache: the decoded clip is the same.
    assert frames.cache_identity()["params"] == {"size": 32, "ordering": "numeric", "count": "files"}
    with pytest.raises(ConfigError, match="'count' must be one of 'files', 'mmadfer_lists', got 'all'"):
        _transform("video_frames", count="all")
    assert not _transform("audio_logmel").variable_length
    assert "device" not in _transform("face_frames", device="cuda").describe()["params"]
