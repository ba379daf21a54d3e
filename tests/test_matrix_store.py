"""Metrics from stored predictions (bench rescore), the matrix table and heat-map, the budget keys."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bench.errors import ConfigError
from bench.records import store
from bench.reporting import matrix_table, plot_command, rescore, verify
from bench.running import budget

# four test clips of two classes: predicted 0, 1, 0, 1 against true 0, 1, 1, 1
OUTPUTS = np.array([[2.0, 0.0], [0.0, 1.0], [1.0, 0.0], [0.0, 3.0]])
TARGETS = np.array([0, 1, 1, 1])


def _record(root: Path, method: str, protocol: str, fold: str = "fold1", preset: str = "paper",
            metrics: dict[str, float] | None = None, outputs: np.ndarray = OUTPUTS, targets: np.ndarray = TARGETS,
            confusion: Any = ((1, 0), (1, 2)), names: tuple[str, ...] = ("calm", "angry"),
            primary: str = "uar") -> Path:
    path = store.record_path(root, protocol, method, f"hash-{preset}", fold, 0)
    record = {"schema_version": store.SCHEMA_VERSION, "method": method, "preset": preset, "config_hash": f"hash-{preset}",
              "protocol": {"name": protocol, "hash": "p1"}, "fold": fold, "seed": 0,
              "selection": {"on_test": False}, "metrics": metrics if metrics is not None else {"uar": 5 / 6},
              "primary": primary, "label_names": list(names),
              "confusion": None if confusion is None else [list(r) for r in confusion],
              "finished": "2026-01-01T00:00:00+00:00"}
    store.write(path, record, {"ids": np.arange(len(targets)).astype(str), "outputs": outputs, "targets": targets})
    return path


def test_a_missing_metric_comes_from_the_stored_predictions(tmp_path: Path) -> None:
    path = _record(tmp_path, "late_fusion", "synthetic_5fold")
    record = store.read(path)
    assert rescore.metric_value(path, record, "uar") == pytest.approx(5 / 6)  # stored
    assert rescore.metric_value(path, record, "war") == pytest.approx(0.75)   # 3 of 4 right
    # class 1: precision 1, recall 2/3 -> F1 0.8; class 0: precision 1/2, recall 1 -> F1 2/3
    assert rescore.metric_value(path, record, "macro_f1") == pytest.approx((0.8 + 2 / 3) / 2)
    assert rescore.metric_value(path, record, "ccc") is None  # a regression metric


def test_rescore_writes_derived_metrics_once_and_marks_them(tmp_path: Path) -> None:
    path = _record(tmp_path, "late_fusion", "synthetic_5fold")
    changed = rescore.rescore(tmp_path, ["war", "ccc"])
    assert changed == [(path, ["war"])]
    record = store.read(path)
    assert record["metrics"] == {"uar": pytest.approx(5 / 6), "war": pytest.approx(0.75)}
    assert record[rescore.DERIVED_KEY] == ["war"]
    assert verify.check(path) == (record, None)  # sealed again for its new content
    assert rescore.rescore(tmp_path, ["war"]) == []


def test_rescore_of_per_axis_regression_metrics_and_grouped_refusal(tmp_path: Path) -> None:
    outputs = np.array([[0.0, 1.0], [1.0, 0.0], [2.0, 1.0]])
    targets = np.array([[0.0, 2.0], [1.0, 0.0], [2.0, 1.0]])
    # CCC: valence exact, 1; arousal x = (1, 0, 1), y = (2, 0, 1): 2·(1/3) / (2/9 + 2/3 + (1/3)²) = 2/3
    path = _record(tmp_path, "avce", "synthetic_va", metrics={"ccc": 5 / 6}, outputs=outputs, targets=targets,
                   confusion=None, names=("valence", "arousal"), primary="ccc")
    rescore.rescore(tmp_path, ["rmse"])
    record = store.read(path)
    # valence exact; arousal off by 1 on one of three -> sqrt(1/3); headline the mean of the two axes
    assert record["metrics"]["rmse_valence"] == pytest.approx(0.0)
    assert record["metrics"]["rmse_arousal"] == pytest.approx(np.sqrt(1 / 3))
    assert rescore.metric_value(path, record, "rmse_arousal") == pytest.approx(np.sqrt(1 / 3))
    with pytest.raises(ConfigError, match="per video"):
        rescore.rescore(tmp_path, ["ccc_per_video"])


def test_matrix_table_cells_reasons_and_formats(tmp_path: Path) -> None:
    a = _record(tmp_path, "late_fusion", "synthetic_5fold", fold="fold1")
    b = _record(tmp_path, "late_fusion", "synthetic_5fold", fold="fold2", metrics={"uar": 0.5})
    entries = {("late_fusion", "synthetic_5fold"): matrix_table.Entry(
                   "late_fusion", "synthetic_5fold", records=((a, store.read(a)), (b, store.read(b)))),
               ("avce", "synthetic_5fold"): matrix_table.Entry("avce", "synthetic_5fold",
                                                               reason="avce handles regression tasks"),
               ("mpuc", "synthetic_5fold"): matrix_table.Entry("mpuc", "synthetic_5fold")}
    columns = [matrix_table.Column("synthetic_5fold", "classification", "uar")]
    grid = matrix_table.build(["late_fusion", "mpuc", "avce"], columns, entries)
    # (83.33 + 50) / 2, sample std of the two = 33.33 / sqrt(2)
    assert grid.texts == [["66.67 ± 23.57 (n=2)"], ["—"], ["n/a (1)"]]
    assert matrix_table.to_markdown(grid).splitlines() == [
        "| method | synthetic_5fold (uar, %) |", "|:--|--:|", "| late_fusion | 66.67 ± 23.57 (n=2) |",
        "| mpuc | — |", "| avce | n/a (1) |", "", "- (1) avce handles regression tasks"]
    assert matrix_table.to_csv(grid).splitlines()[-1] == "(1) avce handles regression tasks"
    assert "66.67 $\\pm$ 23.57 (n=2)" in matrix_table.to_latex(grid)
    war = matrix_table.build(["late_fusion"], [matrix_table.Column("synthetic_5fold", "classification", "war")],
                             entries)
    assert war.texts == [["75.00 ± 0.00 (n=2)"]]  # derived from both records' predictions


def test_bench_plot_draws_the_heatmap_and_confusions(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _record(tmp_path, "late_fusion", "synthetic_5fold")
    _record(tmp_path, "late_fusion", "synthetic_5fold", preset="tiny")
    args = argparse.Namespace(out=tmp_path, metric=None, method=None, protocol=None)
    assert plot_command.plot_command(args) == 0
    printed = capsys.readouterr().out
    assert "| late_fusion | 83.33 ± 0.00 (n=1) |" in printed
    assert "| late_fusion (tiny) | 83.33 ± 0.00 (n=1) |" in printed
    heatmap = tmp_path / plot_command.HEATMAP_NAME
    assert heatmap.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(list(tmp_path.glob("runs/**/*.confusion.png"))) == 2


def test_budget_sets_the_epoch_keys() -> None:
    assert budget.parse("paper") is None and budget.parse(None) is None
    assert budget.parse("short") == budget.SHORT_EPOCHS and budget.parse("7") == 7
    for bad in ("0", "-3", "1.5", "long"):
        with pytest.raises(ConfigError, match="--budget"):
            budget.parse(bad)
    fields = {"epochs": 100, "pretrain_epochs": 50, "lr": 0.1}
    assert budget.overrides(fields, 3, {}) == {"epochs": 3, "pretrain_epochs": 3}
    assert budget.overrides(fields, 3, {"epochs": 9}) == {"pretrain_epochs": 3}  # --set wins
    assert budget.overrides(fields, None, {}) == {}
    with pytest.raises(ConfigError, match="length keys"):
        budget.overrides({"iterations": 50_000}, 3, {})
