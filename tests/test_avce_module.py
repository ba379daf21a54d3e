"""AVCE's method, networks and two-pass module: configuration, inputs, update sets, switches, schedule."""

from __future__ import annotations

import dataclasses
from types import SimpleNamespace

import pytest
import torch
from torch import nn

from bench import config
from bench.api import TaskSpec
from bench.data.catalog import get_transform
from bench.errors import ConfigError, RunError
from bench_methods.avce import AVCE, augment
from bench_methods.avce.config import AVCEConfig
from bench_methods.avce.losses import av_loss, contrastive_loss, dis_loss
from bench_methods.avce.networks import alexnet_features, resnet18_trunk

TASK = TaskSpec("regression", ("valence", "arousal"))
SMALL = {"encoder_width": 4, "resize": 63, "crop": 63, "batch_size": 4}
"""A network small enough to train a step in milliseconds (AlexNet's smallest input)."""


def resolve(preset: str = "paper", **overrides: object) -> AVCEConfig:
    return config.resolve(AVCE.Config, AVCE.presets, preset, overrides, "avce")


def driven(cfg: AVCEConfig, shape: tuple[int, ...] = (3, 63, 63)):
    """The module with its optimisers attached the way Lightning's manual optimisation hands them over."""
    module = AVCE().build(TASK, cfg, {"video": shape})
    optimizers, schedulers = module.configure_optimizers()
    module.optimizers = lambda: optimizers
    module.lr_schedulers = lambda: [s["scheduler"] for s in schedulers]
    module.manual_backward = lambda loss: loss.backward()
    module._trainer = SimpleNamespace(should_stop=False)
    return module, optimizers


def batch(cfg: AVCEConfig, size: int = 4, seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return {"video": torch.rand(size, 3, cfg.resize, cfg.resize, generator=g),
            "label": torch.rand(size, 2, generator=g) * 2 - 1, "index": torch.arange(size)}


# ---------------------------------------------------------------------------- configuration


def test_paper_defaults_and_presets() -> None:
    cfg = resolve()
    assert (cfg.backbone, cfg.iterations, cfg.batch) == ("alexnet", 50_000, 256)
    assert (cfg.mu, cfg.delta1, cfg.delta2, cfg.contrastive_weight, cfg.hold_weight) == (0.75, 1.0, 0.8, 1.0, 1.0)
    assert (cfg.alpha, cfg.beta, cfg.gamma, cfg.latent_dim, cfg.metric_dim) == (0.5, 0.005, 0.5, 32, 8)
    assert cfg.milestones == [5_000, 25_000, 45_000] and cfg.epochs is None
    assert resolve("paper_resnet18").batch == 128
    # Aff-Wild's 100K iterations give the code's MultiStepLR milestones
    assert resolve("affwild").milestones == resolve("code").milestones == [5_000, 25_000, 45_000, 65_000, 85_000]
    assert resolve("table4_f2").polarity_penalty == -0.5 and resolve("table4_without_dis").dis_loss is False
    assert resolve("code").official_code_bugs == ["eval_mode_training", "polarity_broadcast"]
    assert resolve("code_resnet18").official_code_bugs == ["eval_mode_training", "always_on_dropout",
                                                           "polarity_broadcast"]


@pytest.mark.parametrize(("overrides", "message"), [
    ({"crop": 40}, "AlexNet needs inputs of at least 63"),
    ({"always_on_dropout": True}, "Regressor_R18"),
    ({"polarity_broadcast": True}, "needs a polarity_penalty"),
    ({"contrastive": "infonce", "negative_mining": True}, "negative pairs of L_AVCE"),
    ({"cosine_scale": 2.0}, "cosine_scale"),
    ({"crop": 300}, "larger than resize"),
    ({"mu": "high"}, "mu: expected a number"),
    ({"delta3": 1.0}, "unknown config key 'delta3'"),
])
def test_bad_configurations_are_config_errors(overrides: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        resolve(**overrides)


def test_inputs_ask_for_registered_transforms() -> None:
    method = AVCE()
    paper = method.inputs(resolve(), ["video"])["video"]
    assert (paper.name, dict(paper.params)) == ("face_image", {"policy": "avce_margin", "size": 224, "margin": 20})
    cropped = method.inputs(resolve(face_policy="none"), ["video"])["video"]
    assert dict(cropped.params)["size"] == 256  # stored crops are resized straight to 256
    clip = method.inputs(resolve("tiny"), ["video"])["video"]
    assert (clip.name, dict(clip.params)) == ("video_frames", {"num_frames": 1, "size": 72})
    for spec in (paper, cropped, clip):
        get_transform(spec)  # the transform exists and takes these parameters


def test_stages_are_one_supervised_fit_bounded_by_the_iterations() -> None:
    (stage,) = AVCE().stages(resolve(), "supervised", False)
    assert (stage.name, stage.epochs, stage.batch_size, stage.labels) == ("supervised", 50_000, 256, True)


def test_the_module_refuses_other_tasks_and_shapes() -> None:
    with pytest.raises(ConfigError, match="valence and arousal"):
        AVCE().build(TaskSpec("regression", ("dominance", "arousal")), resolve(**SMALL), {"video": (3, 63, 63)})
    with pytest.raises(ConfigError, match=r"\[3, H, W\]"):
        AVCE().build(TASK, resolve(**SMALL), {"video": (8, 3, 63, 63)})


# ---------------------------------------------------------------------------- networks


def test_encoders_at_width_64_are_torchvisions_layer_for_layer() -> None:
    import torchvision

    with torch.device("meta"):
        alexnet = torchvision.models.AlexNet().features
        resnet = torchvision.models.resnet18()
        trunk = nn.Sequential(*[getattr(resnet, n) for n in ("conv1", "bn1", "relu", "maxpool", "layer1", "layer2",
                                                               "layer3", "layer4")])
        ours = resnet18_trunk(64)
    assert repr(alexnet_features(64)) == repr(alexnet)
    assert [repr(m) for m in ours.children()] == [repr(m) for m in trunk.children()]
    assert list(ours.state_dict()) == [k for k in resnet.state_dict() if not k.startswith("fc.")]
    assert [t.shape for t in ours.state_dict().values()] == [t.shape for t in trunk.state_dict().values()]


def test_head_batchnorm_switch() -> None:
    def norms(cfg: AVCEConfig) -> int:
        net = AVCE().build(TASK, cfg, {"video": (3, 63, 63)}).net
        return sum(isinstance(m, nn.BatchNorm1d) for part in (net.regressor, net.head, net.metric_head)
                   for m in part.modules())

    assert norms(resolve(**SMALL)) == 3 and norms(resolve(**SMALL, head_batchnorm=False)) == 0


def test_heads_start_from_the_codes_normal_init() -> None:
    torch.manual_seed(0)
    net = AVCE().build(TASK, resolve(**SMALL), {"video": (3, 63, 63)}).net
    first = net.head[0]
    assert abs(float(first.weight.detach().std()) - 1.0) < 0.1 and torch.all(first.bias == 0.01)
    assert float(net.regressor[1].weight.detach().abs().max()) <= 1 / 32**0.5  # PyTorch's default bound 1/sqrt(fan_in)


def test_always_on_dropout_makes_resnet18_predictions_stochastic() -> None:
    def twice(cfg: AVCEConfig) -> tuple[torch.Tensor, torch.Tensor]:
        module = AVCE().build(TASK, cfg, {"video": (3, 32, 32)}).eval()
        images = {"video": torch.rand(2, 3, 32, 32)}
        return module.predict_step(images, 0), module.predict_step(images, 0)

    small = {"backbone": "resnet18", "encoder_width": 4, "resize": 32, "crop": 32}
    a, b = twice(resolve(**small, always_on_dropout=True))
    assert not torch.equal(a, b)
    a, b = twice(resolve(**small))
    assert torch.equal(a, b)


# ---------------------------------------------------------------------------- the two passes


def _record_steps(module, optimizers) -> list[tuple[str, list[str]]]:
    """Wrap each optimiser's step to note which parts (encoder, head, ...) have gradients then."""
    part_of = {id(p): name.split(".")[0] for name, p in module.net.named_parameters()}
    calls: list[tuple[str, list[str]]] = []
    for opt in optimizers:
        original = opt.step

        def step(*args, _opt=opt, _original=original, **kwargs):
            parts = {part_of[id(p)] for g in _opt.param_groups for p in g["params"] if p.grad is not None}
            calls.append((type(_opt).__name__, sorted(parts)))
            return _original(*args, **kwargs)

        opt.step = step
    return calls


STEP_WRAPPED = pytest.mark.filterwarnings("ignore:Seems like `optimizer.step\\(\\)` has been overridden")


@STEP_WRAPPED
def test_pass_1_updates_e_c_r_h_and_pass_2_updates_e_c_h1() -> None:
    cfg = resolve(**SMALL)
    module, optimizers = driven(cfg)
    calls = _record_steps(module, optimizers)
    module.training_step(batch(cfg), 0)
    assert calls == [("Adam", ["compressor", "encoder", "regressor"]), ("SGD", ["head"]),
                     ("Adam", ["compressor", "encoder"]), ("SGD", ["metric_head"])]


@STEP_WRAPPED
def test_without_l_dis_there_is_no_second_pass() -> None:
    cfg = resolve(**SMALL, dis_loss=False)
    module, optimizers = driven(cfg)
    calls = _record_steps(module, optimizers)
    module.training_step(batch(cfg), 0)
    assert calls == [("Adam", ["compressor", "encoder", "regressor"]), ("SGD", ["head"])]


@STEP_WRAPPED
def test_pass2_moves_regressor_reproduces_adam_on_zeroed_gradients() -> None:
    after = {}
    for moves in (False, True):
        torch.manual_seed(0)
        cfg = resolve(**SMALL, pass2_moves_regressor=moves)
        module, optimizers = driven(cfg)
        calls = _record_steps(module, optimizers)
        torch.manual_seed(1)
        module.training_step(batch(cfg), 0)
        steps = optimizers[0].state[module.net.regressor[1].weight]["step"]
        after[moves] = (calls[2][1], float(steps), module.net.regressor[1].weight.detach().clone(),
                        module.net.encoder[0].weight.detach().clone())
    assert after[False][:2] == (["compressor", "encoder"], 1.0)
    assert after[True][:2] == (["compressor", "encoder", "regressor"], 2.0)
    assert not torch.equal(after[False][2], after[True][2])  # R moved by its Adam momentum
    torch.testing.assert_close(after[False][3], after[True][3])  # and nothing else changed


def test_eval_mode_training_switches_e_c_r_h_to_eval_from_the_second_iteration() -> None:
    cfg = resolve(**SMALL, eval_mode_training=True)
    module, _ = driven(cfg)
    seen: list[tuple[str, bool]] = []
    for name in ("encoder", "regressor", "head", "metric_head"):
        getattr(module.net, name).register_forward_hook(
            lambda m, i, o, _name=name: seen.append((_name, m.training)))
    for iteration in range(2):
        module.training_step(batch(cfg, seed=iteration), 0)
        for scheduler in module.lr_schedulers():
            assert scheduler.last_epoch == iteration + 1
    first, second = seen[: len(seen) // 2], seen[len(seen) // 2 :]
    assert all(training for _, training in first)
    assert {name: training for name, training in second} == {"encoder": False, "regressor": False, "head": False,
                                                             "metric_head": True}
    assert module.weights_provenance["official_code_bugs"].startswith("eval_mode_training")
    assert "official_code_bugs" not in driven(resolve(**SMALL))[0].weights_provenance


def test_optimiser_hyperparameters_paper_and_code() -> None:
    (adam, sgd), _ = AVCE().build(TASK, resolve(**SMALL), {"video": (3, 63, 63)}).configure_optimizers()
    assert (adam.defaults["lr"], adam.defaults["betas"], sgd.defaults["lr"], sgd.defaults["momentum"]) == \
        (1e-4, (0.9, 0.999), 1e-2, 0.0)
    (adam, sgd), _ = AVCE().build(TASK, resolve("code", **SMALL), {"video": (3, 63, 63)}).configure_optimizers()
    assert (adam.defaults["betas"], sgd.defaults["momentum"]) == ((0.5, 0.9), 0.9)


def test_the_schedule_steps_per_iteration_and_the_fit_stops_after_the_iterations() -> None:
    cfg = resolve(**SMALL, iterations=5, lr_first_milestone=2, lr_every=2)
    module, optimizers = driven(cfg)
    stops = []
    for iteration in range(5):
        module.training_step(batch(cfg, seed=iteration), 0)
        stops.append(module.trainer.should_stop)
    assert stops == [False, False, False, False, True]
    lrs = [opt.param_groups[0]["lr"] for opt in optimizers]
    assert lrs == pytest.approx([1e-4 * 0.8**2, 1e-2 * 0.8**2])  # milestones 2 and 4


def test_epochs_override_iterations_and_the_schedule_spans_their_steps() -> None:
    import lightning as L

    cfg = resolve(**SMALL, iterations=5, epochs=3, lr_first_milestone=2, lr_every=2)
    (stage,) = AVCE().stages(cfg, "supervised", False)
    assert stage.epochs == 3 and resolve("code").epochs == 100 and resolve().epochs is None
    module = AVCE().build(TASK, cfg, {"video": (3, 63, 63)})
    g = torch.Generator().manual_seed(0)
    rows = [{"video": torch.rand(3, 63, 63, generator=g), "label": torch.rand(2, generator=g) * 2 - 1}
            for _ in range(10)]  # batches of 4, 4, 2: three steps an epoch
    L.Trainer(max_epochs=stage.epochs, logger=False, enable_checkpointing=False, enable_progress_bar=False,
              enable_model_summary=False, accelerator="cpu").fit(module, torch.utils.data.DataLoader(rows, batch_size=4))
    adam_schedule = module.lr_schedulers()[0]
    assert adam_schedule.last_epoch == 9  # 3 epochs x 3 steps, past the 5 of `iterations`
    assert sorted(adam_schedule.milestones) == [2, 4]
    assert module.optimizers()[0].param_groups[0]["lr"] == pytest.approx(1e-4 * 0.8**2)


# ---------------------------------------------------------------------------- which terms a switch changes

CODE_LOSS_SWITCHES: dict[str, set[str]] = {
    "mu": {"contrast"}, "cosine_scale": {"contrast"}, "angle_scale": {"contrast"}, "polarity_penalty": {"contrast"},
    "contrastive_weight": {"contrast"}, "avce_reduction": {"contrast"}, "av_error": {"error"},
    "loss_moments": {"pcc", "ccc"}, "delta2": {"dis"}, "hold_weight": {"dis"}, "dis_reduction": {"dis"},
}
ABLATIONS: dict[str, tuple[object, set[str]]] = {
    "similarity": ("f1", {"contrast"}), "contrastive": ("infonce", {"contrast"}),
    "negative_mining": (True, {"contrast"}),
}
CODE_MODULE_SWITCHES = {"head_batchnorm", "adam_betas", "sgd_momentum", "random_flip", "pass2_moves_regressor",
                        "eval_mode_training", "polarity_broadcast", "epochs", "iterations", "eval_every", "eval_at"}
"""Code switches tested by the module tests above (polarity_broadcast by test_avce_losses, the evaluation
cadence by test_avce_cadence)."""


def _terms(cfg: AVCEConfig) -> dict[str, float]:
    g = torch.Generator().manual_seed(3)
    x = torch.cat([torch.linspace(0.5, 2.0, 6)[:, None], 0.1 * torch.randn(6, 1, generator=g)], 1).double()
    y_a, y_n = (torch.rand(6, 2, generator=g).double() - 0.25 for _ in range(2))
    label = torch.rand(6, 2, generator=g).double() * 2 - 1
    v, v_a, v_n = (torch.rand(6, 8, generator=g).double() for _ in range(3))
    av = av_loss(x, label, cfg.av_error, cfg.loss_moments)
    return {"error": float(av.error), "pcc": float(av.pcc), "ccc": float(av.ccc),
            "contrast": float(contrastive_loss(cfg, x, y_a, y_n, 0)),
            "dis": float(dis_loss(v, v_a, v_n, cfg.delta1, cfg.delta2, cfg.hold_weight, cfg.dis_reduction))}


def test_every_code_switch_is_covered() -> None:
    assert set(AVCE.presets["code"]) == set(CODE_LOSS_SWITCHES) | CODE_MODULE_SWITCHES


@pytest.mark.parametrize("field", sorted(CODE_LOSS_SWITCHES) + sorted(ABLATIONS))
def test_a_switch_changes_exactly_its_terms(field: str) -> None:
    paper = resolve()
    if field in ABLATIONS:
        value, expected = ABLATIONS[field]
    else:
        value, expected = AVCE.presets["code"][field], CODE_LOSS_SWITCHES[field]
    before, after = _terms(paper), _terms(dataclasses.replace(paper, **{field: value}))
    changed = {term for term in before if abs(before[term] - after[term]) > 1e-9}
    assert changed == expected


# ---------------------------------------------------------------------------- augmentation


def test_pipeline_crops_like_torchvision_and_normalises() -> None:
    images = torch.arange(2 * 3 * 5 * 5, dtype=torch.float32).reshape(2, 3, 5, 5) / 150
    centre = augment.centre_crop(images, 3)
    torch.testing.assert_close(centre, images[..., 1:4, 1:4])
    torch.manual_seed(0)
    cropped = augment.random_crop(images, 3)
    assert cropped.shape == (2, 3, 3, 3)
    assert any(torch.equal(cropped[0], images[0, :, t : t + 3, l : l + 3]) for t in range(3) for l in range(3))
    out = augment.pipeline(images, 5, 3, train=False, flip=False)
    torch.testing.assert_close(out[:, 0], (centre[:, 0] - 0.485) / 0.229)
    assert augment.resized(images, 5) is images and augment.resized(images, 8).shape == (2, 3, 8, 8)


def test_random_flip_mirrors_about_half_of_the_images() -> None:
    torch.manual_seed(0)
    images = torch.rand(200, 3, 4, 4)
    flipped = augment.random_flip(images)
    mirrored = [torch.equal(f, i.flip(-1)) for f, i in zip(flipped, images)]
    kept = [torch.equal(f, i) for f, i in zip(flipped, images)]
    assert all(m or k for m, k in zip(mirrored, kept)) and 70 < sum(mirrored) < 130


def test_a_diverged_loss_is_a_run_error_naming_the_term_and_iteration() -> None:
    cfg = resolve(**SMALL)
    module, _ = driven(cfg)
    bad = batch(cfg)
    bad["label"][0, 0] = float("nan")
    with pytest.raises(RunError, match=r"L_main \(L_AV nan.*at iteration 0"):
        module.training_step(bad, 0)


def test_a_one_image_remainder_batch_is_skipped_and_not_counted() -> None:
    cfg = resolve(**SMALL)
    module, _ = driven(cfg)
    before = {k: v.clone() for k, v in module.state_dict().items()}
    assert module.training_step(batch(cfg, size=1), 0) is None
    assert all(torch.equal(before[k], v) for k, v in module.state_dict().items())
    assert module.lr_schedulers()[0].last_epoch == 0


def test_nonfinite_predictions_score_as_a_constant_predictor_and_are_labelled() -> None:
    from bench import metrics

    cfg = resolve(**SMALL)
    module, _ = driven(cfg)
    module.eval()
    assert module.weights_provenance == {"all": "random-init"}
    with torch.no_grad():
        finite = module.predict_step(batch(cfg), 0)
    assert torch.isfinite(finite).all() and "nonfinite_predictions" not in module.weights_provenance
    with torch.no_grad():  # a network whose output overflows: every prediction is NaN
        for p in module.net.regressor.parameters():
            p.fill_(float("nan"))
        broken = module.predict_step(batch(cfg), 0)
    assert torch.equal(broken, torch.zeros(4, 2))
    assert module.weights_provenance["nonfinite_predictions"].startswith("8 predicted values were NaN or inf")
    labels = batch(cfg)["label"].numpy()
    scores = metrics.compute(["ccc", "pcc", "rmse"], TASK, broken.numpy(), labels)
    assert scores["ccc"] == 0.0 and scores["pcc"] == 0.0  # the documented value of a constant predictor
    assert scores["rmse_valence"] == pytest.approx(float((labels[:, 0] ** 2).mean() ** 0.5))
