"""Audio features: the waveform from a sound file or a video's audio track, then each paper's front end.

=========================  ========================================  ====================================
transform                  stored array                              rule taken from
=========================  ========================================  ====================================
``audio_logmel``           float32 ``[max_frames, num_mel_bins]``    Kaldi fbank, late-fusion baseline
``audio_fbank_audiomae``   float32 ``[target_length, 128]``          MMA-DFER ``_wav2fbank`` (AudioMAE)
``audio_logmel_mpuc``      float32 ``[T, 128]`` (cropped per item)   MPUC's mel pickles (librosa dB)
``audio_mel_conclugen``    float32 ``[128, T]``                      ConCluGen ``audio_util.py``
=========================  ========================================  ====================================

Waveforms are read with :func:`bench.data.media.read_audio` (float in [-1, 1], what
``torchaudio.load`` gives) and resampled with :func:`torchaudio.functional.resample` where a
transform fixes a rate. A container without an audio track is a DataError unless the
transform's ``missing_audio`` is ``"zeros"``: then the features of silence are used (shape
from the container's declared duration) and the clip is recorded with the fallback
``missing_audio_zeros``; under ``"zeros"`` a source file that does not exist (MMA-DFER's
missing MAFW wav, ``dataloader/video_dataloader.py:151-152``) is silence too, for the
transforms whose silence needs no duration.
"""

from __future__ import annotations

import abc
import dataclasses
import functools
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
import torchaudio.compliance.kaldi as kaldi
import torchaudio.functional as audio_f
import torchaudio.transforms as audio_t

from bench.data.media import Mix, NoAudioTrackError, media_duration_s, read_audio
from bench.data import vad
from bench.data.transforms import (Output, Transform, crop_fallbacks, draw_starts, file_source, positive,
                                   window_indices)
from bench.data.vad import CropPolicy
from bench.errors import DataError

MissingAudio = Literal["error", "zeros"]

AUDIOSET_MEAN = -4.2677393
AUDIOSET_STD = 4.5689974
"""AudioMAE's AudioSet fbank statistics (``main_pretrain.py`` L174), used by MMA-DFER as
``(fbank - mean) / (std * 2)`` (MMA-DFER ``video_dataloader.py`` ``_wav2fbank``, L89-135)."""


def load_waveform(path: Path, sample_rate: int | None, mix: Mix = "mean") -> tuple[torch.Tensor, int]:
    """Mono float32 samples of ``path`` at ``sample_rate`` (``None`` = the file's own) and that rate."""
    clip = read_audio(path, mix)
    wave = torch.from_numpy(np.ascontiguousarray(clip.samples, dtype=np.float32))
    if sample_rate is None or sample_rate == clip.sample_rate:
        return wave, clip.sample_rate
    return audio_f.resample(wave, clip.sample_rate, sample_rate), sample_rate


def _at_least(path: Path, wave: torch.Tensor, rate: int, samples: int, what: str) -> None:
    if wave.numel() < samples:
        raise DataError(
            f"{path}: audio is {wave.numel()} samples at {rate} Hz, shorter than {what} ({samples} samples)"
        )


def kaldi_fbank(wave: torch.Tensor, rate: int, num_mel_bins: int, frame_shift_ms: float = 10.0,
                frame_length_ms: float = 25.0) -> torch.Tensor:
    """:func:`torchaudio.compliance.kaldi.fbank` as the AST/AudioMAE front end calls it:
    Hanning window, no dither, ``htk_compat``, no energy. Returns ``[frames, num_mel_bins]``."""
    return kaldi.fbank(wave[None], sample_frequency=float(rate), num_mel_bins=num_mel_bins,
                       frame_shift=frame_shift_ms, frame_length=frame_length_ms, dither=0.0,
                       window_type="hanning", htk_compat=True, use_energy=False)


def fit_frames(features: np.ndarray, length: int) -> np.ndarray:
    """The first ``length`` rows of ``features``, zero-padded at the end when there are fewer."""
    out = np.zeros((length, *features.shape[1:]), dtype=np.float32)
    kept = min(length, len(features))
    out[:kept] = features[:kept]
    return out


class _AudioTransform(Transform):
    """An audio transform with the ``missing_audio`` policy: ``features`` or ``silence``."""

    @abc.abstractmethod
    def features(self, path: Path) -> np.ndarray:
        """The features of the audio of ``path``."""

    @abc.abstractmethod
    def silence(self, path: Path) -> np.ndarray:
        """The features of a silent clip as long as ``path`` declares itself."""

    def run(self, source: Path | str) -> Output:
        path = file_source(source, self.name)
        if self.params.missing_audio == "zeros" and not path.exists():
            return Output(self.silence(path), ("missing_audio_zeros",))
        try:
            return Output(self.features(path))
        except NoAudioTrackError:
            if self.params.missing_audio != "zeros":
                raise
        return Output(self.silence(path), ("missing_audio_zeros",))


class AudioLogMel(Transform):
    """Kaldi-compatible log-mel filterbank frames (the AST/AudioMAE front end of MMA-DFER's audio).

    Reads the audio (a sound file or a video's audio track, mixed to mono), resamples it to
    ``sample_rate`` when needed, and computes :func:`kaldi_fbank` on the waveform as read. The
    frames are cut to the first ``max_frames`` or zero-padded at the end. Output float32
    ``[max_frames, num_mel_bins]``. The input of the ``late_fusion`` baseline.
    """

    name = "audio_logmel"
    version = 1
    modality = "audio"

    @dataclasses.dataclass(frozen=True)
    class Params:
        sample_rate: int = 16000
        num_mel_bins: int = 64
        frame_shift_ms: float = 10.0
        frame_length_ms: float = 25.0
        max_frames: int = 100

        def __post_init__(self) -> None:
            positive("audio_logmel", sample_rate=self.sample_rate, num_mel_bins=self.num_mel_bins,
                     frame_shift_ms=self.frame_shift_ms, frame_length_ms=self.frame_length_ms,
                     max_frames=self.max_frames)

    def run(self, source: Path | str) -> Output:
        path, p = file_source(source, self.name), self.params
        wave, rate = load_waveform(path, p.sample_rate)
        _at_least(path, wave, rate, int(rate * p.frame_length_ms / 1000.0), f"one {p.frame_length_ms} ms frame")
        feats = kaldi_fbank(wave, rate, p.num_mel_bins, p.frame_shift_ms, p.frame_length_ms).numpy()
        return Output(fit_frames(feats, p.max_frames))


class AudioFbankAudioMAE(_AudioTransform):
    """AudioMAE's input as MMA-DFER builds it (MMA-DFER ``video_dataloader.py`` ``_wav2fbank``, L89-135).

    The waveform (channel 0, ``channel="first"``, as the code; or the channel mean) at its
    native rate (``sample_rate=None``, as the code, which never resamples; or e.g. 16000, the
    rate AudioMAE was pre-trained at) has its mean subtracted, then :func:`kaldi_fbank` with
    ``num_mel_bins`` (128) bins, 25 ms frames every 10 ms; the frames are cut to the first
    ``target_length`` (512; AudioMAE pre-training used 1024) or zero-padded at the end, and
    the whole is normalised ``(x + 4.2677393) / (4.5689974 * 2)`` (padding included, so padded
    frames read 0.467). Output float32 ``[target_length, num_mel_bins]`` (time, frequency;
    MMA-DFER adds a leading channel axis). Silence (``missing_audio="zeros"``) is the all-zero
    fbank, normalised — what MMA-DFER substitutes for a missing MAFW wav.
    """

    name = "audio_fbank_audiomae"
    version = 1
    modality = "audio"

    @dataclasses.dataclass(frozen=True)
    class Params:
        sample_rate: int | None = None
        channel: Mix = "first"
        num_mel_bins: int = 128
        target_length: int = 512
        missing_audio: MissingAudio = "error"

        def __post_init__(self) -> None:
            positive("audio_fbank_audiomae", sample_rate=self.sample_rate, num_mel_bins=self.num_mel_bins,
                     target_length=self.target_length)

    @staticmethod
    def normalise(fbank: np.ndarray) -> np.ndarray:
        """AudioMAE's AudioSet normalisation as MMA-DFER applies it."""
        return ((fbank - AUDIOSET_MEAN) / (AUDIOSET_STD * 2)).astype(np.float32)

    def features(self, path: Path) -> np.ndarray:
        p = self.params
        wave, rate = load_waveform(path, p.sample_rate, p.channel)
        _at_least(path, wave, rate, int(rate * 0.025), "one 25 ms frame")
        fbank = kaldi_fbank(wave - wave.mean(), rate, p.num_mel_bins).numpy()
        return self.normalise(fit_frames(fbank, p.target_length))

    def silence(self, path: Path) -> np.ndarray:
        return self.normalise(np.zeros((self.params.target_length, self.params.num_mel_bins), np.float32))


def power_to_db(power: torch.Tensor, top_db: float, amin: float = 1e-10) -> torch.Tensor:
    """``librosa.power_to_db(S, ref=np.max, amin=1e-10, top_db)``: dB relative to the maximum, floored
    ``top_db`` below it."""
    db = 10.0 * torch.log10(power.clamp(min=amin))
    db = db - 10.0 * torch.log10(power.max().clamp(min=amin))
    return db.clamp(min=float(db.max()) - top_db)


class AudioLogMelMPUC(_AudioTransform):
    """MPUC's acoustic input: a mel power spectrogram in dB relative to its maximum (ICPR'22).

    MPUC's code reads precomputed mel pickles, ``[T, 128]`` time-major, and applies
    ``librosa.power_to_db(S, ref=np.max)`` (top_db 80: values in [-80, 0]) per utterance
    (MPUC ``data/RAVDESS.py`` L103, ``data/CMU_MOSEI.py`` L112); how the pickles were made is not
    in the repository. The waveform (channel mean) is resampled to ``sample_rate``, then a
    ``n_fft``-point Hann STFT every ``hop_length`` samples (centred, reflect-padded), power 2,
    ``n_mels`` Slaney-scale, Slaney-normalised mel filters from 0 Hz to Nyquist (librosa's
    ``feature.melspectrogram`` defaults), in dB; then every ``decimate``-th frame is kept. The
    defaults (22050 Hz, hop 512, no decimation: 43.07 frames/s) are librosa's; the paper's
    reading ("80 filter banks", "one frame for every 16 frames", Sec. IV-A) is 48000 Hz, hop
    100, ``decimate`` 16 = 30 frames/s, the rate of the landmark frames the code cuts the mel with.

    Stored float32 ``[T, n_mels]`` (the whole clip); items are ``num_frames`` consecutive frames
    placed by the crop policy ``crop`` (:mod:`bench.data.vad`: ``start``, ``speech`` with the
    energy detector's ``vad_db``, ``mean`` over ``eval_windows`` windows, whose eval item is
    ``[eval_windows, crops * num_frames, n_mels]``); a clip shorter than the window wraps around,
    counted per clip as the fallback ``shorter_than_crop_wrapped``, as MPUC's temporal crop.
    ``crops`` > 1 puts that many such windows, each drawn in turn (training), one after the other.
    """

    name = "audio_logmel_mpuc"
    version = 1
    modality = "audio"
    variable_length = True
    sampling_params = ("num_frames", "crops", "crop", "vad_db", "eval_windows")

    @dataclasses.dataclass(frozen=True)
    class Params:
        sample_rate: int = 22050
        n_fft: int = 2048
        hop_length: int = 512
        n_mels: int = 128
        top_db: float = 80.0
        decimate: int = 1
        num_frames: int = 90
        crops: int = 1
        crop: CropPolicy = "start"
        vad_db: float = 30.0
        eval_windows: int = 5
        missing_audio: MissingAudio = "error"

        def __post_init__(self) -> None:
            positive("audio_logmel_mpuc", sample_rate=self.sample_rate, n_fft=self.n_fft,
                     hop_length=self.hop_length, n_mels=self.n_mels, top_db=self.top_db, decimate=self.decimate,
                     num_frames=self.num_frames, crops=self.crops, vad_db=self.vad_db,
                     eval_windows=self.eval_windows)

    @functools.cached_property
    def _mel(self) -> Any:
        p = self.params
        return audio_t.MelSpectrogram(sample_rate=p.sample_rate, n_fft=p.n_fft, hop_length=p.hop_length,
                                      n_mels=p.n_mels, power=2.0, center=True, pad_mode="reflect",
                                      norm="slaney", mel_scale="slaney")

    def features(self, path: Path) -> np.ndarray:
        p = self.params
        wave, rate = load_waveform(path, p.sample_rate)
        _at_least(path, wave, rate, p.n_fft // 2 + 1, f"half an {p.n_fft}-point FFT window")
        with torch.no_grad():
            db = power_to_db(self._mel(wave), p.top_db).T[:: p.decimate]
        return db.contiguous().numpy().astype(np.float32)

    def silence(self, path: Path) -> np.ndarray:
        # power_to_db of all-zero power is 0 dB everywhere (the floor equals the reference).
        p = self.params
        frames = 1 + int(round(media_duration_s(path) * p.sample_rate)) // p.hop_length
        return np.zeros((-(-frames // p.decimate), p.n_mels), dtype=np.float32)

    def sample(self, array: np.ndarray, train: bool, rng: np.random.Generator | None) -> np.ndarray:
        p, n = self.params, len(array)
        region = vad.speech_region(array, p.vad_db) if p.crop == "speech" else None
        if train:
            low, high = vad.start_range(n, p.num_frames, region)
            starts = draw_starts(low, high, rng, p.crops, "audio_logmel_mpuc")
        elif p.crop == "mean":
            spread = vad.spread_starts(n, p.num_frames, p.eval_windows)
            return np.stack([array[window_indices(n, p.num_frames, [int(s)] * p.crops)] for s in spread])
        else:
            starts = [vad.centred_start(n, p.num_frames, region) if region is not None else 0] * p.crops
        return np.asarray(array[window_indices(n, p.num_frames, starts)])

    def item_fallbacks(self, array: np.ndarray) -> tuple[str, ...]:
        return crop_fallbacks(len(array), self.params.num_frames)


class AudioMelConCluGen(_AudioTransform):
    """ConCluGen's spectrogram (ConCluGen ``src/utils/audio_util.py`` L33, ``video_datamodule.py`` L858).

    ffmpeg's ``-ar 16000 -ac 1`` (here: channel mean, resampled to 16 kHz), then
    ``torchaudio.transforms.MelSpectrogram(n_fft=2048, hop_length=160, n_mels=128, power=2)``
    at 16 kHz (the code's ``sample_rate=22050`` argument is overwritten by the file's rate),
    no log, min-max normalised per file to [0, 1] (a constant spectrogram becomes 0).
    Output float32 ``[128, T]`` (mel, time), as the code saves it; the whole clip is one item,
    so a batch of clips of different lengths needs ``batch_size`` 1 (ConCluGen feeds each
    clip to its frozen audio backbone on its own).
    """

    name = "audio_mel_conclugen"
    version = 1
    modality = "audio"
    variable_length = True

    @dataclasses.dataclass(frozen=True)
    class Params:
        missing_audio: MissingAudio = "error"

    SAMPLE_RATE = 16000
    HOP = 160
    N_FFT = 2048
    N_MELS = 128

    @functools.cached_property
    def _mel(self) -> Any:
        return audio_t.MelSpectrogram(sample_rate=self.SAMPLE_RATE, n_fft=self.N_FFT, hop_length=self.HOP,
                                      n_mels=self.N_MELS, power=2.0)

    def features(self, path: Path) -> np.ndarray:
        wave, rate = load_waveform(path, self.SAMPLE_RATE)
        _at_least(path, wave, rate, self.N_FFT // 2 + 1, f"half an {self.N_FFT}-point FFT window")
        with torch.no_grad():
            mel = self._mel(wave)
        low, span = mel.min(), mel.max() - mel.min()
        out = (mel - low) / span if span > 0 else torch.zeros_like(mel)
        return out.numpy().astype(np.float32)

    def silence(self, path: Path) -> np.ndarray:
        frames = 1 + int(round(media_duration_s(path) * self.SAMPLE_RATE)) // self.HOP
        return np.zeros((self.N_MELS, frames), dtype=np.float32)
