"""MPUC's configuration, stages, inputs, backbones and module, on synthetic tensors and a real CSV."""

from __future__ import annotations

from pathlib import Path

import lightning as L
import pytest
import torch

from bench import config as config_mod
from bench.api import TaskSpec
from bench.data.catalog import get_transform
from bench.errors import ConfigError, DataError
from bench_methods.mpuc import MPUC, MPUCAttention, MPUCLateFusion, MPUCSupervised, MPUCUnimodal
from bench_methods.mpuc.encoders import FaceR2Plus1D, WordTransformer
from bench_methods.mpuc.module import TRANSDUCTIVE_NOTE, crop_starts, take_crop
from bench_methods.mpuc.stgcn import FACE_EDGES, LandmarkSTGCN, face_adjacency
from bench_methods.mpuc.tcn import AcousticTCN

TASK = TaskSpec("classification", ("a", "b", "c"))


pytestmark = pytest.mark.usefixtures("one_thread")


def cfg_of(method: type, preset: str = "paper", **overrides: object) -> object:
    return config_mod.resolve(method.Config, method.presets, preset, overrides, method.name)


def test_paper_defaults() -> None:
    cfg = cfg_of(MPUC)
    assert (cfg.temperature, cfg.lr, cfg.momentum, cfg.weight_decay, cfg.lr_gamma) == (0.07, 1e-3, 0.9, 1e-3, 0.9)
    assert (cfg.batch_size, cfg.pretrain_batch_size, cfg.epochs, cfg.lr_step_epochs) == (64, 32, 2000, 100)
    assert (cfg.positives, cfg.loss_reduction, cfg.probe, cfg.transductive) == ("paper", "sum", "separate", False)
    assert (cfg.crops, cfg.view_shift, cfg.window_frames) == (2, 30, 120)  # two overlapping 90-step crops
    assert cfg_of(MPUC, "paper_mosei").lr_step_epochs == 5 and cfg_of(MPUC, "paper_mosei").crop_frames == 30
    assert MPUC.min_modalities == 2 and MPUCSupervised.min_modalities == 1


def test_bad_values_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="11 steps"):
        cfg_of(MPUC, crop_frames=10)
    with pytest.raises(ConfigError, match="'paper', 'code', 'supervised'"):
        cfg_of(MPUC, positives="both")
    with pytest.raises(ConfigError, match="unknown config key 'head'"):
        cfg_of(MPUC, head="attention")  # a baseline switch, not the contrastive method's


def test_stages_of_each_probe_and_positives() -> None:
    method = MPUC()
    pre, probe = method.stages(cfg_of(MPUC), "linear_eval", True)
    assert (pre.name, pre.epochs, pre.batch_size, pre.labels) == ("pretrain", 2000, 32, False)
    assert (probe.name, probe.epochs, probe.batch_size, probe.labels) == ("linear_eval", 2000, 64, True)
    (supcon, _) = method.stages(cfg_of(MPUC, "code_ravdess", probe="separate"), "linear_eval", True)
    assert supcon.labels  # the shipped RAVDESS config's positives are labels
    (online,) = method.stages(cfg_of(MPUC, probe="online"), "linear_eval", True)
    assert (online.name, online.batch_size, online.labels) == ("pretrain_online_probe", 32, True)
    assert [s.name for s in method.stages(cfg_of(MPUC), "linear_eval", False)] == ["linear_eval"]
    with pytest.raises(ConfigError, match="mpuc_supervised"):
        method.stages(cfg_of(MPUC), "supervised", False)
    with pytest.raises(ConfigError, match="pretrain: true"):
        method.stages(cfg_of(MPUC, probe="online"), "linear_eval", False)


def test_inputs_name_the_mpuc_transforms_with_the_window() -> None:
    paper = MPUC().inputs(cfg_of(MPUC), ["audio", "landmarks", "video"])
    assert {m: s.name for m, s in paper.items()} == {
        "audio": "audio_logmel_mpuc", "landmarks": "landmarks_openface_mpuc", "video": "face_frames"}
    # Two overlapping crops of 90 steps inside a window of 90 + view_shift 30 (paper and code alike).
    assert paper["audio"].params["num_frames"] == 120 and paper["landmarks"].params["num_frames"] == 120
    code = MPUC().inputs(cfg_of(MPUC, positives="code", view_shift=20), ["audio"])
    assert code["audio"].params["num_frames"] == 110  # two crops of 90 inside a 110-step window
    one = MPUC().inputs(cfg_of(MPUC, crops=1), ["audio"])
    assert one["audio"].params["num_frames"] == 90  # one crop: the window is the crop
    with pytest.raises(ConfigError, match="needs crops=2"):
        cfg_of(MPUC, positives="code", crops=1)
    for spec in paper.values():
        get_transform(spec)  # every parameter is one the transform has
    with pytest.raises(ConfigError, match="GloVe"):
        MPUC().inputs(cfg_of(MPUC), ["audio", "text"])


def test_landmark_csv_with_wrong_columns_names_file_and_header(tmp_path: Path) -> None:
    transform = get_transform(MPUC().inputs(cfg_of(MPUC), ["landmarks"])["landmarks"])
    header = ["frame"] + [f"x_{i}" for i in range(68)] + [f"y_{i}" for i in range(67)]
    bad = tmp_path / "01-01-01-01-01-01-01.csv"
    bad.write_text(",".join(header) + "\n" + ",".join(["1"] * len(header)) + "\n")
    with pytest.raises(DataError, match=r"01-01-01-01-01-01-01\.csv.*y_67.*x_0\.\.x_67, y_0\.\.y_67"):
        transform.run(bad)
    header.append("y_67")
    short = tmp_path / "short.csv"
    short.write_text(",".join(header) + "\n" + ",".join(["1"] * (len(header) - 1)) + "\n")
    with pytest.raises(DataError, match=r"short\.csv: line 2 has 136 cells, the header has 137"):
        transform.run(short)


def test_take_crop_by_hand_and_starts_stay_inside_the_window() -> None:
    x = torch.arange(2 * 6).view(2, 6, 1)
    got = take_crop(x, torch.tensor([1, 3]), 3)
    assert got[..., 0].tolist() == [[1, 2, 3], [9, 10, 11]]
    starts = crop_starts(500, window=7, crop=5, views=2)
    assert starts.shape == (2, 500) and starts.min() == 0 and starts.max() == 2


def test_face_graph_is_the_official_adjacency() -> None:
    assert len(FACE_EDGES) == 65 and len(set(FACE_EDGES)) == 65
    a = face_adjacency()
    assert a.shape == (51, 51) and torch.allclose(a, a.T)
    # Node 17 (row 0) touches 18 and 36: degree 2 plus the self-loop weight 2 -> 4; node 18 touches 17, 19 -> 4.
    assert a[0, 0].item() == pytest.approx(2 / 4) and a[0, 1].item() == pytest.approx(1 / 4)
    assert a[0, 36 - 17].item() == pytest.approx(1 / (4 * 6) ** 0.5)  # node 36: 17, 37, 41, 48 -> 6
    assert (a > 0).sum().item() == 51 + 2 * 65


def test_backbone_output_shapes() -> None:
    torch.manual_seed(0)
    tcn = AcousticTCN(128, 16, blocks=2, repeats=1, bottleneck=8, hidden=12, kernel=3, dropout=0.1)
    assert tcn(torch.randn(3, 20, 128)).shape == (3, 16)
    stgcn = LandmarkSTGCN(steps=12, out_dim=16, channels=8, spatial=4, dropout=0.1)
    assert stgcn(torch.rand(3, 12, 51, 2)).shape == (3, 16)
    video = FaceR2Plus1D(16, frames=8, dropout=0.1, weights="").eval()
    with torch.no_grad():
        assert video(torch.rand(2, 12, 3, 32, 32)).shape == (2, 16)
    assert video.provenance == "random-init"


def test_video_weights_must_be_a_local_r2plus1d_state_dict(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such file"):
        FaceR2Plus1D(16, 8, 0.1, str(tmp_path / "missing.pth"))
    other = tmp_path / "other.pth"
    torch.save({"fc.weight": torch.zeros(1)}, other)
    with pytest.raises(ConfigError, match="not an r2plus1d_18 state dict"):
        FaceR2Plus1D(16, 8, 0.1, str(other))


def test_text_positions_follow_the_sequence_or_the_codes_batch_index() -> None:
    torch.manual_seed(0)
    words = torch.randn(1, 5, 8).repeat(2, 1, 1)  # the same utterance twice in one batch
    for positional, same in (("sequence", True), ("batch_index", False)):
        model = WordTransformer(8, 4, layers=1, heads=2, ff=16, dropout=0.1, positional=positional).eval()
        with torch.no_grad():
            out = model(words)
        assert torch.allclose(out[0], out[1], atol=1e-6) is same


def _synthetic_loader(shapes: dict[str, tuple[int, ...]], n: int = 8,
                      labels: bool = True) -> torch.utils.data.DataLoader:
    gen = torch.Generator().manual_seed(0)
    data = {m: torch.rand(n, *s, generator=gen) for m, s in shapes.items()}
    if labels:
        data["label"] = torch.arange(n) % 3
    rows = [{k: v[i] for k, v in data.items()} for i in range(n)]
    return torch.utils.data.DataLoader(rows, batch_size=4)


def _fit(module: L.LightningModule, loader: torch.utils.data.DataLoader, epochs: int = 1) -> None:
    L.Trainer(max_epochs=epochs, logger=False, enable_checkpointing=False, enable_progress_bar=False,
              enable_model_summary=False, accelerator="cpu").fit(module, loader)


SHAPES = {"audio": (14, 128), "landmarks": (14, 51, 2)}


def test_window_mismatch_and_label_free_supcon_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="audio items have 12 steps, expected the window of 14"):
        MPUC().build(TASK, cfg_of(MPUC, "tiny", positives="code"), {"audio": (12, 128), "landmarks": (14, 51, 2)})
    multilabel = TaskSpec("multilabel", ("happy", "sad"))
    with pytest.raises(ConfigError, match="positives=supervised takes class labels"):
        MPUC().build(multilabel, cfg_of(MPUC, "tiny", positives="supervised"), SHAPES)


def test_online_probe_trains_encoder_on_contrast_and_classifier_on_detached_features() -> None:
    torch.manual_seed(0)
    module = MPUC().build(TASK, cfg_of(MPUC, "tiny", positives="code", probe="online"), SHAPES)
    module.start_stage("pretrain_online_probe")
    before = {n: p.detach().clone() for n, p in module.named_parameters()}
    _fit(module, _synthetic_loader(SHAPES))
    moved = {n.split(".")[0] for n, p in module.named_parameters() if not torch.equal(p, before[n])}
    assert moved == {"backbones", "projections", "classifier"}
    module.eval()
    with torch.no_grad():
        assert module.predict_step(next(iter(_synthetic_loader(SHAPES))), 0).shape == (4, 3)


def test_linear_eval_leaves_the_frozen_encoder_alone() -> None:
    torch.manual_seed(0)
    module = MPUC().build(TASK, cfg_of(MPUC, "tiny", crops=1), {"audio": (12, 128), "landmarks": (12, 51, 2)})
    module.start_stage("linear_eval")
    encoder = {n: p.detach().clone() for n, p in module.backbones.named_parameters()}
    bn = module.backbones["landmarks"][0].block1.norm.running_mean.clone()
    _fit(module, _synthetic_loader({"audio": (12, 128), "landmarks": (12, 51, 2)}))
    assert all(torch.equal(p, encoder[n]) for n, p in module.backbones.named_parameters())
    assert torch.equal(module.backbones["landmarks"][0].block1.norm.running_mean, bn)  # eval mode: no BN update


def test_transductive_updates_need_and_use_the_unlabelled_inputs() -> None:
    cfg = cfg_of(MPUC, "tiny", positives="code", transductive=True)
    module = MPUC().build(TASK, cfg, SHAPES)
    assert module.weights_provenance == {"audio": "random-init", "landmarks": "random-init",
                                         "transductive": TRANSDUCTIVE_NOTE}
    assert "transductive" not in MPUC().build(TASK, cfg_of(MPUC, "tiny", crops=1),
                                              {"audio": (12, 128)}).weights_provenance
    module.start_stage("pretrain")
    with pytest.raises(ConfigError, match="attach_unlabelled"):
        _fit(module, _synthetic_loader(SHAPES, labels=False))
    seen: list[int] = []

    class Counting(torch.utils.data.DataLoader):
        def __iter__(self):  # type: ignore[no-untyped-def]
            for batch in super().__iter__():
                seen.append(len(batch["audio"]))
                yield batch

    module.attach_unlabelled([Counting(_synthetic_loader(SHAPES).dataset, batch_size=4)])
    _fit(module, _synthetic_loader(SHAPES, labels=False), epochs=2)
    assert seen == [4, 4, 4, 4]  # the 8 extra inputs, once per epoch


def test_supervised_attention_baseline_builds_and_predicts() -> None:
    torch.manual_seed(0)
    cfg = cfg_of(MPUCSupervised, "tiny", head="attention")
    module = MPUCSupervised().build(TASK, cfg, {"audio": (12, 128)})
    module.start_stage("supervised")
    _fit(module, _synthetic_loader({"audio": (12, 128)}))
    module.eval()
    with torch.no_grad():
        assert module(next(iter(_synthetic_loader({"audio": (12, 128)})))).shape == (4, 3)
    with pytest.raises(ConfigError, match="attention_heads=3"):
        MPUCSupervised().build(TASK, cfg_of(MPUCSupervised, "tiny", head="attention", attention_heads=3),
                               {"audio": (12, 128)})


def test_named_baselines_carry_each_rows_paper_settings() -> None:
    late, attention = cfg_of(MPUCLateFusion), cfg_of(MPUCAttention)
    # Sec. IV-B: Late Fusion batch 32, lr 1e-3, momentum 0.9; Attention Mec. batch 64, lr 1e-3, same scheduler.
    assert (late.head, late.batch_size, late.lr, late.momentum, late.epochs) == ("mlp", 32, 1e-3, 0.9, 2000)
    assert (attention.head, attention.batch_size, attention.lr, attention.attention_heads) == ("attention", 64, 1e-3, 4)
    assert (attention.lr_step_epochs, attention.lr_gamma) == (100, 0.9)
    acoustics = cfg_of(MPUCUnimodal, "acoustics")
    assert (acoustics.lr, acoustics.lr_step_epochs, acoustics.batch_size, acoustics.epochs) == (1e-3, 10, 32, 100)
    faces = cfg_of(MPUCUnimodal, "faces")
    assert (faces.lr, faces.momentum, faces.epochs) == (0.01, 0.9, 150)
    assert cfg_of(MPUCUnimodal, "landmarks").epochs == 2000  # "as the proposed method with patience"
    assert {c.name for c in (MPUCUnimodal, MPUCLateFusion, MPUCAttention)} == {
        "mpuc_unimodal", "mpuc_late_fusion", "mpuc_attention"}
    assert all(c.regimes == ("supervised",) and c.min_modalities == 1
               for c in (MPUCUnimodal, MPUCLateFusion, MPUCAttention))


def test_unimodal_takes_exactly_one_modality_of_its_row() -> None:
    method = MPUCUnimodal()
    assert set(method.inputs(cfg_of(MPUCUnimodal, "acoustics"), ["audio"])) == {"audio"}
    assert set(method.inputs(cfg_of(MPUCUnimodal), ["landmarks"])) == {"landmarks"}  # paper: no row pinned
    with pytest.raises(ConfigError, match="one modality, got audio, landmarks"):
        method.inputs(cfg_of(MPUCUnimodal), ["audio", "landmarks"])
    with pytest.raises(ConfigError, match="schedule of the audio row"):
        method.inputs(cfg_of(MPUCUnimodal, "acoustics"), ["landmarks"])
    # The attention baseline's module puts multi-head attention before fc + ReLU + fc.
    module = MPUCAttention().build(TASK, cfg_of(MPUCAttention, "tiny"), {"audio": (12, 128), "landmarks": (12, 51, 2)})
    assert type(module.classifier[0]).__name__ == "ConcatAttention"
    plain = MPUCLateFusion().build(TASK, cfg_of(MPUCLateFusion, "tiny"), {"audio": (12, 128), "landmarks": (12, 51, 2)})
    assert type(plain.classifier[0]).__name__ != "ConcatAttention"
