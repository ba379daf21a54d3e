"""MPUC (Franceschini et al., ICPR 2022): modality-pairwise unsupervised contrastive learning.

One backbone per modality (acoustic TCN on 128-bin log-mel, ST-GCN on 51 facial landmarks,
R(2+1)D-18 on face crops, a transformer over word vectors), each with a projection head
``fc + ReLU + fc``; pretraining with the contrastive loss of every ordered pair of modalities
(eqs. 1-2, tau 0.07) on temporal crops, without labels; then the projection heads are dropped
and the concatenated 512-d features feed a prediction layer (fusion only at inference).
Paper-vs-code switches are fields of :class:`~bench_methods.mpuc.config.MPUCConfig`.

Two methods share this package:

* ``mpuc`` (:class:`MPUC`): the proposed method, regime ``linear_eval`` with ``pretrain: true``
  (``probe=online`` trains the classifier alongside the encoder, the code's way); at least
  two modalities.
* the supervised baselines of Tables I-II with the same backbones, regime ``supervised``, each
  runnable by name: ``mpuc_unimodal`` (:class:`MPUCUnimodal`, exactly one modality; presets
  ``acoustics``, ``faces``, ``landmarks`` hold each Table I row's schedule; ``code`` and
  ``acoustics_code`` the official code's acoustic pipeline and sampler), ``mpuc_late_fusion``
  (:class:`MPUCLateFusion`) and ``mpuc_attention`` (:class:`MPUCAttention`), the last two on
  any non-empty subset of modalities. ``mpuc_supervised`` (:class:`MPUCSupervised`) is the
  same family under one name, the row chosen by preset (``unimodal_acoustics``,
  ``unimodal_faces``, ``unimodal_landmarks``, ``paper`` = Late Fusion, ``attention``).
* Table II's ``Ours wout/ text`` row is ``mpuc`` with ``--modalities audio landmarks video`` on
  CMU-MOSEI (all modalities but text).

Inputs (bench transforms; the data layer delivers windows of ``window_frames`` steps):
``audio_logmel_mpuc`` (log-mel ``[T, 128]``), ``landmarks_openface_mpuc`` (``[T, 51, 2]`` from
an OpenFace CSV's ``x_0..x_67, y_0..y_67``; a CSV without them is a DataError naming the file
and that header), ``face_frames`` (R(2+1)D input: MTCNN face crops, the paper's detector [61];
its crop rule is unstated, bench takes the square union box, policy ``mma_dfer_square``,
resized to 112 x 112 as the code's evaluation resize; ``window_frames`` TSN-sampled frames per
item, then ``video_clip_frames`` evenly spread over the crop), ``text_glove`` (one 300-d GloVe
vector per word from the local file ``glove_path``; the code's MOSEI pickles put words on the
other modalities' step axis, bench crops the word sequence on its own axis, see
:class:`bench.data.text.TextGloVe`); without ``glove_path`` asking for text is a ConfigError.

Reproducing Table I (RAVDESS)
=============================
The official RAVDESS pipeline reads audio and facial landmarks (it has no face-image branch,
so the "Facial Images" rows are not reproducible from the code). Real inputs needed under one
data root (the ravdess adapter finds ``Actor_NN`` folders at any depth):

* ``Audio_Speech_Actors_01-24/Actor_NN/03-01-EE-II-SS-RR-NN.wav`` (or the 16 kHz ``.opus``
  transcode in ``../shared/data/ravdess/audio_speech_16k_opus``): the audio-only speech files;
* the RAVDESS Facial Landmark Tracking release (Zenodo record 3255102,
  ``FacialTracking_Actors_01-24.zip``): one OpenFace 2 CSV per audio-visual speech file, named
  like it, ``Actor_NN/01-01-EE-II-SS-RR-NN.csv`` (60 per actor, 1,440 in all), whose header
  names ``x_0..x_67, y_0..y_67`` among the OpenFace columns (read by name; the code slices
  the columns 297:365 and 365:433);
* for face images, the ``Video_Speech_Actor_NN/Actor_NN/01-01-…mp4`` files (bench's own
  addition; R(2+1)D's Kinetics-400 weights from a local file via ``--set video_weights=PATH``).

The ravdess protocols (``ravdess_actor10``, ``ravdess_kfold10``, ``ravdess_actor_holdout``) are
``supervised``: they run the baselines. MPUC's own rows run under ``ravdess_actor10_linear``,
``ravdess_kfold10_linear`` and ``ravdess_actor_holdout_linear``: the same folds (committed as
split files in ``methods/mpuc/splits/``, written and verified by ``bench splits``) with
``regime: {kind: linear_eval, pretrain: true}``. Commands (``--preset code_ravdess`` is the
shipped RAVDESS config: supervised-contrastive positives, the code's loss, online probe)::

    bench run --method mpuc --protocol ravdess_actor10_linear --data-root DIR --modalities audio landmarks
    bench run --method mpuc_unimodal --protocol ravdess_actor10 --data-root DIR --modalities audio --preset acoustics

Without landmark CSVs under ``DIR`` the first is one DataError naming the missing modality, the
protocols that fit and the layout. On the embedded synthetic benchmark (no data needed)::

    bench run --method mpuc --protocol methods/mpuc/synthetic_mpuc.yaml --preset tiny
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from bench.api import Method, ResourceHints, Stage, TaskSpec, TransformSpec
from bench.errors import ConfigError
from bench_methods.mpuc.config import AttentionConfig, EncoderConfig, MPUCConfig, SupervisedConfig, UnimodalConfig

SPLITS_DIR = Path(__file__).resolve().parent / "splits"
"""The committed split files of the RAVDESS protocols (``<protocol>.json``; ``bench splits``)."""

_TINY_MODEL: dict[str, Any] = {
    "crop_frames": 12, "feature_dim": 32, "projection_hidden": 64, "tcn_blocks": 2, "tcn_repeats": 1,
    "tcn_bottleneck": 16, "tcn_hidden": 32, "stgcn_channels": 16, "stgcn_spatial": 8, "video_size": 32,
    "text_layers": 1, "text_ff": 64, "mel_bins": 128, "mel_sample_rate": 22050, "mel_hop_length": 512,
    "mel_decimate": 1,
}
"""The ``tiny`` presets: a CPU-sized model whose 12-step crop fits the synthetic benchmark's
16-frame landmark tracks and 1 s of audio (44 log-mel frames). MPUC's ``tiny`` pretrains at
``pretrain_lr`` 5e-5 without dropout: on that benchmark, SGD at the paper's 1e-3 on the summed
eq. 1 (or with dropout 0.1) stays on the uniform-similarity plateau (``2B log(B - 1)`` with two
crops) for hundreds of epochs. With two crops and 5e-5 it leaves the plateau after about 40-60
epochs when there are 96-144 training clips (measured UAR of the frozen features 0.94; random-init
ones about 0.65); with 48 clips (3 steps an epoch) it can stay there for all 200 epochs, at 1e-4
or 5e-5 alike. Its mel is librosa's default (128 bins, 22050 Hz, hop 512: 44 frames a second)."""

_CODE_AUDIO: dict[str, Any] = {
    "mel_bins": 128, "mel_sample_rate": 22050, "mel_hop_length": 735, "mel_decimate": 1, "sampler": "class_balanced",
}
"""The official code's acoustic pipeline and sampler (presets ``code``): 128 mel channels on the
landmarks' 30 fps axis (22050 / 735), class-balanced sampling (``main.py`` L55-56)."""

_ACOUSTICS_ROW: dict[str, Any] = {"row_modality": "audio", "lr_step_epochs": 10, "epochs": 100, "batch_size": 32}
"""Table I's "Unimodal (Acoustics)" schedule (Sec. IV-B): lr 1e-3, x0.9 every 10 epochs, batch 32, 100 epochs."""


def _inputs(cfg: EncoderConfig, modalities: Sequence[str]) -> dict[str, TransformSpec]:
    if "text" in modalities and not cfg.glove_path:
        raise ConfigError(
            "mpuc: the text backbone reads GloVe word vectors: give a local vectors file with "
            "--set glove_path=/path/glove.840B.300d.txt (nothing is downloaded), or run without text "
            "(--modalities audio landmarks video: Table II's 'wout/ text' row)")
    window = cfg.window_frames
    specs = {
        "audio": TransformSpec("audio_logmel_mpuc", {
            "num_frames": window, "n_mels": cfg.mel_bins, "sample_rate": cfg.mel_sample_rate,
            "hop_length": cfg.mel_hop_length, "decimate": cfg.mel_decimate, "crop": cfg.audio_crop,
            "vad_db": cfg.vad_db, "eval_windows": cfg.eval_windows}),
        "landmarks": TransformSpec("landmarks_openface_mpuc", {"num_frames": window}),
        "video": TransformSpec("face_frames", {"policy": "mma_dfer_square", "num_frames": window,
                                               "size": cfg.video_size}),
        "text": TransformSpec("text_glove", {"vectors_path": cfg.glove_path, "dim": cfg.text_dim,
                                             "num_frames": window}),
    }
    return {m: specs[m] for m in modalities}


def _build(task: TaskSpec, cfg: EncoderConfig, shapes: Mapping[str, tuple[int, ...]]) -> Any:
    from bench_methods.mpuc.module import MPUCModule

    return MPUCModule(task, cfg, shapes)


class MPUC(Method):
    """The proposed method: pairwise contrastive pretraining, then a classifier on frozen features."""

    name = "mpuc"
    paper = ("Franceschini et al., Multimodal Emotion Recognition with Modality-Pairwise Unsupervised "
             "Contrastive Loss, ICPR 2022")
    modalities = ("audio", "landmarks", "video", "text")
    min_modalities = 2
    tasks = ("classification", "multilabel")
    regimes = ("pretrain", "linear_eval")
    Config = MPUCConfig
    presets: Mapping[str, Mapping[str, Any]] = {
        "paper": {},
        "paper_mosei": {"crop_frames": 30, "lr_step_epochs": 5},
        "code_ravdess": {"positives": "supervised", "loss_reduction": "mean_half", "probe": "online"},
        "tiny": {**_TINY_MODEL, "dropout": 0.0, "view_shift": 2, "pretrain_lr": 5e-5, "pretrain_epochs": 200,
                 "lr": 0.01, "epochs": 40, "pretrain_batch_size": 16, "batch_size": 16},
    }
    resources = ResourceHints(gpus=1, cpus=8, mem_gb=32, time_min=720)

    def inputs(self, cfg: MPUCConfig, modalities: Sequence[str]) -> dict[str, TransformSpec]:
        return _inputs(cfg, modalities)

    def stages(self, cfg: MPUCConfig, regime: str, pretrain: bool) -> list[Stage]:
        """``pretrain`` (labels only with supervised positives) then ``linear_eval``; or one online stage."""
        if regime != "linear_eval":
            raise ConfigError(f"mpuc trains by linear evaluation after pretraining, not regime {regime!r}; "
                              "the supervised baselines are method mpuc_supervised")
        probe = Stage("linear_eval", cfg.epochs, cfg.batch_size, labels=True, sampler=cfg.sampler)
        if not pretrain:
            if cfg.probe == "online":
                raise ConfigError("mpuc: probe=online trains the encoder, so it needs a protocol with pretrain: true")
            return [probe]
        if cfg.probe == "online":
            return [Stage("pretrain_online_probe", cfg.epochs, cfg.pretrain_batch_size, labels=True,
                          sampler=cfg.sampler)]
        pre = Stage("pretrain", cfg.pretrain_epochs, cfg.pretrain_batch_size, labels=cfg.positives == "supervised")
        return [pre, probe]

    def build(self, task: TaskSpec, cfg: MPUCConfig, shapes: Mapping[str, tuple[int, ...]]) -> Any:
        return _build(task, cfg, shapes)


class MPUCSupervised(Method):
    """The supervised baselines of MPUC's Tables I-II (Unimodal, Late Fusion, Attention Mec.)."""

    name = "mpuc_supervised"
    paper = MPUC.paper + " (supervised baselines, Sec. IV-B)"
    modalities = MPUC.modalities
    tasks = MPUC.tasks
    regimes = ("supervised",)
    Config = SupervisedConfig
    presets: Mapping[str, Mapping[str, Any]] = {
        "paper": {},
        "code": _CODE_AUDIO,
        "unimodal_acoustics": {"lr_step_epochs": 10, "epochs": 100},
        "unimodal_faces": {"lr": 0.01, "epochs": 150},
        "unimodal_landmarks": {},
        "attention": {"head": "attention", "batch_size": 64},
        "tiny": {**_TINY_MODEL, "lr": 0.05, "epochs": 30, "batch_size": 16},
    }
    resources = MPUC.resources

    def inputs(self, cfg: SupervisedConfig, modalities: Sequence[str]) -> dict[str, TransformSpec]:
        return _inputs(cfg, modalities)

    def stages(self, cfg: SupervisedConfig, regime: str, pretrain: bool) -> list[Stage]:
        """One labelled fit, drawing its batches with ``cfg.sampler``."""
        return [Stage(regime, cfg.epochs, cfg.batch_size, labels=True, sampler=cfg.sampler)]

    def build(self, task: TaskSpec, cfg: SupervisedConfig, shapes: Mapping[str, tuple[int, ...]]) -> Any:
        return _build(task, cfg, shapes)


class MPUCUnimodal(MPUCSupervised):
    """Table I's "Unimodal" rows: one modality's backbone + fc + ReLU + fc, trained with labels."""

    name = "mpuc_unimodal"
    paper = MPUC.paper + " (Unimodal baselines, Sec. IV-B)"
    Config = UnimodalConfig
    presets: Mapping[str, Mapping[str, Any]] = {
        "paper": {},
        "code": _CODE_AUDIO,
        "acoustics": _ACOUSTICS_ROW,
        "acoustics_code": {**_ACOUSTICS_ROW, **_CODE_AUDIO},
        "faces": {"row_modality": "video", "lr": 0.01, "momentum": 0.9, "epochs": 150},
        "landmarks": {"row_modality": "landmarks", "lr": 1e-3, "momentum": 0.9},
        "tiny": {**_TINY_MODEL, "lr": 0.05, "epochs": 30, "batch_size": 16},
    }

    def inputs(self, cfg: UnimodalConfig, modalities: Sequence[str]) -> dict[str, TransformSpec]:
        if len(modalities) != 1:
            raise ConfigError(f"mpuc_unimodal trains one modality, got {', '.join(modalities)}; pick one with "
                              "--modalities (mpuc_late_fusion and mpuc_attention fuse several)")
        if cfg.row_modality and cfg.row_modality != modalities[0]:
            raise ConfigError(f"mpuc_unimodal: this configuration is the schedule of the {cfg.row_modality} row "
                              f"(row_modality={cfg.row_modality}), not of {modalities[0]}; use the preset of that "
                              "modality (acoustics = audio, faces = video, landmarks = landmarks)")
        return _inputs(cfg, modalities)


class MPUCLateFusion(MPUCSupervised):
    """Tables I-II's "Late Fusion": the backbones' concatenated features -> fc + ReLU + fc, end to end."""

    name = "mpuc_late_fusion"
    paper = MPUC.paper + " (Late Fusion baseline, Sec. IV-B)"
    Config = SupervisedConfig
    presets: Mapping[str, Mapping[str, Any]] = {
        "paper": {},
        "code": _CODE_AUDIO,
        "tiny": {**_TINY_MODEL, "lr": 0.05, "epochs": 30, "batch_size": 16},
    }


class MPUCAttention(MPUCSupervised):
    """Tables I-II's "Attention Mec.": multi-head attention over the concatenated features, then the head."""

    name = "mpuc_attention"
    paper = MPUC.paper + " (Attention Mec. baseline, Sec. IV-B)"
    Config = AttentionConfig
    presets: Mapping[str, Mapping[str, Any]] = {
        "paper": {},
        "code": _CODE_AUDIO,
        "tiny": {**_TINY_MODEL, "lr": 0.05, "epochs": 30, "batch_size": 16},
    }
