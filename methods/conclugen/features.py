"""ConCluGen's feature-extraction stage as registered transforms: frozen backbone → cached feature.

Each transform turns one clip (or utterance) into its fixed backbone feature, so the bench
cache (:mod:`bench.data.cache`, keyed by the source's identity + the transform's name,
version, parameters and the sha256 of its weights) holds each feature once, and every
variant and every downstream run of the 10 × 3 grid reads it back (the code precomputes
features once per sample too, ``video_datamodule.py`` ``_precompute_features``, L869-1140).

==============================  ===================================================  ==============
transform                       stored array                                         backbone
==============================  ===================================================  ==============
``conclugen_video_features``    float32 ``[1 + views + copies, D2 + D3]``: row 0     2D + 3D ResNet
                                the clip, then Instance-Cont views, then training
                                copies (``D3`` only with ``parts='3d'``)
``conclugen_audio_features``    float32 ``[8 w]``, or ``[1 + copies, 8 w]``           DAVEnet on mel
``conclugen_text_features``     float32 ``[H]``, or ``[1 + copies, H]``               text encoder
==============================  ===================================================  ==============
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import re
import zlib
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F

from bench.api import TransformSpec
from bench.data.audio import MissingAudio
from bench.data.frames import read_clip
from bench.data.media import read_video
from bench.data.text import TOKENIZER_FILES, read_text
from bench.data.transforms import Output, Transform, file_source, get_transform, positive, register
from bench.errors import ConfigError, DataError
from bench_methods.conclugen import backbones

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
KINETICS_MEAN = (0.43216, 0.394666, 0.37645)
KINETICS_STD = (0.22803, 0.22145, 0.216989)
WINDOW = 16


def subsample_indices(num_frames: int, fps: float, target_fps: float) -> np.ndarray:
    """The code's ``subsample_frames``: ``max(int(N · min(fps, target)/fps), 1)`` indices by ``linspace(0, N-1)``.

    2D frames at ``target_fps = 1``, 3D frames at 16 (code ``src/utils/video_util.py`` L10,
    called from ``video_dataset.py`` L70-117).
    """
    count = max(int(num_frames * min(fps, target_fps) / fps), 1)
    return np.linspace(0, num_frames - 1, count).round().astype(np.int64)


def _normalise(frames: torch.Tensor, mean: tuple[float, ...], std: tuple[float, ...]) -> torch.Tensor:
    """``[T, 3, H, W]`` in [0, 1] → channel-normalised."""
    return (frames - torch.tensor(mean)[:, None, None]) / torch.tensor(std)[:, None, None]


def simclr_view(frames: torch.Tensor, size: int, seed: int) -> torch.Tensor:
    """One temporally consistent augmented view of ``[T, 3, H, W]`` frames (paper Sec. 3.2, Qian et al.).

    The same random resized crop (scale [0.3, 1], ratio [0.5, 2]), horizontal flip, colour jitter
    (p 0.8; 0.8, 0.8, 0.8, 0.2), grayscale (p 0.2) and Gaussian blur (p 0.5, kernel
    ``int(0.1·size)`` made odd) for every frame of the clip — the code's SimCLR views
    (``configs/data/voxceleb2/voxceleb2_precomp_simclr_frames3d.yaml`` L17-39).
    torchvision's v2 transforms draw their parameters once per call, so all frames share them.
    """
    from torchvision.transforms import v2

    kernel = max(int(0.1 * size) // 2 * 2 + 1, 3)
    pipeline = v2.Compose([
        v2.RandomResizedCrop(size, scale=(0.3, 1.0), ratio=(0.5, 2.0), antialias=True),
        v2.RandomHorizontalFlip(),
        v2.RandomApply([v2.ColorJitter(0.8, 0.8, 0.8, 0.2)], p=0.8),
        v2.RandomGrayscale(p=0.2),
        v2.RandomApply([v2.GaussianBlur(kernel)], p=0.5),
    ])
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return pipeline(frames)


def _content_seed(data: bytes) -> int:
    return int(hashlib.sha256(data).hexdigest()[:8], 16)


def training_copy(frames: torch.Tensor, size: int, seed: int) -> torch.Tensor:
    """One precomputed training copy of ``[T, 3, H, W]`` frames as the code's downstream configs
    make them (``configs/data/<ds>/<ds>_cropped_precomp_augmented.yaml``, ``aug1``..``aug10``): one
    random resized crop (scale [0.8, 1], ratio [0.8, 1.2]) and one horizontal flip (p 0.5) for the
    whole clip. The same distributions as pytorchvideo's ``RandomResizedCrop`` and torchvision's
    flip, drawn from ``seed``, not their random streams."""
    from torchvision.transforms import v2

    pipeline = v2.Compose([v2.RandomResizedCrop(size, scale=(0.8, 1.0), ratio=(0.8, 1.2), antialias=True),
                           v2.RandomHorizontalFlip()])
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return pipeline(frames)


def mask_spectrogram(mel: np.ndarray, seed: int) -> np.ndarray:
    """The code's ``AdaptiveFrequencyMasking([0.15, 0.35])`` then ``AdaptiveTimeMasking([0.15,
    0.35])`` on a ``[F, T]`` spectrogram (``src/data/transforms/adaptive_freq_masking.py``,
    ``adaptive_time_masking.py``): per axis a mask parameter ``p`` uniform in ``[⌊0.15 n⌋,
    ⌊0.35 n⌋)``, then torchaudio's ``mask_along_axis``: width ``u·p``, start ``u'·(n - width)``,
    rows/columns ``[⌊start⌋, ⌊start + width⌋)`` set to 0."""
    out = mel.copy()
    rng = np.random.default_rng(seed)
    for axis in (0, 1):
        n = out.shape[axis]
        low, high = int(0.15 * n), int(0.35 * n)
        param = int(rng.integers(low, high)) if high > low else low
        width = rng.random() * param
        start = rng.random() * (n - width)
        index = [slice(None), slice(None)]
        index[axis] = slice(int(start), int(start + width))
        out[tuple(index)] = 0.0
    return out


def swap_word(text: str, seed: int) -> str:
    """The code's ``RandomSwapWord`` (``src/data/transforms/random_swap_word.py``): with
    probability 0.5, and only for a text with a space, nlpaug's ``RandomWordAug(action='swap',
    aug_max=1)`` — one word swapped with a neighbour — on the space-split words."""
    words = text.split(" ")
    rng = np.random.default_rng(seed)
    if " " not in text or rng.random() >= 0.5:
        return text
    i = int(rng.integers(len(words)))
    j = i - 1 if i == len(words) - 1 or (i > 0 and rng.random() < 0.5) else i + 1
    words[i], words[j] = words[j], words[i]
    return " ".join(words)


def _copies(value: int, transform: str) -> None:
    if value < 0:
        raise ConfigError(f"transform {transform!r} parameter 'copies' must be >= 0, got {value}")


@register
class ConCluGenVideoFeatures(Transform):
    """2D ResNet features of frames at 1 fps (mean over frames) ‖ 3D ResNet features of 16-frame
    windows at up to 16 fps (stride 16, the last partial window kept, mean over windows).

    Frames are resized to ``size`` × ``size``; the 2D input is ImageNet-normalised (or with the
    code's swapped mean/std, ``swap_2d_normalisation``), the 3D input Kinetics-normalised.
    ``views > 0`` adds that many temporally consistent augmented views (:func:`simclr_view`,
    seeded by the view number and the clip's pixels) for Instance-Cont. ``describe()`` carries
    the sha256 of both weights files (``random-init`` without one).

    The source is a video file (what the code reads, with moviepy, at the file's own rate) or a
    folder of frame images in index order (DFEW's ``Clip/clip_224x224/<id>/``), which carries no
    rate: ``folder_fps`` stands for it in the 1 fps and 16 fps subsampling.
    """

    name = "conclugen_video_features"
    version = 4  # 4: frame folders read (folder_fps), tiny backbones seeded whole; 3: the 3D stem is a parameter
    modality = "video"

    @dataclasses.dataclass(frozen=True)
    class Params:
        backbone_2d: Literal["resnet152", "resnet18", "tiny"] = "resnet152"
        backbone_3d: Literal["r3d_18", "r3d_34", "r3d_50", "r3d_101", "r3d_152", "tiny"] = "r3d_101"
        stem_3d: Literal["pretorched", "torchvision"] = "pretorched"
        weights_2d: str | None = None
        weights_3d: str | None = None
        size: int = 180
        swap_2d_normalisation: bool = False
        views: int = 0
        tiny_dim: int = 32
        parts: Literal["2d_3d", "3d"] = "2d_3d"
        copies: int = 0
        folder_fps: float = 25.0

        def __post_init__(self) -> None:
            positive("conclugen_video_features", size=self.size, tiny_dim=self.tiny_dim, folder_fps=self.folder_fps)
            _copies(self.copies, "conclugen_video_features")
            if self.views < 0:
                raise ConfigError(f"transform 'conclugen_video_features' parameter 'views' must be >= 0, got {self.views}")

    def __init__(self, params: Any) -> None:
        super().__init__(params)
        self.sha_2d = backbones.weights_sha256(params.weights_2d, "2D video backbone")
        self.sha_3d = backbones.weights_sha256(params.weights_3d, "3D video backbone")

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "weights_sha256": {"video_2d": self.sha_2d, "video_3d": self.sha_3d}}

    @functools.cached_property
    def _nets(self) -> tuple[torch.nn.Module, torch.nn.Module]:
        p = self.params
        return (backbones.build_video_2d(p.backbone_2d, p.weights_2d, p.tiny_dim)[0],
                backbones.build_video_3d(p.backbone_3d, p.weights_3d, p.tiny_dim, p.stem_3d)[0])

    def _features(self, frames: torch.Tensor, fps: float) -> np.ndarray:
        net_2d, net_3d = self._nets
        n = frames.shape[0]
        three = _normalise(frames[torch.from_numpy(subsample_indices(n, fps, float(WINDOW)))], KINETICS_MEAN, KINETICS_STD)
        with torch.no_grad():
            windows = [three[i:i + WINDOW].transpose(0, 1)[None] for i in range(0, len(three), WINDOW)]
            f3 = torch.cat([net_3d(w) for w in windows]).mean(dim=0)
            if self.params.parts == "3d":
                return f3.numpy().astype(np.float32)
            swap = self.params.swap_2d_normalisation
            mean_2d, std_2d = (IMAGENET_STD, IMAGENET_MEAN) if swap else (IMAGENET_MEAN, IMAGENET_STD)
            two = _normalise(frames[torch.from_numpy(subsample_indices(n, fps, 1.0))], mean_2d, std_2d)
            f2 = net_2d(two).mean(dim=0)
        return torch.cat([f2, f3]).numpy().astype(np.float32)

    def _frames(self, path: Path) -> tuple[torch.Tensor, float, bytes]:
        """The clip's frames resized to ``size`` (``[T, 3, size, size]`` in [0, 1]), its rate and raw pixels."""
        if path.is_dir():
            images, fps = read_clip(path), self.params.folder_fps
        else:
            clip = read_video(path)
            images, fps = list(clip.frames), clip.fps
        size = (self.params.size, self.params.size)
        # frames of a folder may differ in size: each is resized on its own, as the decoded ones are
        frames = torch.cat([F.interpolate(torch.from_numpy(image).permute(2, 0, 1)[None].float().div(255.0), size=size,
                                          mode="bilinear", align_corners=False, antialias=True) for image in images])
        return frames, fps, b"".join(image.tobytes() for image in images)

    def run(self, source: Path | str) -> Output:
        frames, fps, pixels = self._frames(file_source(source, self.name))
        rows = [self._features(frames, fps)]
        base = _content_seed(pixels)
        for view in range(1, self.params.views + 1):
            rows.append(self._features(simclr_view(frames, self.params.size, base + view).clamp(0, 1), fps))
        for copy in range(1, self.params.copies + 1):
            rows.append(self._features(training_copy(frames, self.params.size, base - copy).clamp(0, 1), fps))
        return Output(np.stack(rows))


@register
class ConCluGenAudioFeatures(Transform):
    """DAVEnet features of ConCluGen's mel spectrogram (``audio_mel_conclugen``: 16 kHz mono,
    128-bin power mel, min-max to [0, 1], code ``src/utils/audio_util.py`` L23-48): float32
    ``[8 · width]``; ``layout`` see :class:`.backbones.DavEnet`."""

    name = "conclugen_audio_features"
    version = 1
    modality = "audio"

    @dataclasses.dataclass(frozen=True)
    class Params:
        width: int = 128
        first_conv_bins: int = 128
        weights: str | None = None
        layout: Literal["bench", "code"] = "bench"
        copies: int = 0
        missing_audio: MissingAudio = "error"

        def __post_init__(self) -> None:
            positive("conclugen_audio_features", width=self.width, first_conv_bins=self.first_conv_bins)
            _copies(self.copies, "conclugen_audio_features")
            if self.first_conv_bins > 128:
                raise ConfigError("transform 'conclugen_audio_features' parameter 'first_conv_bins' must be <= 128")

    def __init__(self, params: Any) -> None:
        super().__init__(params)
        self.sha = backbones.weights_sha256(params.weights, "DAVEnet audio backbone")
        self.mel = get_transform(TransformSpec("audio_mel_conclugen", {"missing_audio": params.missing_audio}))

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "weights_sha256": {"audio": self.sha}, "spectrogram": self.mel.describe()}

    @functools.cached_property
    def _net(self) -> torch.nn.Module:
        p = self.params
        return backbones.build_audio(p.width, p.first_conv_bins, p.weights, p.layout)[0]

    def run(self, source: Path | str) -> Output:
        spectrogram = self.mel.run(source)
        mel = np.asarray(spectrogram.array, dtype=np.float32)
        mels = [mel] + [mask_spectrogram(mel, _content_seed(mel.tobytes()) - copy) for copy in range(1, self.params.copies + 1)]
        with torch.no_grad():
            rows = [self._net(torch.from_numpy(m)[None, None])[0].numpy().astype(np.float32) for m in mels]
        return Output(np.stack(rows) if self.params.copies else rows[0], spectrogram.fallbacks)


_WORD = re.compile(r"[^\W_]+")
MODEL_FILES = ("config.json", "model.safetensors", "pytorch_model.bin")


@functools.lru_cache(maxsize=2)
def _load_text_model(model_dir: str) -> tuple[Any, Any]:
    from transformers import AutoModel, AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(model_dir, local_files_only=True)
        model, info = AutoModel.from_pretrained(model_dir, local_files_only=True, output_loading_info=True)
    except (OSError, ValueError, KeyError) as error:
        raise ConfigError(f"{model_dir}: no loadable local text encoder ({str(error).splitlines()[0]})") from None
    problems = {k: v for k, v in info.items() if v and k in ("missing_keys", "unexpected_keys", "mismatched_keys")}
    if problems:
        raise DataError(f"{model_dir}: text encoder weights do not match its config: {problems}")
    return tokenizer, model.eval().requires_grad_(False)


def model_dir_sha256(model_dir: str | None) -> str:
    """sha256 over the weight, config and tokenizer files of a local model directory, or ``random-init``."""
    if not model_dir:
        return backbones.RANDOM_INIT
    folder = Path(model_dir).expanduser()
    if not folder.is_dir():
        raise ConfigError(f"text_model_dir {model_dir!r} is not a directory")
    digest = hashlib.sha256()
    for name in (*MODEL_FILES, *TOKENIZER_FILES):
        if (folder / name).is_file():
            digest.update(name.encode() + b"\0" + backbones.weights_sha256(str(folder / name), "text").encode())
    return digest.hexdigest()


def hashed_word_embedding(text: str, dim: int) -> np.ndarray:
    """The random-init text stand-in: mean of fixed N(0, 1/dim) vectors, one per lower-cased word
    (seeded by the word's crc32); zeros for a text without words. float32 ``[dim]``."""
    words = _WORD.findall(text.lower())
    if not words:
        return np.zeros(dim, dtype=np.float32)
    rows = [np.random.default_rng([backbones.INIT_SEED, zlib.crc32(w.encode("utf-8"))]).normal(0, dim ** -0.5, dim)
            for w in words]
    return np.mean(rows, axis=0).astype(np.float32)


@register
class ConCluGenTextFeatures(Transform):
    """Text encoder features: a local Hugging Face model's ``last_hidden_state`` averaged over all
    tokens, special ones included (code ``TextEncoderHuggingface``; each text on its own, so no
    padding), truncated at ``max_length``: float32 ``[H]``. Without ``model_dir``: the random-init
    :func:`hashed_word_embedding` of width ``dim``. ``copies > 0``: ``[1 + copies, H]``, the rows
    after the first of :func:`swap_word` copies."""

    name = "conclugen_text_features"
    version = 1
    modality = "text"

    @dataclasses.dataclass(frozen=True)
    class Params:
        model_dir: str | None = None
        max_length: int = 512
        dim: int = 32
        copies: int = 0

        def __post_init__(self) -> None:
            positive("conclugen_text_features", max_length=self.max_length, dim=self.dim)
            _copies(self.copies, "conclugen_text_features")

    def __init__(self, params: Any) -> None:
        super().__init__(params)
        self.sha = model_dir_sha256(params.model_dir)

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "weights_sha256": {"text": self.sha}}

    def _embed(self, text: str) -> np.ndarray:
        if not self.params.model_dir:
            return hashed_word_embedding(text, self.params.dim)
        tokenizer, model = _load_text_model(str(Path(self.params.model_dir).expanduser().resolve()))
        encoded = tokenizer(text, truncation=True, max_length=self.params.max_length, return_tensors="pt")
        with torch.no_grad():
            hidden = model(**encoded).last_hidden_state[0]
        return hidden.mean(dim=0).numpy().astype(np.float32)

    def run(self, source: Path | str) -> Output:
        text = read_text(source)
        if not self.params.copies:
            return Output(self._embed(text))
        base = _content_seed(text.encode("utf-8"))
        return Output(np.stack([self._embed(text)] + [self._embed(swap_word(text, base - copy))
                                                      for copy in range(1, self.params.copies + 1)]))
