"""``mma_dfer``: MMA-DFER (Chumachenko, Iosifidis, Gabbouj, CVPRW 2024) as a bench method.

Two frozen SSL-pretrained ViT-B/16 encoders — MAE-Face on each of 16 frames, AudioMAE on the
fbank — adapted with learnable progressive prompts (§3.2), joined after every block by a gated
Fusion Bottleneck (§3.3), then the joint adaptation layer (768 → 512), the Multimodal Temporal
Transformer and a linear classifier (§3.4). About 7.5M parameters train (7.52M / 7.56M / 7.63M
at 112 / 160 / 224 px for 7 classes). Faithful to the official code where the paper is silent;
every difference is a switch of :class:`~bench_methods.mma_dfer.config.MMADFERConfig`
(``--preset code`` takes the code's side of all of them; ``official`` is its old name, kept
as an alias). Runs on ``dfew_5fold`` and
``mafw_5fold`` (real data) and on any video+audio classification protocol (``synthetic_5fold``
with ``--preset tiny`` on a CPU); with one ``--modalities`` entry it builds the unimodal
variant of Table 5.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from bench.api import Method, ResourceHints, Stage, TaskSpec, TransformSpec
from bench_methods.mma_dfer.config import CODE, TINY, MMADFERConfig, stored_size


class MMADFER(Method):
    """The MMA-DFER method family: the full model, its ablations and its unimodal variants."""

    name = "mma_dfer"
    paper = "MMA-DFER (Chumachenko, Iosifidis, Gabbouj; CVPRW 2024)"
    modalities = ("video", "audio")
    tasks = ("classification",)
    regimes = ("supervised",)
    Config = MMADFERConfig
    presets: Mapping[str, Mapping[str, Any] | str] = {"paper": {}, "code": CODE, "official": "code", "tiny": TINY}
    resources = ResourceHints(gpus=1, cpus=8, mem_gb=48, time_min=720)

    def inputs(self, cfg: MMADFERConfig, modalities: Sequence[str]) -> dict[str, TransformSpec]:
        specs = {
            "video": TransformSpec("video_frames", {
                "num_frames": cfg.num_frames, "size": stored_size(cfg), "ordering": cfg.frame_ordering,
                "test_clips": cfg.test_clips, "count": "files" if cfg.frame_count == "files" else "mmadfer_lists"}),
            "audio": TransformSpec("audio_fbank_audiomae", {
                "sample_rate": cfg.audio_sample_rate, "channel": cfg.audio_channel,
                "num_mel_bins": cfg.audio_mel_bins, "target_length": cfg.audio_frames,
                "missing_audio": cfg.missing_audio}),
        }
        return {m: specs[m] for m in modalities}

    def stages(self, cfg: MMADFERConfig, regime: str, pretrain: bool) -> list[Stage]:
        """One labelled fit; ``drop_last`` as the official training loader (``main.py:173-178``)."""
        return [Stage(regime, cfg.epochs, cfg.batch_size, labels=True, drop_last=cfg.drop_last)]

    def build(self, task: TaskSpec, cfg: MMADFERConfig, shapes: Mapping[str, tuple[int, ...]]) -> Any:
        from bench_methods.mma_dfer.module import MMADFERModule

        return MMADFERModule(task, cfg, shapes)

    def load_released(self, module: Any, path: Path) -> str:
        """A released MMA-DFER checkpoint (official ``main.py:304-305`` ``save_checkpoint``) into ``module``."""
        from bench_methods.mma_dfer.weights import load_released_brief

        return load_released_brief(module.net, path, module.cfg.trust_checkpoints)
