"""AVCE's evaluation cadence (the code's ``cnt % freq == 0 or cnt == 50``) and the best_test selection over it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from bench_methods.avce.losses import av_loss
from test_avce_module import SMALL, batch, driven, resolve

from bench import config, protocols
from bench.running import run

pytestmark = pytest.mark.usefixtures("one_thread")


def test_the_code_evaluates_after_iterations_0_50_and_every_250_and_the_paper_never() -> None:
    code, paper = resolve("code"), resolve()
    assert [i for i in range(1001) if code.evaluates_after(i)] == [0, 50, 250, 500, 750, 1000]
    assert not any(paper.evaluates_after(i) for i in range(1001))
    assert not {"eval_every", "eval_at"} & set(config.to_dict(paper))  # paper cells keep their hash


def test_the_module_marks_the_iterations_due_and_a_skipped_remainder_is_not_one() -> None:
    cfg = resolve(**SMALL, eval_every=3, eval_at=(5,))
    module, _ = driven(cfg)
    assert module.evaluates_by_iteration and not driven(resolve(**SMALL))[0].evaluates_by_iteration
    due = []
    for step in range(11):
        size = 1 if step == 4 else 4  # a 1-image remainder: skipped, not an iteration
        module.training_step(batch(cfg, size=size, seed=step), 0)
        due.append(module.evaluation_due())
    # iterations 0..9 were trained at steps 0-3 and 5-10; due after iterations 0, 3, 5, 6, 9
    assert [s for s, d in enumerate(due) if d] == [0, 3, 6, 7, 10]


@pytest.mark.slow  # two AVCE trainings: about 12 s on an idle machine
def test_best_test_selects_among_the_cadences_evaluations_and_is_marked_on_test(tmp_path: Path) -> None:
    text = (Path(protocols.load("synthetic_va").path).read_text()
            .replace("name: synthetic_va", "name: synthetic_va_best_test")
            .replace("{rule: last_epoch}", "{rule: best_test, metric: ccc, allow_on_test: true}"))
    path = tmp_path / "synthetic_va_best_test.yaml"
    path.write_text(text)
    request = run.RunRequest(method="avce", protocol=str(path), folds=["1"], preset="tiny", modalities=["video"],
                             overrides={"epochs": 2, "eval_every": 4, "eval_at": (1,)}, out=tmp_path / "out",
                             progress=False)
    (result,) = run.execute(run.make_plan(request))
    record = result.record
    steps = [h["steps"] for h in record["history"]]
    assert steps == [6, 6]  # 192 training clips in batches of 32
    by_step = [h.get("test_ccc_by_step", []) for h in record["history"]]
    assert [len(values) for values in by_step] == [3, 1]  # iterations 0, 1, 4 | 8
    assert "test_ccc" not in record["history"][0]  # no evaluation at an epoch's end
    best = max(v for values in by_step for v in values)
    # the tested weights are those of the best evaluation: testing them again gives its CCC
    assert record["metrics"]["ccc"] == pytest.approx(best, abs=1e-6)
    assert record["selection"]["epoch"] == next(e for e, values in enumerate(by_step) if best in values)
    assert record["selection"]["on_test"] is True and record["selection"]["rule"] == "best_test"


def test_the_codes_protocols_select_on_test_and_say_so() -> None:
    for name, base in (("afewva_cv_best_test", "afewva_cv"), ("affwild_sampled_train_best_test",
                                                                 "affwild_sampled_train")):
        chosen, plain = protocols.load(name), protocols.load(base)
        assert (chosen.selection.rule, chosen.selection.metric, chosen.selection.on_test) == ("best_test", "ccc", True)
        assert chosen.serves == () and (chosen.split, chosen.dataset, chosen.leaky) == (plain.split, plain.dataset,
                                                                                         plain.leaky)


def test_a_kept_one_image_batch_would_make_the_codes_loss_nan_so_bench_skips_it() -> None:
    """The last-batch rule has no switch: the code keeps a 1-image remainder (DataLoader without
    drop_last, main.py L295), but its PCC/CCC divide by torch.std of one value (utils.py L20-21)."""
    x, label = torch.tensor([[0.2, -0.1]]), torch.tensor([[0.5, 0.3]])
    with pytest.warns(UserWarning, match="degrees of freedom"):
        code = av_loss(x, label, "mse", "code")
    assert np.isnan(float(code.total)) and np.isfinite(float(av_loss(x, label, "rmse", "standard").total))
