"""ConCluGen (CVPRW 2024): losses against hand-computed cases, k-means, variants, strict weights."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from bench.api import TaskSpec
from bench.data.prepare import to_model_input
from bench.errors import ConfigError, DataError
from bench_methods.conclugen import ConCluGen, backbones, class_weights, kmeans, losses
from bench_methods.conclugen.config import VARIANTS, ConCluGenConfig
from bench_methods.conclugen.module import ConCluGenModule

D = 0.001
EYE = torch.eye(2)


def test_mms_pair_code_form_is_margin_cross_entropy_both_ways():
    # S = I: each row is [1, 0]; the code takes δ off the positive logit before the softmax
    expected = 2 * -math.log(math.exp(1 - D) / (math.exp(1 - D) + 1))
    assert losses.mms_pair(EYE, EYE, D, "code").item() == pytest.approx(expected, rel=1e-6)


def test_mms_pair_paper_form_subtracts_margin_from_the_numerator_only():
    expected = 2 * -math.log((math.e - D) / (math.e + 1))
    assert losses.mms_pair(EYE, EYE, D, "paper").item() == pytest.approx(expected, rel=1e-6)


def test_mms_temperature_divides_the_similarities():
    expected = 2 * -math.log(math.exp(2 - D) / (math.exp(2 - D) + 1))
    assert losses.mms_pair(EYE, EYE, D, "code", temperature=0.5).item() == pytest.approx(expected, rel=1e-6)


def test_mms_loss_sums_the_cyclic_pairs_of_three_modalities():
    other = torch.tensor([[0.0, 1.0], [1.0, 0.0]])
    p = {"video": EYE, "audio": EYE, "text": other}
    pairs = [("video", "audio"), ("audio", "text"), ("text", "video")]
    expected = sum(losses.mms_pair(p[a], p[b], D, "code").item() for a, b in pairs)
    assert losses.mms_loss(p, ("video", "audio", "text"), D, "code").item() == pytest.approx(expected)
    two = losses.mms_loss(p, ("video", "audio"), D, "code").item()
    assert two == pytest.approx(losses.mms_pair(EYE, EYE, D, "code").item())


def test_clustering_loss_eq10_both_forms():
    fused, centroids, assignment = torch.tensor([[1.0, 0.0]]), EYE, torch.tensor([0])
    paper = math.log(math.e + 1) - (1 - D)          # δ only in the numerator's exponent
    code = math.log(math.exp(1 - D) + 1) - (1 - D)  # δ off the assigned logit everywhere
    assert losses.clustering_loss(fused, centroids, assignment, D, "paper").item() == pytest.approx(paper, rel=1e-6)
    assert losses.clustering_loss(fused, centroids, assignment, D, "code").item() == pytest.approx(code, rel=1e-6)


def test_reconstruction_loss_sums_per_modality_mean_squared_errors():
    targets = {"video": torch.tensor([[1.0, 2.0]]), "text": torch.tensor([[1.0]])}
    outputs = {"video": torch.zeros(1, 2), "text": torch.tensor([[3.0]])}
    assert losses.reconstruction_loss(targets, outputs).item() == pytest.approx((1 + 4) / 2 + 4)


def test_info_nce_eq1_hand_case():
    # two clips, orthogonal; each view's positive has cosine 1, its two negatives cosine 0
    expected = -math.log(math.e / (math.e + 2))
    assert losses.info_nce(EYE, EYE, 1.0).item() == pytest.approx(expected, rel=1e-6)
    cooler = -math.log(math.exp(10) / (math.exp(10) + 2))
    assert losses.info_nce(EYE, EYE, 0.1).item() == pytest.approx(cooler, abs=1e-7)


def test_combine_sum_is_eq11_and_mean_divides_by_active_terms():
    terms = {"mms": torch.tensor(2.0), "rec": torch.tensor(4.0)}
    weights = {"mms": 1.0, "rec": 0.5}
    assert losses.combine(terms, weights, "sum").item() == 4.0
    assert losses.combine(terms, weights, "mean").item() == 2.0


def test_kmeans_separates_two_blobs_and_assign_hand_cases():
    x = torch.tensor([[0.0, 0.0], [0.1, 0.0], [5.0, 5.0], [5.1, 5.0]])
    centroids, labels = kmeans.kmeans(x, 2, "euclidean", 20, torch.Generator().manual_seed(3))
    assert labels[0] == labels[1] != labels[2] == labels[3]
    assert torch.allclose(centroids[labels[0]], torch.tensor([0.05, 0.0]))
    c = torch.tensor([[1.0, 0.0], [10.0, 10.0]])
    point = torch.tensor([[2.0, 1.9]])
    assert kmeans.assign(point, c, "euclidean").item() == 0  # nearer to (1, 0)
    assert kmeans.assign(point, c, "cosine").item() == 1     # same direction as (10, 10)


def test_kmeans_is_seeded():
    x = torch.randn(50, 3, generator=torch.Generator().manual_seed(0))
    a = kmeans.kmeans(x, 4, "cosine", 10, torch.Generator().manual_seed(7))
    b = kmeans.kmeans(x, 4, "cosine", 10, torch.Generator().manual_seed(7))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])


PAPER_LOSSES = {
    "conclugen": {"mms", "clu", "rec"}, "conclu": {"mms", "clu"}, "congen": {"mms", "rec"}, "multi_cont": {"mms"},
    "instance_cont": {"nce"}, "generative": {"rec"}, "conclugen_vision": {"mms", "clu", "rec"},
    "multi_cont_wo_text": {"mms"}, "multi_cont_wo_audio": {"mms"}, "supervised": set(),
}


def _batch(n: int = 8, views: int = 1) -> tuple[dict[str, torch.Tensor], dict[str, tuple[int, ...]]]:
    rng = np.random.default_rng(0)
    video = rng.normal(size=(n, views, 6)).astype(np.float32)  # conclugen_video_features' [views, D] rows
    batch = {"video": to_model_input("video", video), "audio": torch.randn(n, 5), "text": torch.randn(n, 4)}
    return batch, {m: tuple(t.shape[1:]) for m, t in batch.items()}


def test_video_features_reach_the_model_unchanged():
    features = np.array([[[0.5, -2.0, 300.0]]], np.float32)
    assert torch.equal(to_model_input("video", features), torch.from_numpy(features))


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_variants_switch_on_exactly_their_losses(variant):
    assert set(VARIANTS[variant].losses) == PAPER_LOSSES[variant]
    if variant == "supervised":
        return
    views = 3 if variant == "instance_cont" else 1
    batch, shapes = _batch(views=views)
    cfg = ConCluGenConfig(variant=variant, representation_dim=8, projection_dim=4, num_clusters=2,
                          reconstruction_dim=4, kmeans_iters=3, instance_views=2)
    task = TaskSpec("classification", ("a", "b"))
    module = ConCluGenModule(task, cfg, shapes, {})
    module.start_stage("pretrain")
    terms = module.pretraining_terms(batch)
    assert set(terms) == PAPER_LOSSES[variant]
    loss = losses.combine(terms, {"mms": 1, "clu": 1, "rec": 1, "nce": 1}, "sum")
    loss.backward()
    assert module.classifier.linear.weight.grad is None  # the classifier is not pretrained
    wanted = {"multi_cont_wo_text": ("video", "audio"), "multi_cont_wo_audio": ("video", "text"),
              "instance_cont": ("video",)}.get(variant, ("video", "audio", "text"))
    assert module.order == wanted
    assert module.eval_order == (("video",) if variant == "conclugen_vision" else wanted)


def test_linear_eval_freezes_representation_heads_and_finetune_does_not():
    batch, shapes = _batch()
    module = ConCluGenModule(TaskSpec("classification", ("a", "b")), ConCluGenConfig(representation_dim=8), shapes, {})
    module.start_stage("linear_eval")
    assert not any(p.requires_grad for p in module.representation.parameters())
    assert all(p.requires_grad for p in module.classifier.parameters())
    assert module.classifier.linear.in_features == 8 * 3
    module.start_stage("finetune")
    assert all(p.requires_grad for p in module.representation.parameters())


def test_multimodal_variant_with_one_modality_is_a_config_error():
    batch, shapes = _batch()
    with pytest.raises(ConfigError, match="at least two"):
        ConCluGenModule(TaskSpec("classification", ("a", "b")), ConCluGenConfig(variant="multi_cont"),
                        {"text": shapes["text"]}, {})


def test_stages_pretrain_then_regime_and_supervised_baseline():
    method, cfg = ConCluGen(), ConCluGenConfig()
    stages = method.stages(cfg, "linear_eval", True)
    assert [(s.name, s.labels) for s in stages] == [("pretrain", False), ("linear_eval", True)]
    sup = method.stages(ConCluGenConfig(variant="supervised"), "linear_eval", True)
    assert [(s.name, s.labels) for s in sup] == [("supervised", True)]


def test_official_class_weights_by_label_name():
    meld = TaskSpec("classification", ("neutral", "joy", "sadness", "anger", "surprise", "fear", "disgust"))
    assert class_weights.official_weights(meld, np.zeros(1)) == (4.0, 1.0, 3.0, 3.0, 15.0, 15.0, 6.0)
    caer = TaskSpec("classification", class_weights.CAER)
    got = class_weights.official_weights(caer, np.array([0, 0, 1, 6]))
    assert got == (0.5, 0.25, 0.0, 0.0, 0.0, 0.0, 0.25)
    mosei = TaskSpec("multilabel", ("happy", "sad", "anger", "surprise", "disgust", "fear"))
    assert class_weights.official_weights(mosei, np.zeros((1, 6)))[3] == 19.48985


def test_weights_load_strictly_and_name_the_bad_keys(tmp_path):
    net = backbones.DavEnet(2, 128)
    good = tmp_path / "davenet.pt"
    torch.save(net.state_dict(), good)
    other = backbones.DavEnet(2, 128)
    backbones.load_strict(other, str(good), "DAVEnet")
    assert all(torch.equal(a, b) for a, b in zip(net.state_dict().values(), other.state_dict().values()))
    bad = tmp_path / "bad.pt"
    state = dict(net.state_dict())
    state["extra.weight"] = torch.zeros(1)
    del state["conv1.weight"]
    torch.save(state, bad)
    with pytest.raises(DataError, match=r"bad\.pt.*missing keys: conv1\.weight.*unexpected keys: extra\.weight"):
        backbones.load_strict(backbones.DavEnet(2, 128), str(bad), "DAVEnet")
    with pytest.raises(DataError, match="not found"):
        backbones.weights_sha256(str(tmp_path / "absent.pt"), "DAVEnet")
    assert backbones.weights_sha256(None, "DAVEnet") == "random-init"


def test_davenet_first_conv_quirk_shapes():
    mel = torch.rand(1, 1, 128, 64)
    assert backbones.DavEnet(2, 128).eval()(mel).shape == (1, 16)
    quirk = backbones.DavEnet(2, 40).eval()
    assert quirk.conv1(mel).shape[2] == 89  # the 40-bin conv slides along the 128 mel bins


def test_code_lr_schedule_hand_values():
    from bench_methods.conclugen import schedules

    pre, down = schedules.PRETRAIN, schedules.DOWNSTREAM
    assert pre.lr(1.0, 0) == pytest.approx(0.1)                   # warm-up starts at 0.1 · lr
    assert pre.lr(1.0, 4) == pytest.approx(0.1 + 0.9 * 4 / 5)
    assert pre.lr(1.0, 5) == pytest.approx(1.0)                   # cycle 0 (20 epochs) at its peak
    assert pre.lr(1.0, 15) == pytest.approx(1e-6 + (1 - 1e-6) / 2)
    assert pre.lr(1.0, 25) == pytest.approx(0.75)                 # first restart: peak × γ
    assert pre.lr(1.0, 45) == pytest.approx(1e-6 + (0.75 - 1e-6) / 2)   # mid of the 40-epoch cycle
    assert pre.lr(1.0, 65) == pytest.approx(0.75 ** 2)
    assert down.lr(2.0, 25) == pytest.approx(2.0)                 # no decay downstream
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=2.0)
    scheduler = down.scheduler(optimizer)
    seen = []
    for _ in range(7):
        seen.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    assert seen == pytest.approx([down.lr(2.0, e) for e in range(7)])


def test_module_uses_the_schedule_switch():
    batch, shapes = _batch()
    task = TaskSpec("classification", ("a", "b"))
    module = ConCluGenModule(task, ConCluGenConfig(representation_dim=8), shapes, {})
    module.start_stage("pretrain")
    configured = module.configure_optimizers()
    assert configured["lr_scheduler"]["interval"] == "epoch"
    constant = ConCluGenModule(task, ConCluGenConfig(representation_dim=8, lr_schedule="constant"), shapes, {})
    constant.start_stage("linear_eval")
    assert isinstance(constant.configure_optimizers(), torch.optim.AdamW)


@pytest.mark.parametrize("arch, width, blocks", [("r3d_18", 512, 8), ("r3d_34", 512, 16), ("r3d_50", 2048, 16),
                                                 ("r3d_101", 2048, 33)])
def test_resnet3d_depths(arch, width, blocks):
    import torchvision

    net = backbones.r3d(arch)
    assert net.fc.in_features == width
    assert sum(len(getattr(net, f"layer{i}")) for i in range(1, 5)) == blocks  # 3D ResNet-(2·or 3·blocks + 2)
    if arch == "r3d_18":  # exactly torchvision's r3d_18, so its state_dicts load strictly
        assert list(net.state_dict()) == list(torchvision.models.video.r3d_18().state_dict())
    with pytest.raises(ValueError, match="unknown 3D ResNet"):
        backbones.r3d("r3d_7")


def _pretorched_layout(blocks: tuple[int, ...], generator: torch.Generator) -> dict[str, torch.Tensor]:
    """A state_dict named as pretorched's ``ResNet3D(Bottleneck, blocks)`` after ``modify_resnets``
    names it (conv1/bn1 stem, layerI.J.convK / bnK, layerI.0.downsample.{0,1}, last_linear),
    with random values; shapes from the bottleneck widths 64·2^i and expansion 4."""
    def bn(prefix: str, width: int) -> dict[str, torch.Tensor]:
        return {f"{prefix}.weight": torch.rand(width, generator=generator), f"{prefix}.bias": torch.rand(width, generator=generator),
                f"{prefix}.running_mean": torch.rand(width, generator=generator),
                f"{prefix}.running_var": torch.rand(width, generator=generator) + 0.5,
                f"{prefix}.num_batches_tracked": torch.tensor(7)}
    state = {"conv1.weight": torch.randn(64, 3, 7, 7, 7, generator=generator), **bn("bn1", 64)}
    inplanes = 64
    for i, count in enumerate(blocks, 1):
        planes = 64 * 2 ** (i - 1)
        for j in range(count):
            p = f"layer{i}.{j}"
            state[f"{p}.conv1.weight"] = torch.randn(planes, inplanes, 1, 1, 1, generator=generator)
            state[f"{p}.conv2.weight"] = torch.randn(planes, planes, 3, 3, 3, generator=generator)
            state[f"{p}.conv3.weight"] = torch.randn(planes * 4, planes, 1, 1, 1, generator=generator)
            state.update({**bn(f"{p}.bn1", planes), **bn(f"{p}.bn2", planes), **bn(f"{p}.bn3", planes * 4)})
            if j == 0:
                state[f"{p}.downsample.0.weight"] = torch.randn(planes * 4, inplanes, 1, 1, 1, generator=generator)
                state.update(bn(f"{p}.downsample.1", planes * 4))
            inplanes = planes * 4
    state["last_linear.weight"] = torch.randn(400, 2048, generator=generator)
    state["last_linear.bias"] = torch.randn(400, generator=generator)
    return state


def test_a_pretorched_resnet3d_checkpoint_loads_strictly_into_the_pretorched_stem(tmp_path):
    """The code's 3D backbone is pretorched's resnet3d101; its checkpoints load as shipped (here the
    50-layer one of the same family, to stay small). The renaming was checked once against
    pretorched's own ResNet3D-101: identical logits on a random clip (max |Δ| 0.0)."""
    state = _pretorched_layout((3, 4, 6, 3), torch.Generator().manual_seed(0))
    path = tmp_path / "resnet3d50_kinetics.pth"
    torch.save(state, path)
    net, dim = backbones.build_video_3d("r3d_50", str(path), tiny_dim=8, stem="pretorched")
    assert dim == 2048
    loaded = net.state_dict()
    assert torch.equal(loaded["stem.0.weight"], state["conv1.weight"])
    assert torch.equal(loaded["layer3.5.conv2.0.weight"], state["layer3.5.conv2.weight"])
    assert torch.equal(loaded["layer2.0.conv3.1.running_var"], state["layer2.0.bn3.running_var"])
    assert net(torch.rand(1, 3, 16, 32, 32)).shape == (1, 2048)
    with pytest.raises(DataError, match=r"\(torchvision stem\) weights do not match the network: missing keys: "
                                        r"fc\.bias, fc\.weight, layer1\.0\.conv1\.0\.weight.*unexpected keys: bn1\.bias"):
        backbones.build_video_3d("r3d_50", str(path), tiny_dim=8, stem="torchvision")


def test_one_modality_for_a_multimodal_variant_fails_before_extraction():
    with pytest.raises(ConfigError, match=r"this run has text\. Add a modality .*generative"):
        ConCluGen().inputs(ConCluGenConfig(variant="multi_cont"), ["text"])
    assert set(ConCluGen().inputs(ConCluGenConfig(variant="generative"), ["text"])) == {"text"}


def test_kmeans_queue_thinning_keeps_the_first_rows_of_each_run() -> None:
    """kmeans_queue_reduction_factor 2 at batch 256: runs of 256 // 128 = 2 rows, the first of each
    kept (code L557-566), i.e. rows 0, 2, 4, ...; factor 0 keeps the batch as it is."""
    from bench_methods.conclugen.module import thin_for_queue

    fused = torch.arange(256 * 2, dtype=torch.float32).reshape(256, 2)
    kept = thin_for_queue(fused, 256, 2)
    assert kept.shape == (128, 2)
    assert torch.equal(kept, fused[0::2])
    assert torch.equal(thin_for_queue(fused, 256, 0), fused)
    four = thin_for_queue(torch.arange(512 * 1, dtype=torch.float32).reshape(512, 1), 512, 2)
    assert four[:4, 0].tolist() == [0.0, 1.0, 4.0, 5.0]  # runs of 4 rows, the first 2 of each
    short = thin_for_queue(fused[:5], 256, 2)  # a short last batch: its two complete runs
    assert torch.equal(short, fused[[0, 2]])


def test_kmeans_queue_thinning_needs_a_large_enough_batch() -> None:
    from bench import config as config_mod

    with pytest.raises(ConfigError, match="needs pretrain_batch_size >= 128 x the factor"):
        config_mod.resolve(ConCluGen.Config, ConCluGen.presets, "paper",
                           {"kmeans_queue_reduction_factor": 2, "pretrain_batch_size": 200}, "conclugen")


def test_conclugen_mosei_protocols_select_on_the_reported_metric() -> None:
    """ConCluGen reports support-weighted multilabel accuracy on CMU-MOSEI; its own protocols pick
    the checkpoint on it, while mosei_official (shared with MPUC) keeps Tong et al.'s w-ACC."""
    from bench import protocols

    for name in ("mosei_linear_vox2", "mosei_finetune_vox2"):
        assert protocols.load(name).selection.metric == "ml_weighted_accuracy", name
    assert protocols.load("mosei_official").selection.metric == "mosei_wacc"
