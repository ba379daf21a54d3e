"""MMA-DFER against the official code: its trainable set, fake checkpoints in each official key
layout (MAE-Face, AudioMAE, a released MMA-DFER model) that must load strictly, and golden figures
produced by the official code (logits, fbank, frame indices: tests/golden_official/mma_dfer/).

The official names below are written from the official modules (MMA-DFER commit 4b8891a:
``models_vit.py``, ``audio_models_vit.py``, ``Temporal_Model.py``, ``Generate_Model.py``),
independently of bench's mapping, at the tiny shapes.
"""

from __future__ import annotations

import argparse
import dataclasses
import fractions
import hashlib
import json
import sys
import wave
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image
from timm.models.vision_transformer import VisionTransformer

from bench.api import TaskSpec, TransformSpec
from bench.data.catalog import get_transform
from bench.data.transforms import tsn_clip_indices
from bench.errors import ConfigError, DataError
from bench_methods.mma_dfer.config import CODE, TINY, MMADFERConfig
from bench_methods.mma_dfer.model import MMADFERNet
from bench_methods.mma_dfer.module import MMADFERModule, expected_shapes
from bench_methods.mma_dfer.weights import load_official_state, official_to_bench

TINY_CFG = MMADFERConfig(**TINY)
OFFICIAL_TINY = dataclasses.replace(TINY_CFG, **{k: v for k, v in CODE.items() if k != "img_size"})
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


# --- golden figures from the official code (tests/golden_official/mma_dfer/official.json) ---------------------

GOLDEN = json.loads((Path(__file__).parent / "golden_official" / "mma_dfer" / "official.json").read_text())


def golden_weight(name: str, shape: tuple[int, ...], seed: int) -> torch.Tensor:
    """The fixture's per-tensor drawing rule (``GOLDEN["weights"]["rule"]``)."""
    noise = torch.randn(shape, generator=torch.Generator().manual_seed(zlib.crc32(name.encode()) + seed))
    if name.endswith(".weight") and len(shape) == 1:
        return 1.0 + 0.02 * noise
    return noise if "gate" in name else 0.02 * noise


def golden_inputs(size: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(1000 + size)
    return torch.rand((1, 16, 3, size, size), generator=g), torch.randn((1, 1, 512, 128), generator=g)


@pytest.mark.slow  # two ViT-B/16 pairs per size: 60-90 s each at load 9 on two cores
@pytest.mark.parametrize("size", [112, 160])
def test_code_preset_gives_the_official_logits(size: int) -> None:
    """The official model's logits (its commit in the fixture) on the same weights, drawn by name in the
    official layout and loaded through bench's loader: the code preset matches to 1e-5; one paper switch
    (Eq. 3 on the patches only) moves them, and the paper preset's single gate cannot take the file."""
    code = MMADFERConfig(**{**CODE, "img_size": size})
    shapes = official_shapes(code, 7)
    layout = "\n".join(f"{k} {list(s)}" for k, s in sorted(shapes.items()))
    assert hashlib.sha256(layout.encode()).hexdigest() == GOLDEN["layout_sha256"][str(size)]  # the real layout
    official = {k: golden_weight(k, s, GOLDEN["weights"]["seed"]) for k, s in shapes.items()}
    video, audio = golden_inputs(size)
    expected = torch.tensor(GOLDEN["logits"][str(size)])

    def logits(cfg: MMADFERConfig) -> torch.Tensor:
        torch.manual_seed(0)
        net = MMADFERNet(cfg, ("video", "audio"), 7).eval()
        load_official_state(net, official, "golden")
        with torch.no_grad():
            return net(video, audio)[0]

    got = logits(code)
    assert (got - expected).abs().max().item() < 1e-5, (got, expected)
    if size == 112:  # one size suffices to show the switch matters (a full-size forward is seconds of CPU)
        patches_only = logits(dataclasses.replace(code, fusion_tokens="patches"))
        assert (patches_only - expected).abs().max().item() > 1e-3
    with pytest.raises(DataError, match=r"missing \(1\): fusion_gate"):
        load_official_state(MMADFERNet(MMADFERConfig(img_size=size), ("video", "audio"), 7), official, "golden")


def golden_wav(path: Path) -> Path:
    """The fixture's wav (``GOLDEN["fbank"]["wav"]``), written the same way."""
    rate, n = 16000, 8000
    t = np.arange(n) / rate
    left = 0.3 * np.sin(2 * np.pi * 440 * t) + 0.05 * np.random.default_rng(7).standard_normal(n)
    right = 0.2 * np.sin(2 * np.pi * 1250 * t)
    pcm = np.clip(np.round(np.stack([left, right], 1) * 32767), -32768, 32767).astype("<i2")
    with wave.open(str(path), "wb") as handle:
        handle.setnchannels(2)
        handle.setsampwidth(2)
        handle.setframerate(rate)
        handle.writeframes(pcm.tobytes())
    return path


def test_fbank_is_the_official_one_and_a_missing_wav_its_zeros(tmp_path: Path) -> None:
    """``_wav2fbank`` + the AudioSet normalisation of the official loader, on a fixed stereo wav; a missing
    wav is the official constant under ``missing_audio=zeros`` (the code preset) and an error on the paper side."""
    fbank = get_transform(TransformSpec("audio_fbank_audiomae", {})).run(golden_wav(tmp_path / "a.wav")).array
    golden = GOLDEN["fbank"]
    assert list(fbank.shape) == golden["shape"]
    assert np.abs(fbank[0:64:4, ::16] - np.array(golden["sub"])).max() < 1e-5
    assert float(fbank.astype(np.float64).sum()) == pytest.approx(golden["sum"], rel=1e-6)
    assert float((fbank.astype(np.float64) ** 2).sum()) == pytest.approx(golden["sum_of_squares"], rel=1e-6)
    missing = tmp_path / "clips_wav" / "00001.wav"
    output = get_transform(TransformSpec("audio_fbank_audiomae", {"missing_audio": "zeros"})).run(missing)
    assert output.fallbacks == ("missing_audio_zeros",) and output.array.shape == (512, 128)
    assert np.abs(output.array - golden["missing_wav_value"]).max() < 1e-6
    with pytest.raises(DataError, match="00001.wav"):
        get_transform(TransformSpec("audio_fbank_audiomae", {})).run(missing)


def test_frame_indices_are_the_official_ones_by_the_lists_count(tmp_path: Path) -> None:
    """``_get_test_indices`` for each listed count; on a MAFW face folder of 20 files the official list says
    19, so ``count=mmadfer_lists`` (the code preset's ``frame_count=lists``) samples those, ``files`` does not."""
    for n, indices in GOLDEN["frames"]["test_indices"].items():
        assert tsn_clip_indices(int(n), 16, 1)[0].tolist() == indices, n
    folder = tmp_path / "clips_faces" / "00042"
    folder.mkdir(parents=True)
    for j in range(20):
        Image.fromarray(np.full((8, 8, 3), j * 10, np.uint8)).save(folder / f"{j}.png")

    def sampled(count: str) -> list[int]:
        transform = get_transform(TransformSpec("video_frames", {"num_frames": 16, "size": 8, "count": count}))
        return [int(frame[0, 0, 0]) // 10 for frame in transform.sample(transform.run(folder).array, False, None)]

    assert sampled("mmadfer_lists") == GOLDEN["frames"]["test_indices"]["19"]
    assert sampled("files") == GOLDEN["frames"]["test_indices"]["20"] != GOLDEN["frames"]["test_indices"]["19"]
