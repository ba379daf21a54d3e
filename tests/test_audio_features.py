"""The audio front ends of MMA-DFER (AudioMAE fbank), MPUC (log-mel) and ConCluGen (mel) on real files."""

from __future__ import annotations

import math
from pathlib import Path

import kaldi_native_fbank as knf
import numpy as np
import pytest
import soundfile as sf

from bench.api import Sample, TransformSpec
from bench.data.cache import Cache
from bench.data.media import write_video, write_wav
from bench.data.prepare import prepare
from bench.data.catalog import get_transform
from bench.data.transforms import Transform
from bench.errors import DataError

SR = 16000
PADDED = 4.2677393 / (4.5689974 * 2)  # a zero fbank frame after AudioMAE's normalisation: 0.46703...


def _tone(freq: float, rate: int, seconds: float, amplitude: float = 0.3) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def _transform(name: str, **params: object) -> Transform:
    return get_transform(TransformSpec(name, params))


def _knf_fbank(wave: np.ndarray, rate: int, bins: int) -> np.ndarray:
    """kaldi-native-fbank with MMA-DFER's fbank options (an independent implementation)."""
    opts = knf.FbankOptions()
    opts.frame_opts.samp_freq = rate
    opts.frame_opts.dither = 0.0
    opts.frame_opts.window_type = "hanning"
    opts.frame_opts.frame_shift_ms = 10.0
    opts.mel_opts.num_bins = bins
    opts.htk_compat = True
    opts.use_energy = False
    fbank = knf.OnlineFbank(opts)
    fbank.accept_waveform(rate, wave.astype(np.float64).tolist())
    fbank.input_finished()
    return np.stack([fbank.get_frame(i) for i in range(fbank.num_frames_ready)])


def test_fbank_audiomae_matches_knf_after_mean_removal_and_normalisation(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    wave = _tone(700, SR, 0.3) + 0.05 * rng.standard_normal(int(SR * 0.3)).astype(np.float32) + 0.2  # DC offset
    path = tmp_path / "noise.wav"
    sf.write(path, wave, SR, subtype="FLOAT")
    out = _transform("audio_fbank_audiomae", num_mel_bins=126).apply(path)  # KNF refuses 128 bins at 16 kHz
    assert out.shape == (512, 126) and out.dtype == np.float32
    reference = _knf_fbank(wave - wave.mean(), SR, 126)
    frames = 1 + (len(wave) - 400) // 160
    assert reference.shape == (frames, 126) == (28, 126)
    np.testing.assert_allclose(out[:frames], (reference + 4.2677393) / (4.5689974 * 2), atol=2e-4)
    np.testing.assert_allclose(out[frames:], PADDED, rtol=1e-6)  # zero-padded to 512 before normalising


def test_fbank_audiomae_defaults_and_truncation(tmp_path: Path) -> None:
    path = tmp_path / "long.wav"
    write_wav(path, _tone(1000, SR, 6.0), SR)
    transform = _transform("audio_fbank_audiomae")
    assert transform.describe()["params"] == {"sample_rate": None, "channel": "first", "num_mel_bins": 128,
                                              "target_length": 512, "missing_audio": "error"}
    out = transform.apply(path)
    assert out.shape == (512, 128)
    longer = _transform("audio_fbank_audiomae", target_length=600).apply(path)
    np.testing.assert_array_equal(out, longer[:512])  # 598 frames, cut to the first 512
    np.testing.assert_allclose(longer[598:], PADDED, rtol=1e-6)
    assert not np.allclose(out[-1], PADDED)
    # At 16 kHz, 128 bins from 20 Hz leave filter 3 empty: Kaldi's log floor, log(FLT_EPSILON) (ENVIRONMENT.md).
    np.testing.assert_allclose(out[:, 3], (math.log(np.finfo(np.float32).eps) + 4.2677393) / 9.1379948, rtol=1e-5)


def test_fbank_audiomae_native_rate_and_first_channel(tmp_path: Path) -> None:
    rate = 44100
    left, right = _tone(500, rate, 0.3), _tone(3000, rate, 0.3)
    stereo = tmp_path / "stereo.wav"
    sf.write(stereo, np.stack([left, right], axis=1), rate, subtype="FLOAT")
    first = _transform("audio_fbank_audiomae", num_mel_bins=80).apply(stereo)
    frames = 1 + (len(left) - int(rate * 0.025)) // int(rate * 0.01)
    # Channel 0 only, at 44.1 kHz (no resampling), as the official code.
    np.testing.assert_allclose(first[:frames], (_knf_fbank(left - left.mean(), rate, 80) + 4.2677393) / 9.1379948,
                               atol=2e-4)
    mixed = _transform("audio_fbank_audiomae", num_mel_bins=80, channel="mean").apply(stereo)
    both = (left + right) / 2
    np.testing.assert_allclose(mixed[:frames], (_knf_fbank(both - both.mean(), rate, 80) + 4.2677393) / 9.1379948,
                               atol=2e-4)
    # sample_rate=16000 resamples first: like the same tone recorded at 16 kHz.
    resampled = _transform("audio_fbank_audiomae", num_mel_bins=80, sample_rate=16000).apply(stereo)
    low = tmp_path / "left16.wav"
    sf.write(low, _tone(500, SR, 0.3), SR, subtype="FLOAT")
    native16 = _transform("audio_fbank_audiomae", num_mel_bins=80).apply(low)
    valid = 1 + (int(SR * 0.3) - 400) // 160
    assert np.abs(resampled[2 : valid - 2] - native16[2 : valid - 2]).mean() < 0.01
    assert np.all(resampled[valid:] == native16[valid:])


def _slaney_mel(f: float) -> float:
    return f / (200.0 / 3) if f < 1000 else 15.0 + math.log(f / 1000.0) * 27.0 / math.log(6.4)


def _htk_mel(f: float) -> float:
    return 2595.0 * math.log10(1.0 + f / 700.0)


def _nearest_mel_bin(freq: float, rate: int, bins: int, mel) -> int:
    centres = np.linspace(mel(0.0), mel(rate / 2), bins + 2)[1:-1]
    return int(np.abs(centres - mel(freq)).argmin())


def test_logmel_mpuc_db_scale_and_bins(tmp_path: Path) -> None:
    rate = 22050
    # 1 kHz at amplitude 0.5, then at 0.05: the same mel bin, 20 dB apart (power, ref = the maximum).
    wave = np.concatenate([_tone(1000, rate, 0.5, amplitude=0.5), _tone(1000, rate, 0.5, amplitude=0.05)])
    path = tmp_path / "steps.wav"
    sf.write(path, wave, rate, subtype="FLOAT")
    out = _transform("audio_logmel_mpuc").apply(path)
    assert out.shape == (1 + len(wave) // 512, 128) == (44, 128) and out.dtype == np.float32
    assert out.max() == 0.0 and out.min() >= -80.0 and np.isclose(out.min(), -80.0)  # top_db 80
    bin_1k = _nearest_mel_bin(1000, rate, 128, _slaney_mel)
    assert abs(int(np.argmax(out[3:18].mean(axis=0))) - bin_1k) <= 1
    loud, quiet = out[3:18].max(axis=1).mean(), out[26:41].max(axis=1).mean()
    assert loud == pytest.approx(0.0, abs=0.5) and quiet == pytest.approx(-20.0, abs=0.5)
    high = tmp_path / "high.wav"
    sf.write(high, _tone(5000, rate, 0.5), rate, subtype="FLOAT")
    peak = int(np.argmax(_transform("audio_logmel_mpuc").apply(high)[2:-2].mean(axis=0)))
    assert abs(peak - _nearest_mel_bin(5000, rate, 128, _slaney_mel)) <= 1


def test_logmel_mpuc_resamples_and_crops(tmp_path: Path) -> None:
    path = tmp_path / "tone16.wav"
    write_wav(path, _tone(440, SR, 2.0), SR)
    transform = _transform("audio_logmel_mpuc", num_frames=30)
    stored = transform.apply(path)
    assert stored.shape == (1 + 2 * 22050 // 512, 128)  # resampled to 22050 Hz: 87 frames
    np.testing.assert_array_equal(transform.sample(stored, False, None), stored[:30])  # eval: start 0
    rng = np.random.default_rng(3)
    starts = set()
    for _ in range(50):
        crop = transform.sample(stored, True, rng)
        start = int(np.flatnonzero((stored == crop[0]).all(axis=1))[0])
        np.testing.assert_array_equal(crop, stored[start : start + 30])
        starts.add(start)
    assert len(starts) > 10 and max(starts) <= len(stored) - 30
    short = stored[:12]
    np.testing.assert_array_equal(transform.sample(short, True, rng), short[np.arange(30) % 12])  # wraps


def test_mel_conclugen_minmax_and_shape(tmp_path: Path) -> None:
    path = tmp_path / "tone48.wav"
    sf.write(path, _tone(1000, 48000, 1.0), 48000, subtype="FLOAT")  # resampled to 16 kHz mono
    out = _transform("audio_mel_conclugen").apply(path)
    assert out.shape == (128, 1 + SR // 160) and out.dtype == np.float32
    assert out.min() == 0.0 and out.max() == pytest.approx(1.0)
    assert abs(int(np.argmax(out[:, 5:-5].mean(axis=1))) - _nearest_mel_bin(1000, SR, 128, _htk_mel)) <= 1


@pytest.fixture(scope="module")
def mute(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("mute") / "mute.mp4"
    write_video(path, np.full((10, 32, 32, 3), 50, dtype=np.uint8), fps=10.0)  # 1 s, no audio track
    return path


@pytest.mark.parametrize("name", ["audio_fbank_audiomae", "audio_logmel_mpuc", "audio_mel_conclugen"])
def test_missing_audio_is_an_error_by_default(mute: Path, name: str) -> None:
    with pytest.raises(DataError, match="mute.mp4: has no audio track"):
        _transform(name).apply(mute)


@pytest.mark.parametrize(
    ("name", "shape", "value", "also"),
    [("audio_fbank_audiomae", (512, 128), PADDED, {}),
     # 1 s of silence is 44 frames, shorter than MPUC's crop: that fallback is counted too
     ("audio_logmel_mpuc", (1 + 22050 // 512, 128), 0.0, {"shorter_than_crop_wrapped": 1}),
     ("audio_mel_conclugen", (128, 1 + SR // 160), 0.0, {})],
)
def test_missing_audio_zeros_is_recorded(mute: Path, tmp_path: Path, name: str, shape: tuple, value: float,
                                         also: dict[str, int]) -> None:
    out = _transform(name, missing_audio="zeros").run(mute)
    assert out.fallbacks == ("missing_audio_zeros",)
    assert out.array.shape == shape
    np.testing.assert_allclose(out.array, value, rtol=1e-6)
    sample = Sample("m", 0, {"audio": mute})
    spec = {"audio": TransformSpec(name, {"missing_audio": "zeros"})}
    cache = Cache(tmp_path)
    for _ in range(2):  # built, then read back from the cache: the fallback is reported both times
        assert prepare([sample], spec, cache).fallbacks == {"audio": {"missing_audio_zeros": 1, **also}}
    assert cache.hits == 1


def test_corrupt_and_empty_audio_name_the_file_and_cache_nothing(tmp_path: Path) -> None:
    good = tmp_path / "good.mp4"
    write_video(good, np.full((10, 32, 32, 3), 50, np.uint8), fps=10.0, audio=_tone(440, SR, 1.0), sample_rate=SR)
    truncated = tmp_path / "truncated.mp4"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 3])
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    silent = tmp_path / "nosamples.wav"
    sf.write(silent, np.zeros(0, np.float32), SR)
    blip = tmp_path / "blip.wav"
    write_wav(blip, _tone(440, SR, 0.01), SR)
    cache = Cache(tmp_path / "cache")
    for name in ("audio_fbank_audiomae", "audio_logmel_mpuc", "audio_mel_conclugen"):
        for path, pattern in ((truncated, "truncated.mp4: cannot decode"), (empty, "empty.wav: file is empty"),
                              (silent, "nosamples.wav: no audio samples"), (blip, r"blip.wav: audio is \d+ samples")):
            with pytest.raises(DataError, match=pattern):
                prepare([Sample("x", 0, {"audio": path})], {"audio": TransformSpec(name)}, cache)
    assert cache.info()["entries"] == 0
    assert not (tmp_path / "cache").exists() or not any(p.is_file() for p in (tmp_path / "cache").rglob("*"))
