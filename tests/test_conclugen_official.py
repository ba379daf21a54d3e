"""ConCluGen against figures produced once by the official code (tests/golden_official/conclugen/).

Each fixture names the official commit, what was run and how its inputs and weights were drawn;
the official code itself is not in this repository. The tests draw the same weights by the
fixture's rule under the official state_dict names, load them through bench's own loaders,
run the ``code`` preset and compare (tolerance 1e-5, relative to the magnitude for the deep 3D
ResNet), and check that the ``paper`` preset differs where the two readings differ.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import re
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch

from bench.api import TaskSpec
from bench.errors import DataError
from bench_methods.conclugen import backbones, kmeans, losses, schedules
from bench_methods.conclugen.config import CODE, ConCluGenConfig
from bench_methods.conclugen.module import ConCluGenModule

FIXTURES = Path(__file__).parent / "golden_official" / "conclugen"
TOL = 1e-5


def _npz(name: str) -> tuple[dict, dict[str, np.ndarray]]:
    data = np.load(FIXTURES / name)
    return json.loads(str(data["meta"])), {k: data[k] for k in data.files if k != "meta"}


def draw(name: str, shape: tuple[int, ...], seed: int) -> torch.Tensor:
    """The fixtures' weight rule (their ``weights_rule``), regenerated here."""
    g = torch.Generator().manual_seed((seed << 32) + zlib.crc32(name.encode()))
    if name.endswith("num_batches_tracked"):
        return torch.zeros((), dtype=torch.long)
    x = torch.randn(shape, generator=g, dtype=torch.float64)
    if name.endswith("running_var"):
        return (0.5 + torch.rand(shape, generator=g, dtype=torch.float64)).float()
    if len(shape) >= 2:
        return (x / math.sqrt(math.prod(shape[1:]))).float()
    return ((1 + 0.1 * x) if name.endswith("weight") else 0.1 * x).float()


def _input(seed: int, shape: tuple[int, ...], kind: str) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(shape, generator=g) if kind == "randn" else torch.rand(shape, generator=g)


def test_fixtures_name_the_official_commit_and_their_rule():
    for path in sorted(FIXTURES.iterdir()):
        meta = (_npz(path.name)[0] if path.suffix == ".npz" else json.loads(path.read_text())["meta"])
        assert meta["commit"] == "dab52231d9fbd1ee7a17579ffafda6f7884c6534", path.name
        assert "torch.Generator().manual_seed((SEED << 32) + zlib.crc32" in meta["weights_rule"], path.name


# ------------------------------------------------------------------ DAVEnet as shipped
def test_official_davenet_checkpoint_loads_as_shipped_and_gives_the_official_features(tmp_path):
    layout = json.loads((FIXTURES / "davenet_layout.json").read_text())
    meta, arrays = _npz("davenet.npz")
    assert layout["meta"]["count"] == len(layout["keys"]) == 131
    state = {k: draw(k, tuple(shape), meta["seed"]) for k, shape in layout["keys"]}
    file = tmp_path / "best_audio_model.pth"
    torch.save(state, file)
    net, dim = backbones.build_audio(128, 40, str(file), "code")
    assert dim == 1024 and list(net.state_dict()) == [k for k, _ in layout["keys"]]
    mel = _input(meta["input_seed"], tuple(meta["input_shape"]), meta["input_kind"])
    with torch.no_grad():
        feature = net(mel[:, None])[0].numpy()
    assert np.abs(feature - arrays["feature"]).max() <= TOL
    # the paper-side reading (bench layout, a 128-bin first conv) cannot take the checkpoint
    with pytest.raises(DataError, match="batchnorm1"):
        backbones.build_audio(128, 128, str(file), "bench")
    with pytest.raises(DataError, match="shape mismatches: conv1.weight"):
        backbones.build_audio(128, 128, str(file), "code")


# ------------------------------------------------------------------ 3D ResNet-101
def _pretorched_name(key: str) -> str:
    """bench's r3d (pretorched stem) key → pretorched ResNet3D's, independent of bench's converter."""
    key = re.sub(r"^stem\.0\.", "conv1.", key)
    key = re.sub(r"^stem\.1\.", "bn1.", key)
    key = re.sub(r"^fc\.", "last_linear.", key)
    return re.sub(r"^(layer\d+\.\d+)\.conv([123])\.([01])\.", lambda m: f"{m[1]}.{'conv' if m[3] == '0' else 'bn'}{m[2]}.",
                  key)


@pytest.mark.slow
def test_r3d101_with_pretorched_stem_matches_the_official_resnet3d101(tmp_path):
    meta, arrays = _npz("r3d101.npz")
    with torch.device("meta"):  # names and shapes only
        own = backbones.r3d("r3d_101", "pretorched").state_dict()
    names = {_pretorched_name(k): tuple(v.shape) for k, v in own.items()}
    listing = "\n".join(f"{k}:{list(s)}" for k, s in sorted(names.items()))
    assert len(names) == meta["count"] and hashlib.sha256(listing.encode()).hexdigest() == meta["layout_sha256"]
    file = tmp_path / "resnet3d101.pth"
    torch.save({k: draw(k, s, meta["seed"]) for k, s in names.items()}, file)
    net, dim = backbones.build_video_3d("r3d_101", str(file), 32, "pretorched")
    with torch.no_grad():
        feature = net(_input(meta["input_seed"], tuple(meta["input_shape"]), "randn")).numpy()
    assert dim == 2048
    reference = arrays["feature"]
    assert np.abs(feature - reference).max() <= TOL * max(1.0, float(np.abs(reference).max()))
    with pytest.raises(DataError, match="stem"):  # torchvision's stem cannot take pretorched's checkpoint
        backbones.build_video_3d("r3d_101", str(file), 32, "torchvision")


# ------------------------------------------------------------------ heads and losses
def _module(meta: dict, preset: dict, tmp_path: Path, state: dict, **extra) -> ConCluGenModule:
    file = tmp_path / "official.ckpt"
    torch.save({"state_dict": state}, file)
    dims = meta["dims"]
    cfg = ConCluGenConfig(**{**preset, "representation_dim": meta["representation_dim"],
                             "projection_dim": meta["projection_dim"], "num_clusters": meta["num_clusters"],
                             "reconstruction_dim": meta["reconstruction_dim"], "official_checkpoint": str(file), **extra})
    shapes = ({"video": (3 + cfg.training_copies, dims["video_3d_simclr"])} if cfg.variant == "instance_cont"
              else {"video": (1, dims["video"]), "audio": (dims["audio"],), "text": (dims["text"],)})
    module = ConCluGenModule(TaskSpec("classification", tuple("abcdefg")), cfg, shapes, {})
    module.start_stage("pretrain")
    return module.train()


def _official_state(module: ConCluGenModule, keys: list[str], seed: int, prefix: str = "") -> dict[str, torch.Tensor]:
    """Tensors drawn under the official names, shaped as the official model's (= bench's after renaming)."""
    from bench_methods.conclugen import official

    own = module.state_dict()
    return {k: draw(prefix + k, tuple(own[official.to_bench({k: torch.zeros(())})
                                          .popitem()[0]].shape), seed) for k in keys}


def test_heads_and_the_loss_terms_match_the_official_model(tmp_path):
    meta, arrays = _npz("heads_losses.npz")
    batch = {"video": _input(201, (8, 48), "rand")[:, None], "audio": _input(202, (8, 40), "rand"),
             "text": _input(203, (8, 24), "randn")}
    names = list(arrays["loss_names"])
    ref = dict(zip(names, arrays["losses"]))
    shaper = _module(meta, CODE, tmp_path, {})
    state = _official_state(shaper, meta["state_keys"], meta["seed"])
    order = {"video": "frames_2d_3d", "audio": "audio_spectrograms", "text": "texts"}
    for mode in ("joint", "individual"):
        module = _module(meta, CODE, tmp_path, state, kmeans_loss_mode=mode,
                         weight_mms=meta["loss_weights"][0], weight_clu=meta["loss_weights"][1],
                         weight_rec=meta["loss_weights"][2])
        feats = module.features(batch)
        reps = {m: module.representation[m](feats[m]) for m in module.order}
        proj = {m: module.projection(m, reps[m]) for m in module.order}
        for m, official_name in order.items():
            assert np.abs(reps[m].detach().numpy() - arrays[f"rep_{official_name}"]).max() <= TOL
            normed = torch.nn.functional.normalize(proj[m], dim=1).detach().numpy()
            assert np.abs(normed - arrays[f"proj_{official_name}"]).max() <= TOL
            assert np.abs(module.cluster_head(proj[m]).detach().numpy() - arrays[f"cluster_{official_name}"]).max() <= TOL
            assert np.abs(module.reconstruction[m](reps[m]).detach().numpy() - arrays[f"rec_{official_name}"]).max() <= TOL
        module.classifier.eval()
        logits = module.classifier(reps, module.eval_order).detach().numpy()
        assert np.abs(logits - arrays["logits"]).max() <= TOL
        terms = module.pretraining_terms(batch)
        assert abs(terms["mms"].item() - ref["mms"]) <= TOL
        assert abs(terms["rec"].item() - ref["rec"]) <= TOL
        assert abs(terms["clu"].item() - ref["clu_joint" if mode == "joint" else "clu_individual"]) <= TOL
        assert np.array_equal(module._cluster(torch.stack([module.cluster_head(proj[m]) for m in module.order])
                                              .mean(0).detach())[1].numpy(), arrays["labels"])
        if mode == "joint":
            total = losses.combine(terms, {"mms": module.cfg.weight_mms, "clu": module.cfg.weight_clu,
                                           "rec": module.cfg.weight_rec}, module.cfg.loss_combination)
            assert abs(total.item() - ref["total"]) <= TOL
    # the paper's reading: per-modality heads (the checkpoint has no place for them) and the printed margins
    with pytest.raises(DataError, match="projection.shared"):
        _module(meta, {}, tmp_path, state)
    p = {m: torch.from_numpy(arrays[f"proj_{order[m]}"]) for m in order}
    paper_mms = losses.mms_loss(p, ("video", "audio", "text"), 0.001, "paper").item()
    assert abs(paper_mms - ref["mms"]) > 1e-4
    fused = torch.from_numpy(np.mean([arrays[f"cluster_{order[m]}"] for m in order], axis=0))
    centroids, labels = torch.from_numpy(arrays["centroids"]), torch.from_numpy(arrays["labels"])
    assert abs(losses.clustering_loss(fused, centroids, labels, 0.001, "code").item() - ref["clu_joint"]) <= TOL
    assert abs(losses.clustering_loss(fused, centroids, labels, 0.001, "paper").item() - ref["clu_joint"]) > 1e-4


def test_instance_cont_matches_the_official_simclr_on_3d_frames(tmp_path):
    meta, arrays = _npz("heads_losses.npz")
    ref = dict(zip(list(arrays["loss_names"]), arrays["losses"]))
    shaper = _module(meta, {**CODE, "variant": "instance_cont"}, tmp_path, {})
    state = _official_state(shaper, meta["simclr_state_keys"], meta["seed"], prefix="simclr.")
    module = _module(meta, {**CODE, "variant": "instance_cont"}, tmp_path, state)
    views = [_input(301, (8, 20), "rand"), _input(302, (8, 20), "rand")]
    copies = [torch.full((8, 20), 5.0)] * CODE["training_copies"]  # the rows after the views: never a view
    batch = {"video": torch.stack([torch.zeros(8, 20), *views, *copies], dim=1)}
    assert abs(module.pretraining_terms(batch)["nce"].item() - ref["nce"]) <= TOL
    for v, name in zip(views, ("simclr_proj_0", "simclr_proj_1")):
        z = torch.nn.functional.normalize(module.projection("video", module.representation["video"](v)), dim=1)
        assert np.abs(z.detach().numpy() - arrays[name]).max() <= TOL


def test_instance_cont_reads_3d_frames_only_in_the_code_preset():
    from bench_methods.conclugen import ConCluGen

    method = ConCluGen()
    code = method.inputs(ConCluGenConfig(**{**CODE, "variant": "instance_cont"}), ["video"])["video"]
    paper = method.inputs(ConCluGenConfig(variant="instance_cont"), ["video"])["video"]
    assert code.params["parts"] == "3d" and paper.params["parts"] == "2d_3d"
    other = method.inputs(ConCluGenConfig(**{**CODE, "variant": "conclugen"}), ["video", "audio"])["video"]
    assert other.params["parts"] == "2d_3d"  # every other variant keeps 2D + 3D


# ------------------------------------------------------------------ k-means and schedules
def test_kmeans_empty_cluster_becomes_the_zero_centroid_as_in_the_library():
    fixture = json.loads((FIXTURES / "kmeans_empty.json").read_text())
    x = _input(fixture["meta"]["input_seed"], (10, 3), "randn")
    gen = torch.Generator().manual_seed(fixture["meta"]["kmeans_seed"])
    centroids, labels = kmeans.kmeans(x, 5, "cosine", 100, gen, loop="fast_pytorch_kmeans", empty="zero")
    assert labels.tolist() == fixture["labels"]
    assert np.abs(centroids.numpy() - np.array(fixture["centroids"], np.float32)).max() <= TOL
    assert (centroids.abs().sum(dim=1) == 0).any()
    kept, _ = kmeans.kmeans(x, 5, "cosine", 100, torch.Generator().manual_seed(fixture["meta"]["kmeans_seed"]),
                            loop="fast_pytorch_kmeans", empty="keep")
    assert not (kept.abs().sum(dim=1) == 0).any()


def test_lr_schedules_match_the_official_sequential_lr():
    fixture = json.loads((FIXTURES / "lr_schedules.json").read_text())
    as_run = [schedules.PRETRAIN_AS_RUN.lr(2e-5, e) for e in range(100)]
    assert np.allclose(as_run, fixture["pretrain"], rtol=1e-9, atol=1e-12)
    down = [schedules.DOWNSTREAM.lr(0.00967, e) for e in range(100)]
    assert np.allclose(down, fixture["downstream"], rtol=1e-9, atol=1e-12)
    configured = [schedules.PRETRAIN.lr(2e-5, e) for e in range(100)]
    assert not np.allclose(configured[:5], fixture["pretrain"][:5])  # the 5-epoch ramp the code never runs


def test_code_preset_sets_every_switch_off_its_paper_default():
    defaults = ConCluGenConfig()
    for key, value in CODE.items():
        assert getattr(defaults, key) != value, key
    fields = {f.name for f in dataclasses.fields(ConCluGenConfig)}
    assert set(CODE) <= fields


def test_kmeans_loops_return_labels_of_different_centroids():
    """One iteration: the library's loop returns the labels it updated from (those of the initial
    rows); Lloyd's the labels of the updated centroids."""
    x = torch.tensor([[0.0, 0.0], [1.0, 0.0], [2.0, 0.0], [9.0, 0.0]])
    start = torch.randint(0, 4, (2,), generator=torch.Generator().manual_seed(6))
    init = x[start]
    library_c, library_l = kmeans.kmeans(x, 2, "euclidean", 1, torch.Generator().manual_seed(6), loop="fast_pytorch_kmeans")
    lloyd_c, lloyd_l = kmeans.kmeans(x, 2, "euclidean", 1, torch.Generator().manual_seed(6), loop="lloyd")
    assert torch.equal(library_l, kmeans.assign(x, init, "euclidean"))
    assert torch.equal(lloyd_l, kmeans.assign(x, lloyd_c, "euclidean"))
    assert torch.equal(library_c, lloyd_c)
    assert library_l.tolist() == [1, 1, 0, 0] and lloyd_l.tolist() == [1, 1, 1, 0]  # init rows (2, 0) and (1, 0)


def test_pretrain_warmup_switch_reaches_the_optimiser():
    task = TaskSpec("classification", ("a", "b"))
    shapes = {"video": (1, 6), "audio": (5,)}
    lrs = {}
    for warmup in ("configured", "last_epoch_10"):
        cfg = ConCluGenConfig(representation_dim=8, projection_dim=4, num_clusters=2, reconstruction_dim=4,
                              pretrain_warmup=warmup)
        module = ConCluGenModule(task, cfg, shapes, {})
        module.start_stage("pretrain")
        setup = module.configure_optimizers()
        optimiser, scheduler = setup["optimizer"], setup["lr_scheduler"]["scheduler"]
        seen = []
        for _ in range(3):
            seen.append(optimiser.param_groups[0]["lr"])
            optimiser.step()
            scheduler.step()
        lrs[warmup] = seen
    assert np.allclose(lrs["last_epoch_10"], [2e-6, 2e-5, schedules.PRETRAIN_AS_RUN.lr(2e-5, 2)])
    assert np.allclose(lrs["configured"], [2e-6, 5.6e-6, 9.2e-6])


# ------------------------------------------------------------------ downstream training copies
def test_spectrogram_masking_zeroes_one_band_per_axis():
    from bench_methods.conclugen.features import mask_spectrogram

    mel = np.ones((128, 100), np.float32)
    masked = mask_spectrogram(mel, 3)
    assert np.array_equal(masked, mask_spectrogram(mel, 3)) and mel.min() == 1.0  # seeded, input untouched
    rows = np.flatnonzero((masked == 0).all(axis=1))
    cols = np.flatnonzero((masked == 0).all(axis=0))
    for band, n in ((rows, 128), (cols, 100)):  # one contiguous band, narrower than 0.35 n
        assert len(band) < int(0.35 * n) and (len(band) == 0 or np.array_equal(band, np.arange(band[0], band[-1] + 1)))
    assert (masked == 0).sum() == len(rows) * 100 + len(cols) * 128 - len(rows) * len(cols)
    assert any((mask_spectrogram(mel, s) == 0).any() for s in range(5))


def test_word_swap_swaps_one_neighbouring_pair_half_of_the_time():
    from bench_methods.conclugen.features import swap_word

    text = "one two three four five"
    outputs = [swap_word(text, s) for s in range(400)]
    changed = [o for o in outputs if o != text]
    assert 150 < len(changed) < 250
    for out in changed:
        a, b = text.split(), out.split()
        diff = [i for i in range(5) if a[i] != b[i]]
        assert len(diff) == 2 and diff[1] == diff[0] + 1 and sorted(a) == sorted(b)
    assert swap_word("single", 0) == "single"


def test_training_copy_is_one_crop_and_flip_for_the_whole_clip():
    from bench_methods.conclugen.features import training_copy

    frames = torch.rand(4, 3, 24, 24)
    frames[1] = frames[0]
    out = training_copy(frames, 24, 7)
    assert out.shape == frames.shape and torch.equal(out, training_copy(frames, 24, 7))
    assert torch.equal(out[0], out[1]) and not torch.equal(out, frames)


def test_text_transform_stacks_the_clean_row_and_its_copies(tmp_path):
    from bench.api import TransformSpec
    from bench.data.transforms import get_transform

    file = tmp_path / "a.txt"
    file.write_text("I am really happy about this")
    plain = get_transform(TransformSpec("conclugen_text_features", {"dim": 16})).run(file).array
    rows = get_transform(TransformSpec("conclugen_text_features", {"dim": 16, "copies": 3})).run(file).array
    assert plain.shape == (16,) and rows.shape == (4, 16) and np.array_equal(rows[0], plain)


def test_downstream_training_draws_a_copy_and_evaluation_reads_the_clean_row():
    task = TaskSpec("classification", ("a", "b"))
    cfg = ConCluGenConfig(variant="generative", representation_dim=8, reconstruction_dim=4, training_copies=2)
    batch = {"audio": torch.stack([torch.zeros(64, 5), torch.ones(64, 5), 2 * torch.ones(64, 5)], dim=1),
             "text": torch.randn(64, 4)}
    module = ConCluGenModule(task, cfg, {"audio": (3, 5), "text": (4,)}, {})
    module.start_stage("linear_eval")
    module.train()
    drawn = module.features(batch)["audio"][:, 0]
    assert set(drawn.tolist()) == {1.0, 2.0}  # the copies only, each sample its own draw
    module.eval()
    assert torch.equal(module.features(batch)["audio"], torch.zeros(64, 5))
    module.start_stage("pretrain")
    module.train()
    assert torch.equal(module.features(batch)["audio"], torch.zeros(64, 5))  # the code pretrains unaugmented


def test_video_features_of_3d_frames_only_and_with_training_copies(tmp_path):
    from bench.api import TransformSpec
    from bench.data.media import write_video
    from bench.data.transforms import get_transform

    frames = np.random.default_rng(0).integers(0, 255, size=(20, 32, 32, 3), dtype=np.uint8)
    clip = tmp_path / "clip.mp4"
    write_video(clip, frames, 16.0)
    base = {"backbone_2d": "tiny", "backbone_3d": "tiny", "size": 32, "tiny_dim": 8}
    both = get_transform(TransformSpec("conclugen_video_features", base)).run(clip).array
    three = get_transform(TransformSpec("conclugen_video_features", {**base, "parts": "3d"})).run(clip).array
    copies = get_transform(TransformSpec("conclugen_video_features", {**base, "copies": 2})).run(clip).array
    assert both.shape == (1, 16) and three.shape == (1, 8) and copies.shape == (3, 16)
    assert np.array_equal(three[0], both[0, 8:])  # the 3D half of the concatenation
    assert np.array_equal(copies[0], both[0]) and not np.array_equal(copies[1], copies[0])
    again = get_transform(TransformSpec("conclugen_video_features", base)).run(clip).array
    assert np.array_equal(again, both)  # the random-init backbones are the same in every instance
