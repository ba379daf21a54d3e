"""MPUC's acoustic pipeline settings: frame rate, decimation, mel bins, crop policies (VAD), presets."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from bench import registry
from bench.api import TaskSpec, TransformSpec
from bench.data import vad
from bench.data.catalog import get_transform
from bench.data.media import read_audio, write_wav
from bench.data.transforms import Transform, window_indices

pytestmark = pytest.mark.usefixtures("one_thread")

SR = 16000
SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "ravdess"
REAL = SHARED / "audio_speech_16k_opus" / "Actor_01" / "03-01-05-02-01-01-01.opus"
needs_shared = pytest.mark.skipif(not REAL.is_file(), reason="../shared/data/ravdess is absent")


def _mpuc(**params: object) -> Transform:
    return get_transform(TransformSpec("audio_logmel_mpuc", params))


def _tone(seconds: float, amplitude: float = 0.3, freq: float = 440.0) -> np.ndarray:
    t = np.arange(int(SR * seconds)) / SR
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)


@pytest.fixture(scope="module")
def tone2s(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("tone") / "tone.wav"
    write_wav(path, _tone(2.0), SR)
    return path


def test_paper_reading_is_thirty_frames_a_second_of_80_bins(tone2s: Path) -> None:
    # 2 s resampled to 48 kHz = 96,000 samples; centred STFT every 100: 1 + 960 = 961 frames at 480/s;
    # one in 16 kept: ceil(961 / 16) = 61 frames = 30 a second.
    out = _mpuc(sample_rate=48000, hop_length=100, decimate=16, n_mels=80).apply(tone2s)
    assert out.shape == (61, 80)
    every = _mpuc(sample_rate=48000, hop_length=100, n_mels=80).apply(tone2s)
    assert every.shape == (961, 80)
    np.testing.assert_array_equal(out, every[::16])


def test_code_reading_is_thirty_frames_a_second_of_128_bins(tone2s: Path) -> None:
    # 2 s at 22050 Hz = 44,100 samples, hop 735 (22050 / 30): 1 + 60 = 61 frames.
    assert _mpuc(sample_rate=22050, hop_length=735).apply(tone2s).shape == (61, 128)


def test_start_range_and_centring_by_hand() -> None:
    # speech shorter than the window: every training window holds all of frames 30..80
    assert vad.start_range(150, 90, (30, 80)) == (0, 30)
    # speech longer than the window: every training window lies inside frames 10..139
    assert vad.start_range(150, 90, (10, 139)) == (10, 50)
    assert vad.start_range(150, 90, None) == (0, 60)
    assert vad.start_range(60, 90, (5, 40)) == (0, 0)  # shorter clip: wraps from 0
    assert vad.centred_start(150, 90, (30, 80)) == 10  # centre 55.5 - 45 = 10.5, rounded down
    assert vad.centred_start(150, 90, (100, 149)) == 60  # kept inside the clip
    np.testing.assert_array_equal(vad.spread_starts(100, 90, 5), [0, 2, 5, 8, 10])  # 0, 2.5, 5, 7.5, 10
    np.testing.assert_array_equal(window_indices(4, 6, [0]), [0, 1, 2, 3, 0, 1])


def test_speech_region_of_a_tone_between_silences(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    wave = np.concatenate([np.zeros(SR), _tone(1.0), np.zeros(SR)]) + 1e-4 * rng.standard_normal(3 * SR)
    path = tmp_path / "burst.wav"
    write_wav(path, wave.astype(np.float32), SR)
    mel = _mpuc(sample_rate=22050, hop_length=735).apply(path)  # 30 frames a second, 91 frames
    first, last = vad.speech_region(mel, 30.0)
    assert abs(first - 30) <= 2 and abs(last - 60) <= 2  # the tone is 1.0 .. 2.0 s


def test_crop_policies_place_the_windows() -> None:
    # 151 frames of 8 bins: speech (0 dB) on frames 60..90, silence (-70 dB) elsewhere; every
    # row carries its index in the last bin so a crop's start can be read off its first row.
    stored = np.full((151, 8), -70.0, dtype=np.float32)
    stored[60:91] = 0.0
    stored[:, -1] = -np.arange(151) / 1000.0 - 75.0
    region = vad.speech_region(stored, 30.0)
    assert region == (60, 90)

    def start_of(crop: np.ndarray) -> int:
        return int(round((-75.0 - crop[0, -1]) * 1000))

    speech = _mpuc(num_frames=40, crop="speech")
    assert start_of(speech.sample(stored, False, None)) == 55  # (60 + 91 - 40) // 2
    draws = {start_of(speech.sample(stored, True, np.random.default_rng(i))) for i in range(80)}
    assert draws == set(range(51, 61))  # every 40-frame window that holds frames 60..90
    start = _mpuc(num_frames=40)
    np.testing.assert_array_equal(start.sample(stored, False, None), stored[:40])
    mean = _mpuc(num_frames=40, crop="mean", eval_windows=4)
    windows = mean.sample(stored, False, None)
    assert windows.shape == (4, 40, 8)
    assert [start_of(w) for w in windows] == [0, 37, 74, 111]  # rint(linspace(0, 111, 4))


@needs_shared
def test_vad_on_a_real_recording_agrees_with_the_waveform_energy() -> None:
    mel = _mpuc(sample_rate=22050, hop_length=735, crop="speech").apply(REAL)
    first, last = vad.speech_region(mel, 30.0)
    # independent: the RMS of the 16 kHz samples in 1/30 s frames, within 30 dB of the loudest frame
    clip = read_audio(REAL, "mean")
    assert clip.sample_rate == SR
    hop = SR / 30
    frames = np.array([clip.samples[int(i * hop):int((i + 1) * hop)] for i in range(int(len(clip.samples) // hop))],
                      dtype=object)
    rms_db = np.array([10 * np.log10(np.mean(np.square(f, dtype=np.float64)) + 1e-20) for f in frames])
    loud = np.flatnonzero(rms_db >= rms_db.max() - 30.0)
    assert abs(first - loud[0]) <= 3 and abs(last - loud[-1]) <= 3
    assert 15 <= first <= 45 and last - first >= 30  # speech starts after 0.5-1.5 s and lasts over 1 s


def test_mean_policy_averages_class_probabilities() -> None:
    from bench_methods.mpuc.config import UnimodalConfig
    from bench_methods.mpuc.module import MPUCModule

    cfg = UnimodalConfig(crop_frames=12, feature_dim=16, tcn_blocks=1, tcn_repeats=1, tcn_bottleneck=8,
                         tcn_hidden=8, mel_bins=10, dropout=0.0)
    module = MPUCModule(TaskSpec("classification", ("a", "b", "c")), cfg, {"audio": (12, 10)}).eval()
    x = torch.randn(3, 2, 12, 10)
    with torch.no_grad():
        out = module({"audio": x})
        one, two = module({"audio": x[:, 0]}), module({"audio": x[:, 1]})
    expected = ((one.softmax(-1) + two.softmax(-1)) / 2).log()
    torch.testing.assert_close(out, expected)


def test_presets_name_the_paper_and_the_code_pipelines() -> None:
    method = registry.methods.get("mpuc_unimodal")()
    paper = method.Config(**method.presets["paper"])
    spec = method.inputs(paper, ["audio"])["audio"]
    wanted = {"n_mels": 80, "sample_rate": 48000, "hop_length": 100, "decimate": 16, "crop": "start"}
    assert {k: spec.params[k] for k in wanted} == wanted
    code = method.Config(**method.presets["code"])
    spec = method.inputs(code, ["audio"])["audio"]
    assert (spec.params["n_mels"], spec.params["sample_rate"], spec.params["hop_length"], spec.params["decimate"]) == (
        128, 22050, 735, 1)
    assert method.stages(code, "supervised", False)[0].sampler == "class_balanced"
    assert method.stages(paper, "supervised", False)[0].sampler == "shuffle"
    both = method.Config(**method.presets["acoustics_code"])
    assert (both.epochs, both.lr_step_epochs, both.mel_bins, both.sampler) == (100, 10, 128, "class_balanced")
