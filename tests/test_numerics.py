"""Numerics as a recorded choice: ``--precision`` and ``--fast`` reach the Trainer, the record's
``numerics`` and (only when not the default) the cell's hash; bf16 autocast trains a tiny
MMA-DFER cell on the CPU to logits close to float32's; tables never average across numerics."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from bench import config as config_mod
from bench import protocols
from bench.errors import ConfigError
from bench.records import store
from bench.records.cells import numerics_of
from bench.reporting import tables
from bench.running import run
from bench.running.numerics import Numerics

pytestmark = pytest.mark.usefixtures("one_thread")

BF16_LOGIT_TOLERANCE = 0.02
"""Largest |bf16-mixed − float32| test logit allowed after the two-epoch training below. bfloat16 keeps
8 significant bits (a relative rounding of 2⁻⁹ ≈ 0.002 per operation); measured here: 0.0052 on
logits of magnitude up to 0.47 (48 test clips, every predicted class the same), so 0.02 is about
four times what bf16 costs and far below a changed prediction."""


def _cell(tmp_path: Path, **numerics: object) -> run.CellResult:
    request = run.RunRequest("mma_dfer", "synthetic_dfew_5fold", folds=["1"], seeds=[0], preset="tiny",
                             budget="2", out=tmp_path / "results", progress=False, cache_root=tmp_path / "cache",
                             **numerics)  # type: ignore[arg-type]
    (result,) = run.execute(run.make_plan(request))
    return result


@pytest.mark.slow  # two trainings from an empty cache: about 70 s at load 9 on two cores
def test_bf16_mixed_trains_mma_dfer_and_keeps_its_logits_near_float32(tmp_path: Path) -> None:
    full = _cell(tmp_path)
    half = _cell(tmp_path, precision="bf16-mixed")
    assert full.record["numerics"] == {"precision": "32", "fast": False}
    assert half.record["numerics"] == {"precision": "bf16-mixed", "fast": False}
    assert half.record["config_hash"] != full.record["config_hash"] and half.path != full.path
    assert "--precision bf16-mixed" in half.record["command"] and "--precision" not in full.record["command"]
    assert [h["train_loss"] is not None for h in half.record["history"]] == [True, True]
    logits = [np.load(store.predictions_path(r.path))["outputs"] for r in (full, half)]
    assert logits[0].dtype == logits[1].dtype == np.float32
    assert not np.array_equal(logits[0], logits[1])  # bf16 did compute something else
    assert np.abs(logits[0] - logits[1]).max() <= BF16_LOGIT_TOLERANCE


def test_default_numerics_leave_the_hash_alone_and_others_enter_it() -> None:
    conf = dataclasses.make_dataclass("Conf", [("a", int, 1)])()
    plain = config_mod.config_hash(conf, ["video"])
    assert config_mod.config_hash(conf, ["video"], None, Numerics().hashed()) == plain
    fast = config_mod.config_hash(conf, ["video"], None, Numerics(fast=True).hashed())
    bf16 = config_mod.config_hash(conf, ["video"], None, Numerics("bf16-mixed").hashed())
    assert len({plain, fast, bf16}) == 3
    assert Numerics(fast=True).trainer_options() == {"precision": "32", "deterministic": False}
    assert Numerics().trainer_options() == {"precision": "32", "deterministic": True}


def test_an_unknown_precision_is_refused_with_the_allowed_ones() -> None:
    with pytest.raises(ConfigError, match="--precision 'fp8': allowed are 32, bf16-mixed, 16-mixed"):
        Numerics("fp8")


def test_tables_never_average_records_of_other_numerics() -> None:
    protocol = protocols.load("synthetic_5fold")
    regime = None if protocol.regime is None else dataclasses.asdict(protocol.regime)

    def record(fold: int, value: float, numerics: dict | None) -> dict:
        rec = {"method": "late_fusion", "protocol": {"name": protocol.name, "hash": protocol.hash}, "preset": "tiny",
               "config": {"a": 1}, "modalities": list(protocol.modalities), "regime": regime, "fold": f"fold{fold}",
               "seed": 0, "metrics": {"uar": value}, "selection": {"on_test": False}}
        return rec if numerics is None else {**rec, "numerics": numerics}

    old = [record(1, 0.5, None), record(2, 0.7, {"precision": "32", "fast": False})]  # without the field: float32
    fast = [record(1, 0.9, {"precision": "bf16-mixed", "fast": True})]
    query = tables.Query("late_fusion", "synthetic_5fold", "tiny")
    assert tables.matching(old + fast, query, {"a": 1}) == old
    assert tables.aggregate(tables.matching(old + fast, query, {"a": 1}), "uar").mean == pytest.approx(0.6)
    asked = dataclasses.replace(query, numerics={"precision": "bf16-mixed", "fast": True})
    assert tables.matching(old + fast, asked, {"a": 1}) == fast
    assert numerics_of(old[0]) == {"precision": "32", "fast": False}
