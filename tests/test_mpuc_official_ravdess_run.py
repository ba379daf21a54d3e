"""The official MPUC code's RAVDESS run beside bench's, as recorded figures (issue 23).

``golden_official/mpuc/ravdess_holdout_official_run.json`` holds the figures of the official
training code run outside this repository on bench's RAVDESS copy (audio only, supervised, one
seed), and bench's ``acoustics_code`` run on the same split and schedule. These tests keep the
fixture honest (its curve gives its own result) and keep bench's side the run it describes: the
same split, the same mel, the same schedule knobs.
"""

from __future__ import annotations

import json
from pathlib import Path

from bench import config as config_mod
from bench import protocols, registry

FIXTURE = json.loads((Path(__file__).parent / "golden_official" / "mpuc" /
                      "ravdess_holdout_official_run.json").read_text(encoding="utf-8"))


def test_the_fixture_names_the_official_commit_and_how_it_was_run() -> None:
    assert FIXTURE["official"]["repository"] == "ricfrr/mpuc-mer"
    assert len(FIXTURE["official"]["commit"]) == 40
    assert FIXTURE["command_in_words"] and len(FIXTURE["edits_in_words"]) == 5


def test_the_official_curve_gives_its_recorded_selection_and_test_accuracy() -> None:
    curve, result = FIXTURE["curve"], FIXTURE["result"]
    val = curve["val_acc"]
    assert len(val) == len(curve["train_loss"]) == len(curve["epochs"]) == result["epochs_run"]
    best = max(val)
    assert result["best_val_acc"] == best
    assert result["selected_epoch"] == val.index(best)  # the first epoch that reached it, as the code keeps it
    # the code tests each time validation improves; the selected epoch's test is the reported one
    improvements = {int(epoch): acc for epoch, acc in curve["test_acc_at_val_improvements"].items()}
    assert max(improvements) == result["selected_epoch"]
    assert improvements[result["selected_epoch"]] == result["test_acc"]
    # truncated by hand before the code's patience (100 epochs without improvement) ran out
    assert result["epochs_run"] - 1 - result["selected_epoch"] < 100


def test_bench_side_reads_the_same_split_and_mel_as_the_official_run() -> None:
    protocol = protocols.load("ravdess_actor_holdout")
    assert protocol.split["test"] == FIXTURE["split"]["test_actors"]
    assert protocol.split["val"] == FIXTURE["split"]["val_actors"]
    cls = registry.methods.get("mpuc_unimodal")
    cfg = config_mod.resolve(cls.Config, cls.presets, "acoustics_code", {}, cls.name)
    mel = FIXTURE["mel"]
    assert (cfg.mel_bins, cfg.mel_sample_rate, cfg.mel_hop_length) == (mel["bins"], mel["sample_rate"],
                                                                        mel["hop_length"])
    # the schedule the bench side ran with exists as configuration keys
    pairs = [pair.strip() for pair in FIXTURE["bench"]["command"].split("--set ")[1:]]
    scheduled = config_mod.resolve(cls.Config, cls.presets, "acoustics_code", config_mod.parse_overrides(pairs),
                                   cls.name)
    assert (scheduled.epochs, scheduled.lr_step_epochs) == (2000, 100)
