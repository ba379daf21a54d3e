"""MMA-DFER's network: prompts (Eq. 1), the fusion bottleneck (Eqs. 2-5), zero-gate equivalence,
parameter counts, and the ablation variants (Tables 2-7)."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch
from timm.models.vision_transformer import VisionTransformer

from bench_methods.mma_dfer.config import CODE, TINY, MMADFERConfig
from bench_methods.mma_dfer.encoder import PromptedViT
from bench_methods.mma_dfer.fusion import AddFusion, FusionBottleneck, MultConcatFusion, MultFusion
from bench_methods.mma_dfer.model import MMADFERNet

TINY_CFG = MMADFERConfig(**TINY)


pytestmark = pytest.mark.usefixtures("one_thread")


def inputs(cfg: MMADFERConfig, batch: int = 2, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    video = torch.rand(batch, cfg.num_frames, 3, cfg.img_size, cfg.img_size, generator=g)
    audio = torch.randn(batch, cfg.audio_frames, cfg.audio_mel_bins, generator=g)
    return video, audio


def gelu(x: float) -> float:
    return 0.5 * x * (1.0 + math.erf(x / math.sqrt(2.0)))


# --- prompts (§3.2, Eq. 1) -----------------------------------------------------------------------------------


def small_vit(depth: int, num_prompts: int, prompt_updates: int) -> PromptedViT:
    return PromptedViT(img_size=(16, 16), in_chans=3, patch_size=8, embed_dim=8, depth=depth, num_heads=2,
                       drop_path_rate=0.0, num_prompts=num_prompts, prompt_updates=prompt_updates)


def test_progressive_prompts_go_after_blocks_0_and_6_into_their_three_slots() -> None:
    vit = small_vit(depth=12, num_prompts=6, prompt_updates=2)
    assert vit.num_patches == 4 and vit.pos_embed.shape == (1, 1 + 4 + 6, 8)
    p0, p1 = (p.detach() for p in vit.learnable_prompts_progr)
    assert p0.shape == p1.shape == (3, 8)
    x = torch.zeros(2, 11, 8)
    for block in range(12):
        y = vit.update_prompts(block, x)
        if block not in (0, 6):
            assert torch.equal(y, x), block
    after0, after6 = vit.update_prompts(0, x), vit.update_prompts(6, x)
    # sequence [CLS, 4 patches, 6 prompts]: P^1 lands on prompt slots 0-2 (tokens 5-7), P^2 on 3-5 (tokens 8-10)
    assert torch.equal(after0[:, 5:8], p0.expand(2, -1, -1)) and not after0[:, :5].any() and not after0[:, 8:].any()
    assert torch.equal(after6[:, 8:11], p1.expand(2, -1, -1)) and not after6[:, :8].any()


def test_prompt_frequency_ablation_places_updates_every_depth_over_l_blocks() -> None:
    for updates, blocks in ((12, list(range(12))), (6, [0, 2, 4, 6, 8, 10]), (4, [0, 3, 6, 9])):
        vit = small_vit(depth=12, num_prompts=3 * updates, prompt_updates=updates)
        x = torch.zeros(1, 1 + 4 + 3 * updates, 8)
        changed = [b for b in range(12) if not torch.equal(vit.update_prompts(b, x), x)]
        assert changed == blocks
    fixed = small_vit(depth=12, num_prompts=6, prompt_updates=0)  # Table 4 "Pr." without "Pr.Pr."
    assert len(fixed.learnable_prompts_progr) == 0
    assert all(torch.equal(fixed.update_prompts(b, torch.ones(1, 11, 8)), torch.ones(1, 11, 8)) for b in range(12))


def test_sequence_is_cls_patches_prompts_plus_positions() -> None:
    vit = small_vit(depth=1, num_prompts=6, prompt_updates=2)
    with torch.no_grad():
        vit.patch_embed.proj.weight.zero_()
        vit.patch_embed.proj.bias.fill_(2.0)
    tokens = vit.embed(torch.rand(3, 3, 16, 16))
    pos = vit.pos_embed[0].detach()
    assert tokens.shape == (3, 11, 8)
    assert torch.allclose(tokens[:, 0], vit.cls_token[0, 0].detach() + pos[0])
    assert torch.allclose(tokens[:, 1:5], 2.0 + pos[1:5])
    assert torch.allclose(tokens[:, 5:], vit.learnable_prompts_init.detach() + pos[5:])


def test_prompt_initialisation_scales_follow_the_code() -> None:
    torch.manual_seed(0)
    vit = PromptedViT(img_size=(32, 32), in_chans=3, patch_size=16, embed_dim=768, depth=1, num_heads=12,
                      drop_path_rate=0.0, num_prompts=60, prompt_updates=0)
    assert abs(float(vit.learnable_prompts_init.detach().std()) - 768**-0.5) < 0.002  # randn * 768^-0.5
    assert abs(float(vit.pos_embed.detach()[0, 5:].std()) - 1.0) < 0.02  # the prompts' position rows: randn, std 1
    assert float(vit.pos_embed.detach()[0, :5].std()) < 0.05  # timm's own rows: trunc-normal, std 0.02


# --- fusion (§3.3, Eqs. 2-5) ---------------------------------------------------------------------------------


def identity_bottleneck(where_v: slice = slice(None), where_a: slice = slice(None)) -> FusionBottleneck:
    fusion = FusionBottleneck(2, 2, where_v, where_a, own_gates=True)
    with torch.no_grad():
        for layer in (fusion.g_v[0], fusion.g_a[0], fusion.f_v[0], fusion.f_a[0]):
            layer.weight.copy_(torch.eye(2))
            layer.bias.zero_()
        fusion.gate_v.fill_(math.atanh(0.5))
        fusion.gate_a.fill_(math.atanh(0.25))
    return fusion


def test_fusion_bottleneck_against_hand_computed_values() -> None:
    # one clip of two frames with two 2-d tokens each, three audio tokens; G and F are identity
    # Linear layers, so V^ = LayerNorm(V): [p, q] -> [-1, 1] if p < q else [1, -1] (up to eps).
    v = torch.tensor([[[1.0, 3.0], [5.0, 1.0]], [[0.0, 2.0], [0.0, 4.0]]])
    a = torch.tensor([[[2.0, 0.0], [3.0, 1.0], [0.0, 1.0]]])
    fusion = identity_bottleneck()
    new_v, new_a = fusion(v, a, 2, fusion.gate_v, fusion.gate_a)
    v_hat = [[[-1, 1], [1, -1]], [[-1, 1], [-1, 1]]]
    a_hat = [[1, -1], [1, -1], [-1, 1]]
    l_v = [-0.5, 0.5]  # mean over both frames and both tokens
    l_a = [1 / 3, -1 / 3]  # mean over the three audio tokens
    want_v = [[[v[f, n, c].item() + 0.5 * gelu(v_hat[f][n][c] + l_a[c]) for c in range(2)] for n in range(2)]
              for f in range(2)]
    want_a = [[[a[0, n, c].item() + 0.25 * gelu(a_hat[n][c] + l_v[c]) for c in range(2)] for n in range(3)]]
    assert torch.allclose(new_v, torch.tensor(want_v), atol=1e-4)
    assert torch.allclose(new_a, torch.tensor(want_a), atol=1e-4)


def test_patch_mode_pools_and_updates_patches_only() -> None:
    # sequence [CLS, 2 patches, 1 prompt]: CLS and prompt rows are huge, yet must not move L_v / L_a
    patches_v = torch.tensor([[[1.0, 3.0], [5.0, 1.0]], [[0.0, 2.0], [0.0, 4.0]]])
    patches_a = torch.tensor([[[2.0, 0.0], [3.0, 1.0], [0.0, 1.0]]])
    v = torch.cat([torch.full((2, 1, 2), 50.0), patches_v, torch.tensor([-40.0, 7.0]).expand(2, 1, 2)], dim=1)
    a = torch.cat([torch.full((1, 1, 2), -30.0), patches_a, torch.tensor([9.0, -90.0]).expand(1, 1, 2)], dim=1)
    patch_mode, all_mode = identity_bottleneck(slice(1, 3), slice(1, 4)), identity_bottleneck()
    new_v, new_a = patch_mode(v, a, 2, patch_mode.gate_v, patch_mode.gate_a)
    ref_v, ref_a = all_mode(patches_v, patches_a, 2, all_mode.gate_v, all_mode.gate_a)
    assert torch.allclose(new_v[:, 1:3], ref_v) and torch.allclose(new_a[:, 1:4], ref_a)
    assert torch.equal(new_v[:, [0, 3]], v[:, [0, 3]]) and torch.equal(new_a[:, [0, 4]], a[:, [0, 4]])


@pytest.mark.parametrize("kind", [FusionBottleneck, AddFusion, MultFusion, MultConcatFusion])
def test_every_fusion_keeps_shapes_and_is_the_identity_at_zero_gate(kind: type) -> None:
    where_v, where_a = slice(1, 5), slice(1, 7)
    args = {FusionBottleneck: (16, 8), AddFusion: (), MultFusion: (16, 8, 2), MultConcatFusion: (16, 8, 2)}[kind]
    fusion = kind(*args, where_v, where_a, own_gates=True)
    v, a = torch.randn(2 * 3, 1 + 4 + 2, 16), torch.randn(2, 1 + 6 + 2, 16)
    same_v, same_a = fusion(v, a, 3, fusion.gate_v, fusion.gate_a)
    assert torch.equal(same_v, v) and torch.equal(same_a, a)
    gate = torch.tensor([0.7])
    new_v, new_a = fusion(v, a, 3, gate, gate)
    assert new_v.shape == v.shape and new_a.shape == a.shape
    assert not torch.allclose(new_v[:, where_v], v[:, where_v]) and torch.equal(new_v[:, 0], v[:, 0])
    # each clip's audio reaches only that clip's frames
    other = a.clone()
    other[1] += 5.0
    moved_v, _ = fusion(v, other, 3, gate, gate)
    assert torch.equal(moved_v[:3], new_v[:3]) and not torch.allclose(moved_v[3:], new_v[3:])


# --- the whole network ---------------------------------------------------------------------------------------


def encoder_alone(encoder: PromptedViT, x: torch.Tensor) -> torch.Tensor:
    """The frozen encoder with its prompts, no fusion: the reference of zero-gate equivalence."""
    tokens = encoder.embed(x)
    for block, layer in enumerate(encoder.blocks):
        tokens = encoder.update_prompts(block, layer(tokens))
    return encoder.cls_features(tokens)


@pytest.mark.parametrize("switches", [{}, {k: v for k, v in CODE.items() if k != "img_size"}, {"fusion": "mult"},
                                      {"temporal": "mtt+ita"}])
def test_at_init_the_model_equals_its_frozen_encoders(switches: dict) -> None:
    cfg = dataclasses.replace(TINY_CFG, **switches)
    torch.manual_seed(1)
    net = MMADFERNet(cfg, ("video", "audio"), 4).eval()
    video, audio = inputs(cfg)
    with torch.no_grad():
        v_cls, a_cls = net.features(video, audio)
        ref_v = encoder_alone(net.image_encoder, video.flatten(0, 1)).unflatten(0, (2, cfg.num_frames))
        ref_a = encoder_alone(net.audio_model, audio.unsqueeze(1))
        assert torch.equal(v_cls, ref_v) and torch.equal(a_cls, ref_a)
        unfused = MMADFERNet(dataclasses.replace(cfg, fusion="none", temporal="mtt"), ("video", "audio"), 4).eval()
        unfused.load_state_dict(net.state_dict(), strict=False)  # same encoders, MTT and head; no fusion
        assert torch.allclose(net(video, audio), unfused(video, audio), atol=1e-6)
        for parameter in net.parameters():
            if parameter.shape == (1,):  # the gates
                parameter.fill_(0.5)
        moved_v, moved_a = net.features(video, audio)
    assert not torch.allclose(moved_v, ref_v) and not torch.allclose(moved_a, ref_a)


def test_without_prompts_the_encoders_are_timms_own_vit() -> None:
    cfg = dataclasses.replace(TINY_CFG, num_prompts=0, prompt_updates=0)
    net = MMADFERNet(cfg, ("video", "audio"), 4).eval()
    video, audio = inputs(cfg)
    plain = VisionTransformer(img_size=(cfg.audio_frames, cfg.audio_mel_bins), in_chans=1, patch_size=16,
                              embed_dim=64, depth=4, num_heads=2, num_classes=0).eval()
    plain.load_state_dict(net.audio_model.state_dict())
    with torch.no_grad():
        v_cls, a_cls = net.features(video, audio)
        timm_v = VisionTransformer.forward_features(net.image_encoder, video.flatten(0, 1))[:, 0]
        assert torch.allclose(v_cls.flatten(0, 1), timm_v, atol=1e-6)
        assert torch.allclose(a_cls, plain.forward_features(audio.unsqueeze(1))[:, 0], atol=1e-6)


@pytest.mark.parametrize(("size", "millions"), [(112, 7.52), (160, 7.56), (224, 7.63)])
def test_full_size_trainable_count_is_the_papers_7_5m(size: int, millions: float) -> None:
    with torch.device("meta"):  # the full ViT-B pair, shapes only: instant
        net = MMADFERNet(MMADFERConfig(img_size=size), ("video", "audio"), 7)
        official = MMADFERNet(MMADFERConfig(**{**CODE, "img_size": size}), ("video", "audio"), 7)
    count = sum(p.numel() for p in net.parameters() if p.requires_grad)
    assert round(count / 1e6, 2) == millions
    assert sum(p.numel() for p in official.parameters() if p.requires_grad) == count + 23  # 24 gates, not 1
    # the official model, counted: fusion 4.75M, MTT 2.11M, vision_proj 0.39M; each encoder a ViT-B/16 (~85.8M, frozen)
    parts = {key: sum(p.numel() for n, p in net.named_parameters() if n.startswith(key))
             for key in ("fusion", "temporal_net", "vision_proj", "image_encoder.blocks")}
    assert (round(parts["fusion"] / 1e6, 2), round(parts["temporal_net"] / 1e6, 2),
            round(parts["vision_proj"] / 1e6, 2)) == (4.75, 2.11, 0.39)
    assert parts["image_encoder.blocks"] == 12 * (4 * 768 * 768 + 4 * 768 + 2 * 4 * 768 * 768 + 5 * 768 + 4 * 768)


def test_ablation_parameter_counts_match_tables_2_and_6() -> None:
    def trainable(**switches: object) -> dict[str, float]:
        with torch.device("meta"):
            net = MMADFERNet(MMADFERConfig(**switches), ("video", "audio"), 7)
        total = sum(p.numel() for p in net.parameters() if p.requires_grad)
        temporal = sum(p.numel() for n, p in net.named_parameters() if "adapter" in n or "temporal_net" in n)
        return {"total": round(total / 1e6, 1), "temporal": round(temporal / 1e6, 1)}

    assert trainable(bottleneck_dim=256)["total"] == 12.3 and trainable(bottleneck_dim=512)["total"] == 21.7
    assert trainable(temporal="ita", ita_dim=128)["temporal"] == 0.8  # Table 2: ITA d=128, 0.8M
    assert trainable(temporal="mtt+ita", ita_dim=128)["temporal"] == 2.9  # MTM + ITA-128, 2.9M


@pytest.mark.parametrize("switches", [
    {"fusion": "none"}, {"fusion": "add"}, {"fusion": "mult"}, {"fusion": "mult_concat"},
    {"temporal": "none"}, {"temporal": "ita"}, {"temporal": "mtt+ita", "ita_dim": 32},
    {"num_prompts": 0, "prompt_updates": 0}, {"prompt_updates": 0}, {"num_prompts": 12, "prompt_updates": 4},
    {"bottleneck_dim": 8}, {"fusion_tokens": "all"},
])
def test_every_ablation_builds_trains_and_predicts(switches: dict) -> None:
    cfg = dataclasses.replace(TINY_CFG, **switches)
    net = MMADFERNet(cfg, ("video", "audio"), 4)
    video, audio = inputs(cfg)
    logits = net(video, audio)
    assert logits.shape == (2, 4)
    logits.sum().backward()
    assert net.our_classifier.weight.grad is not None
    assert all(p.grad is None for p in net.image_encoder.backbone_parameters())


def test_unimodal_variants() -> None:
    video, audio = inputs(TINY_CFG)
    probe = MMADFERNet(TINY_CFG, ("video",), 4).eval()  # Table 5: the branch frozen, only a classifier trains
    assert probe.audio_model is None and not len(probe.fusion) and probe.image_encoder.num_prompts == 0
    trained = {n for n, p in probe.named_parameters() if p.requires_grad}
    assert trained == {"our_classifier.weight", "our_classifier.bias"}
    encoder = probe.image_encoder
    with torch.no_grad():
        cls = encoder.cls_features(encoder.blocks(encoder.embed(video.flatten(0, 1))))
        want = probe.our_classifier(cls.unflatten(0, (2, TINY_CFG.num_frames)).mean(dim=1))
        assert torch.allclose(probe(video, None), want, atol=1e-6)
    audio_probe = MMADFERNet(TINY_CFG, ("audio",), 4)
    assert audio_probe(None, audio).shape == (2, 4)
    adapted = MMADFERNet(dataclasses.replace(TINY_CFG, unimodal="adapted"), ("audio",), 4)
    assert adapted.temporal_net is None and adapted.audio_model.num_prompts == 6
    assert adapted(None, audio).shape == (2, 4)
    video_adapted = MMADFERNet(dataclasses.replace(TINY_CFG, unimodal="adapted"), ("video",), 4)
    assert video_adapted.temporal_net is not None and video_adapted(video, None).shape == (2, 4)
