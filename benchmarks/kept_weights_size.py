"""Size of a cell's kept weights per method and preset, without training: the model is built on the
shapes of one prepared synthetic sample and its kept tensors (``bench.running.kept_weights``) are
serialised. For MMA-DFER it also gives the size when the MAE-Face and AudioMAE files are given (their
frozen backbones are then referenced by sha256, not kept).

    python benchmarks/kept_weights_size.py [PRESET ...]      (default: tiny paper)
"""

from __future__ import annotations

import sys

import lightning as L
from safetensors.torch import save

from bench.data.cache import default_cache
from bench.data.prepare import prepare
from bench.errors import BenchError
from bench.running import kept_weights, run

#: Each method on a synthetic protocol it fits (MPUC: video, audio and landmarks, pretrain → linear_eval).
CASES = {"late_fusion": ("synthetic_5fold", None, None), "mma_dfer": ("synthetic_dfew_5fold", None, None),
         "mpuc": ("synthetic_5fold", "linear_eval", ["video", "audio", "landmarks"]),
         "avce": ("synthetic_va", None, None), "conclugen": ("synthetic_5fold", None, None)}
ENCODER_BACKBONES = tuple(f"net.{e}.{p}" for e in ("image_encoder", "audio_model")
                          for p in ("cls_token", "patch_embed.", "blocks.", "norm."))


def shapes_of(plan: run.Plan) -> dict[str, tuple[int, ...]]:
    """One item's shapes; a frame-image transform (AVCE's paper input) is taken from its size."""
    specs = run._input_specs(plan)
    try:
        return prepare(plan.samples[:1], specs, default_cache()).shapes
    except BenchError:
        if set(specs) == {"video"} and specs["video"].name == "face_image":
            size = int(specs["video"].params.get("size", 224))
            return {"video": (3, size, size)}
        raise


def main(presets: list[str]) -> None:
    for method, (protocol, regime, modalities) in CASES.items():
        for preset in presets:
            plan = run.make_plan(run.RunRequest(method=method, protocol=protocol, folds=["1"], preset=preset,
                                                progress=False, allow_incomplete=True, regime=regime,
                                                modalities=modalities))
            L.seed_everything(0, verbose=False)
            module = plan.method.build(plan.task, plan.cfg, shapes_of(plan))
            tensors = kept_weights.kept_tensors(module)
            trainable = sum(p.numel() for p in module.parameters() if p.requires_grad)
            line = (f"{method} {preset} ({protocol}: {', '.join(plan.modalities)}): "
                    f"{len(save(tensors)) / 2**20:.2f} MiB, {len(tensors)} tensors, {trainable / 1e6:.3f} M trainable")
            if method == "mma_dfer":
                kept = {k: v for k, v in tensors.items() if not k.startswith(ENCODER_BACKBONES)}
                line += f"; with encoder files: {len(save(kept)) / 2**20:.2f} MiB, {len(kept)} tensors"
            print(line, flush=True)


if __name__ == "__main__":
    main(sys.argv[1:] or ["tiny", "paper"])
