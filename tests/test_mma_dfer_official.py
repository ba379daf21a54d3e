"""MMA-DFER against the official code's layouts: its trainable set, and fake checkpoints in each
official key layout (MAE-Face, AudioMAE, a released MMA-DFER model) that must load strictly.

The official names below are written from the official modules (REFERENCE 4.4, 4.6:
``models_vit.py``, ``audio_models_vit.py``, ``Temporal_Model.py``, ``Generate_Model.py``),
independently of bench's mapping, at the tiny shapes.
"""

from __future__ import annotations

import argparse
import dataclasses
import fractions
import hashlib
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from timm.models.vision_transformer import VisionTransformer

from bench.api import TaskSpec
from bench.errors import ConfigError, DataError
from bench_methods.mma_dfer.config import CODE, TINY, MMADFERConfig
from bench_methods.mma_dfer.model import MMADFERNet
from bench_methods.mma_dfer.module import MMADFERModule, expected_shapes
from bench_methods.mma_dfer.weights import official_to_bench

TINY_CFG = MMADFERConfig(**TINY)
OFFICIAL_TINY = dataclasses.replace(TINY_CFG, **CODE)
TASK = TaskSpec("classification", ("a", "b", "c", "d"))


pytestmark = pytest.mark.usefixtures("one_thread")

#: main.py L104-138: freeze these, then re-enable names containing any of the second list.
FROZEN_IF = ("image_encoder", "audio_model")
REENABLED_IF = ("our_classifier", "positional_embedding", "learnable_prompts", "pos_embed", "audio_proj", "temporal",
                "gate", "context_att", "learnable_q", "audio_att", "norm_xt", "norm_xt_2", "norm_qs")


def official_trainable(name: str) -> bool:
    """The official rule of which parameters train."""
    return not any(k in name for k in FROZEN_IF) or any(k in name for k in REENABLED_IF)


def _vit(prefix: str, cfg: MMADFERConfig, in_chans: int, patches: int, head: int) -> dict[str, tuple[int, ...]]:
    d, p, m = cfg.embed_dim, cfg.patch_size, cfg.num_prompts
    shapes = {"cls_token": (1, 1, d), "pos_embed": (1, 1 + patches + m, d),
              "patch_embed.proj.weight": (d, in_chans, p, p), "patch_embed.proj.bias": (d,), "norm.weight": (d,),
              "norm.bias": (d,), "head.weight": (head, d), "head.bias": (head,), "learnable_prompts_init": (m, d)}
    for level in range(cfg.prompt_updates):
        shapes[f"learnable_prompts_progr.{level}"] = (m // cfg.prompt_updates, d)
    for i in range(cfg.depth):
        for norm in ("norm1", "norm2"):
            shapes |= {f"blocks.{i}.{norm}.weight": (d,), f"blocks.{i}.{norm}.bias": (d,)}
        shapes |= {f"blocks.{i}.attn.qkv.weight": (3 * d, d), f"blocks.{i}.attn.qkv.bias": (3 * d,),
                   f"blocks.{i}.attn.proj.weight": (d, d), f"blocks.{i}.attn.proj.bias": (d,),
                   f"blocks.{i}.mlp.fc1.weight": (4 * d, d), f"blocks.{i}.mlp.fc1.bias": (4 * d,),
                   f"blocks.{i}.mlp.fc2.weight": (d, 4 * d), f"blocks.{i}.mlp.fc2.bias": (d,),
                   f"temporal_att_post.{i}.0.weight": (d, cfg.bottleneck_dim), f"temporal_att_post.{i}.0.bias": (d,),
                   f"all_gate.{i}": (1,)}
    return {f"{prefix}.{k}": v for k, v in shapes.items()}


def official_shapes(cfg: MMADFERConfig, classes: int) -> dict[str, tuple[int, ...]]:
    """Every key of the official ``GenerateModel.state_dict()`` (without ``module.``) and its shape."""
    d, b, j = cfg.embed_dim, cfg.bottleneck_dim, cfg.joint_dim
    inner = cfg.mtt_heads * cfg.mtt_dim_head
    vision = (cfg.img_size // cfg.patch_size) ** 2
    audio = (cfg.audio_frames // cfg.patch_size) * (cfg.audio_mel_bins // cfg.patch_size)
    shapes = _vit("image_encoder", cfg, 3, vision, 12) | _vit("audio_model", cfg, 1, audio, 1000)
    for i in range(cfg.depth):
        pre = "image_encoder"
        shapes |= {f"{pre}.audio_proj_pre.{i}.0.weight": (b, d), f"{pre}.audio_proj_pre.{i}.0.bias": (b,),
                   f"{pre}.audio_proj_pre.{i}.1.weight": (b,), f"{pre}.audio_proj_pre.{i}.1.bias": (b,),
                   f"{pre}.temporal_pre.{i}.weight": (b, d), f"{pre}.temporal_pre.{i}.bias": (b,),
                   f"{pre}.temporal_pre_norm.{i}.weight": (b,), f"{pre}.temporal_pre_norm.{i}.bias": (b,)}
    shapes |= {"vision_proj.weight": (j, d), "vision_proj.bias": (j,), "our_classifier.weight": (classes, j),
               "our_classifier.bias": (classes,), "temporal_net.cls_token": (1, 1, j),
               "temporal_net.pos_embedding": (1, cfg.num_frames + 1, j)}
    for layer in range(cfg.mtt_depth):
        pre = f"temporal_net.temporal_transformer.layers.{layer}"
        for half in (0, 1):
            for norm in ("norm", "norm2"):
                shapes |= {f"{pre}.{half}.fn.{norm}.weight": (j,), f"{pre}.{half}.fn.{norm}.bias": (j,)}
        shapes |= {f"{pre}.0.fn.fn.to_q.weight": (inner, j), f"{pre}.0.fn.fn.to_kv.weight": (2 * inner, j),
                   f"{pre}.0.fn.fn.to_out.0.weight": (j, inner), f"{pre}.0.fn.fn.to_out.0.bias": (j,),
                   f"{pre}.1.fn.fn.net.0.weight": (cfg.mtt_mlp_dim, j), f"{pre}.1.fn.fn.net.0.bias": (cfg.mtt_mlp_dim,),
                   f"{pre}.1.fn.fn.net.3.weight": (j, cfg.mtt_mlp_dim), f"{pre}.1.fn.fn.net.3.bias": (j,)}
    return shapes


def official_state_dict(cfg: MMADFERConfig, classes: int, seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return {k: torch.randn(shape, generator=g) for k, shape in official_shapes(cfg, classes).items()}


class RecorderMeter:
    """What the official main.py pickles as ``recorder`` (its training curves)."""

    def __init__(self, epochs: int) -> None:
        self.total_epoch, self.current_epoch = epochs, epochs
        self.epoch_losses = np.zeros((epochs, 2), dtype=np.float32)
        self.epoch_accuracy = np.ones((epochs, 2), dtype=np.float32)


@pytest.fixture
def main_module_recorder(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make ``RecorderMeter`` picklable as ``__main__.RecorderMeter``, as the official script saves it."""
    monkeypatch.setattr(RecorderMeter, "__module__", "__main__")
    monkeypatch.setattr(sys.modules["__main__"], "RecorderMeter", RecorderMeter, raising=False)


def save_released(path: Path, state: dict[str, torch.Tensor]) -> Path:
    torch.save({"epoch": 25, "state_dict": {f"module.{k}": v for k, v in state.items()},
                "best_acc": torch.tensor(61.5), "optimizer": {"state": {}, "param_groups": [{"lr": 3.9e-7}]},
                "recorder": RecorderMeter(25)}, path)
    return path


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --- trainable set ---------------------------------------------------------------------------------------------


def test_trainable_set_is_the_official_one() -> None:
    net = MMADFERNet(OFFICIAL_TINY, ("video", "audio"), 4)
    official = official_shapes(OFFICIAL_TINY, 4)
    mapped = {name: official_to_bench(name) for name in official}
    unused = sorted(n for n in official if ".head." in n or (".norm2." in n and n.startswith("temporal_net")))
    assert sorted(n for n, ours in mapped.items() if ours is None) == unused
    trainable = {n for n, p in net.named_parameters() if p.requires_grad}
    frozen = {n for n, p in net.named_parameters() if not p.requires_grad}
    assert trainable == {mapped[n] for n in official if mapped[n] and official_trainable(n)}
    assert frozen == {mapped[n] for n in official if mapped[n] and not official_trainable(n)}
    assert {n.split(".")[1] for n in frozen} == {"cls_token", "patch_embed", "blocks", "norm"}
    # the paper's single alpha replaces the 24 per-block, per-modality gates
    paper = {n for n, p in MMADFERNet(TINY_CFG, ("video", "audio"), 4).named_parameters() if p.requires_grad}
    assert paper - trainable == {"fusion_gate"}
    assert trainable - paper == {f"fusion.{i}.gate_{m}" for i in range(TINY_CFG.depth) for m in "va"}


# --- released MMA-DFER checkpoints --------------------------------------------------------------------------


def test_released_checkpoint_loads_strictly_into_the_right_modules(tmp_path: Path, main_module_recorder: None) -> None:
    state = official_state_dict(OFFICIAL_TINY, 4)
    path = save_released(tmp_path / "model.pth", state)
    cfg = dataclasses.replace(OFFICIAL_TINY, checkpoint=str(path))
    module = MMADFERModule(TASK, cfg, expected_shapes(cfg))  # weights_only=True, with the allow-list
    net = module.net
    assert module.weights_provenance == {"mma_dfer": sha256(path)}
    with pytest.raises(ConfigError, match="a checkpoint holds the encoder weights too"):
        MMADFERModule(TASK, dataclasses.replace(cfg, vision_weights=str(path)), expected_shapes(cfg))
    expected = {
        net.fusion[1].g_v[0].weight: "image_encoder.temporal_pre.1.weight",
        net.fusion[1].g_v[1].bias: "image_encoder.temporal_pre_norm.1.bias",
        net.fusion[2].g_a[0].weight: "image_encoder.audio_proj_pre.2.0.weight",
        net.fusion[2].g_a[1].weight: "image_encoder.audio_proj_pre.2.1.weight",
        net.fusion[3].f_v[0].bias: "image_encoder.temporal_att_post.3.0.bias",
        net.fusion[0].f_a[0].weight: "audio_model.temporal_att_post.0.0.weight",
        net.fusion[0].gate_v: "image_encoder.all_gate.0",
        net.fusion[3].gate_a: "audio_model.all_gate.3",
        net.image_encoder.blocks[2].mlp.fc1.weight: "image_encoder.blocks.2.mlp.fc1.weight",
        net.audio_model.pos_embed: "audio_model.pos_embed",
        net.audio_model.learnable_prompts_progr[1]: "audio_model.learnable_prompts_progr.1",
        net.temporal_net.layers[0].attn_norm.weight: "temporal_net.temporal_transformer.layers.0.0.fn.norm.weight",
        net.temporal_net.layers[0].to_kv.weight: "temporal_net.temporal_transformer.layers.0.0.fn.fn.to_kv.weight",
        net.temporal_net.layers[0].to_out.bias: "temporal_net.temporal_transformer.layers.0.0.fn.fn.to_out.0.bias",
        net.temporal_net.layers[0].ff_norm.bias: "temporal_net.temporal_transformer.layers.0.1.fn.norm.bias",
        net.temporal_net.layers[0].ff[2].weight: "temporal_net.temporal_transformer.layers.0.1.fn.fn.net.3.weight",
        net.temporal_net.pos_embedding: "temporal_net.pos_embedding",
        net.our_classifier.weight: "our_classifier.weight",
    }
    for tensor, name in expected.items():
        assert torch.equal(tensor.detach(), state[name]), name


def test_checkpoint_of_another_model_fails_with_a_key_report(tmp_path: Path, main_module_recorder: None) -> None:
    path = save_released(tmp_path / "model.pth", official_state_dict(OFFICIAL_TINY, 4))
    cfg = dataclasses.replace(TINY_CFG, checkpoint=str(path))  # paper: one gate, not 24
    with pytest.raises(DataError) as info:
        MMADFERModule(TASK, cfg, expected_shapes(cfg))
    message = str(info.value)
    assert "missing (1): fusion_gate" in message and "unexpected (8): fusion.0.gate_a" in message
    assert "--preset code" in message and str(path) in message
    wrong_size = dataclasses.replace(OFFICIAL_TINY, img_size=64, checkpoint=str(path))
    shape = r"wrong shape \(1\): image_encoder.pos_embed: file \[1, 11, 64\], model \[1, 23, 64\]"
    with pytest.raises(DataError, match=shape):
        MMADFERModule(TASK, wrong_size, expected_shapes(wrong_size))


# --- MAE-Face and AudioMAE encoder checkpoints ------------------------------------------------------------------


def mae_layout(img_size: tuple[int, int], in_chans: int, seed: int) -> dict[str, torch.Tensor]:
    """An MAE pre-training ``model`` state: a tiny encoder plus decoder and mask token."""
    torch.manual_seed(seed)
    encoder = VisionTransformer(img_size=img_size, patch_size=16, in_chans=in_chans, embed_dim=64, depth=4, num_heads=2,
                                num_classes=0)
    state = {k: v.clone() for k, v in encoder.state_dict().items()}
    state["pos_embed"] = torch.randn_like(state["pos_embed"])  # MAE's fixed sin-cos table: any values
    return state | {"mask_token": torch.zeros(1, 1, 32), "decoder_embed.weight": torch.randn(32, 64),
                    "decoder_pos_embed": torch.zeros(1, 17, 32), "decoder_blocks.0.norm1.weight": torch.ones(32),
                    "decoder_norm.weight": torch.ones(32), "decoder_pred.weight": torch.randn(768, 32)}


def bicubic(pos: torch.Tensor, old: tuple[int, int], new: tuple[int, int]) -> torch.Tensor:
    grid = pos[:, 1:].reshape(1, *old, -1).permute(0, 3, 1, 2)
    grid = F.interpolate(grid, size=new, mode="bicubic", align_corners=False)
    return torch.cat([pos[:, :1], grid.permute(0, 2, 3, 1).reshape(1, new[0] * new[1], -1)], dim=1)


def test_mae_face_and_audiomae_checkpoints_load_with_resized_positions(tmp_path: Path) -> None:
    vision = mae_layout((64, 64), 3, seed=1)  # a 4x4 grid, resized to the tiny model's 2x2
    audio = mae_layout((192, 32), 1, seed=2)  # 12 (time) x 2 (frequency), resized to 6 x 2
    torch.save({"model": vision}, tmp_path / "mae_face.pth")
    torch.save({"model": audio, "optimizer": {"state": {}, "param_groups": []}, "epoch": 32,
                "scaler": {"scale": 65536.0}, "args": argparse.Namespace(model="mae_vit_base_patch16", mask_2d=True)},
               tmp_path / "audiomae.pth")
    cfg = dataclasses.replace(TINY_CFG, vision_weights=str(tmp_path / "mae_face.pth"),
                              audio_weights=str(tmp_path / "audiomae.pth"))
    torch.manual_seed(5)
    reference = MMADFERNet(TINY_CFG, ("video", "audio"), 4)
    torch.manual_seed(5)
    module = MMADFERModule(TASK, cfg, expected_shapes(cfg))
    assert module.weights_provenance == {"mae_face": sha256(tmp_path / "mae_face.pth"),
                                         "audiomae": sha256(tmp_path / "audiomae.pth")}
    for encoder, state, old, new in ((module.net.image_encoder, vision, (4, 4), (2, 2)),
                                     (module.net.audio_model, audio, (12, 2), (6, 2))):
        want = bicubic(state["pos_embed"], old, new)
        assert torch.allclose(encoder.pos_embed[:, :1 + new[0] * new[1]], want, atol=1e-6)
        for name in ("cls_token", "patch_embed.proj.weight", "blocks.3.attn.qkv.bias", "norm.weight"):
            assert torch.equal(encoder.state_dict()[name], state[name]), name
    # the prompts and their positional rows keep their initialisation; the rest of the model too
    assert torch.equal(module.net.audio_model.pos_embed[:, 13:], reference.audio_model.pos_embed[:, 13:])
    assert torch.equal(module.net.image_encoder.learnable_prompts_init, reference.image_encoder.learnable_prompts_init)
    assert torch.equal(module.net.fusion[0].g_v[0].weight, reference.fusion[0].g_v[0].weight)


def test_wrong_encoder_checkpoints_fail_with_a_readable_report(tmp_path: Path) -> None:
    finetuned = mae_layout((64, 64), 3, seed=1)
    del finetuned["blocks.3.mlp.fc2.weight"], finetuned["blocks.3.mlp.fc2.bias"]
    finetuned |= {"head.weight": torch.zeros(7, 64), "head.bias": torch.zeros(7)}
    torch.save({"model": finetuned}, tmp_path / "finetuned.pth")
    cfg = dataclasses.replace(TINY_CFG, vision_weights=str(tmp_path / "finetuned.pth"))
    with pytest.raises(DataError) as info:
        MMADFERModule(TASK, cfg, expected_shapes(cfg))
    message = str(info.value)
    assert "finetuned.pth (config key 'vision_weights') does not fit the MAE-Face vision encoder" in message
    assert "missing (2): blocks.3.mlp.fc2.bias, blocks.3.mlp.fc2.weight" in message
    assert "unexpected (2): head.bias, head.weight" in message
    torch.save({"state_dict": mae_layout((64, 64), 3, seed=1)}, tmp_path / "other.pth")
    with pytest.raises(DataError, match=r"a checkpoint dict with a 'model' state_dict, found \['state_dict'\]"):
        MMADFERModule(TASK, dataclasses.replace(TINY_CFG, audio_weights=str(tmp_path / "other.pth")),
                      expected_shapes(TINY_CFG))
    (tmp_path / "corrupt.pth").write_bytes(b"not a checkpoint")
    with pytest.raises(DataError, match="corrupt.pth .config key 'audio_weights'.: not a readable PyTorch checkpoint"):
        MMADFERModule(TASK, dataclasses.replace(TINY_CFG, audio_weights=str(tmp_path / "corrupt.pth")),
                      expected_shapes(TINY_CFG))
    with pytest.raises(DataError, match="nowhere.pth .config key 'audio_weights'.: no such file"):
        MMADFERModule(TASK, dataclasses.replace(TINY_CFG, audio_weights=str(tmp_path / "nowhere.pth")),
                      expected_shapes(TINY_CFG))


def test_objects_outside_the_allow_list_need_explicit_trust(tmp_path: Path) -> None:
    path = tmp_path / "audiomae.pth"
    torch.save({"model": mae_layout((192, 32), 1, seed=2), "args": fractions.Fraction(1, 3)}, path)
    cfg = dataclasses.replace(TINY_CFG, audio_weights=str(path))
    with pytest.raises(DataError, match="pickles fractions.Fraction.*--set trust_checkpoints=true"):
        MMADFERModule(TASK, cfg, expected_shapes(cfg))
    trusted = dataclasses.replace(cfg, trust_checkpoints=True)
    assert MMADFERModule(TASK, trusted, expected_shapes(trusted)).weights_provenance["audiomae"] == sha256(path)


def test_trusted_loading_still_resolves_the_official_recorder(tmp_path: Path, main_module_recorder: None,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    state = official_state_dict(OFFICIAL_TINY, 4)
    path = tmp_path / "model.pth"
    torch.save({"state_dict": {f"module.{k}": v for k, v in state.items()}, "recorder": RecorderMeter(3),
                "note": fractions.Fraction(1, 2)}, path)
    monkeypatch.delattr(sys.modules["__main__"], "RecorderMeter")  # as in any process but the official script
    cfg = dataclasses.replace(OFFICIAL_TINY, checkpoint=str(path), trust_checkpoints=True)
    module = MMADFERModule(TASK, cfg, expected_shapes(cfg))
    assert torch.equal(module.net.vision_proj.weight, state["vision_proj.weight"])
