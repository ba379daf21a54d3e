"""Corrupt run records are named by ``check``, ``status`` and ``table``, and moved aside on rerun, never
overwritten; ``bench check`` tells missing records (exit 3) from regressions (exit 1).

Before: ``bench check`` said "3 of 4 records", ``bench status`` "the record is gone", a rerun
overwrote the damaged file, and a store without records exited 1 with "4 regression(s)".
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from bench.cli import main
from bench.records import store
from bench.reporting import check, reported
from bench.running import run

REPO = Path(__file__).resolve().parents[1]
GOLDEN = REPO / "results" / "expected" / "synthetic_golden.yaml"
GRID = REPO / "grids" / "synthetic_golden.yaml"

pytestmark = pytest.mark.usefixtures("one_thread")


def request(out: Path) -> run.RunRequest:
    """The first cell of the golden grid (late_fusion, tiny, epochs 6, fold 1, seed 0)."""
    return run.RunRequest(method="late_fusion", protocol="synthetic_5fold", folds=["1"], seeds=[0], preset="tiny",
                          overrides={"epochs": 6}, out=out, progress=False)


@pytest.fixture(scope="module")
def one_record(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("store") / "results"
    [result] = run.execute(run.make_plan(request(out)))
    return result.path


def damaged_store(one_record: Path, tmp_path: Path, damage: str) -> tuple[Path, Path]:
    out = tmp_path / "results"
    shutil.copytree(one_record.parents[4], out)
    record = out / one_record.relative_to(one_record.parents[4])
    if damage == "truncated":
        record.write_text(record.read_text(encoding="utf-8")[:200], encoding="utf-8")
    elif damage == "schema":
        record.write_text(json.dumps({"schema_version": 99}), encoding="utf-8")
    else:
        store.predictions_path(record).unlink()
    return out, record


@pytest.mark.parametrize("damage,reason", [("truncated", "not a readable run record"),
                                           ("schema", "not a bench run record of schema version 1"),
                                           ("predictions", "its predictions file fold1-seed0.predictions.npz is "
                                                           "missing")])
def test_check_status_and_table_name_a_corrupt_record(one_record: Path, tmp_path: Path, damage: str, reason: str,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    out, record = damaged_store(one_record, tmp_path, damage)
    line = f"corrupt record {record}: {reason}"

    assert main(["check", "--out", str(out), "--expected", str(GOLDEN)]) == check.EXIT_MISSING
    printed = capsys.readouterr().out
    assert line in printed and "0 regression(s)" in printed and "1 corrupt record(s)" in printed

    assert main(["status", str(GRID), "--out", str(out)]) == 1
    printed = capsys.readouterr().out
    assert line in printed

    table = next(f"{p.key}:{t}" for p in reported.load_all().papers.values() for t in p.tables)
    assert main(["table", table, "--out", str(out)]) == 0
    assert line in capsys.readouterr().err


@pytest.mark.slow
def test_a_rerun_moves_a_corrupt_record_aside(one_record: Path, tmp_path: Path,
                                              caplog: pytest.LogCaptureFixture) -> None:
    out, record = damaged_store(one_record, tmp_path, "truncated")
    damaged = record.read_bytes()
    [result] = run.execute(run.make_plan(request(out)))
    assert not result.skipped and store.read(record)["metrics"] == store.read(one_record)["metrics"]
    aside = Path(f"{record}.corrupt")
    assert aside.read_bytes() == damaged
    assert Path(f"{store.predictions_path(record)}.corrupt").is_file()
    assert f"corrupt record {record}: not a readable run record" in caplog.text and "moved aside" in caplog.text
    # a second damage is set aside beside the first, which is kept
    record.write_text("{", encoding="utf-8")
    run.execute(run.make_plan(request(out)))
    assert aside.read_bytes() == damaged and Path(f"{record}.corrupt2").read_text(encoding="utf-8") == "{"


def test_missing_records_exit_3_and_a_regression_still_exits_1(one_record: Path, tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    empty = tmp_path / "empty"
    assert main(["check", "--out", str(empty), "--expected", str(GOLDEN)]) == check.EXIT_MISSING == 3
    printed = capsys.readouterr().out
    assert "0 regression(s)" in printed and "4 with records missing" in printed
    # one record far off the golden mean: a regression wins over the three missing records
    out, record = damaged_store(one_record, tmp_path, "none")
    shutil.copy(one_record.with_name("fold1-seed0.predictions.npz"), store.predictions_path(record))
    data = json.loads(record.read_text(encoding="utf-8"))
    data["metrics"] = {name: (0.0 if value > 0.5 else 1.0) for name, value in data["metrics"].items()}
    record.write_text(json.dumps(data), encoding="utf-8")
    golden = tmp_path / "one_cell.yaml"
    text = GOLDEN.read_text(encoding="utf-8").replace("folds: [1, 2]", "folds: [1]").replace("seeds: [0, 1]",
                                                                                           "seeds: [0]")
    golden.write_text(text.replace("n: 4", "n: 1"), encoding="utf-8")
    assert main(["check", "--out", str(out), "--expected", str(golden)]) == check.EXIT_REGRESSION
    assert "regression(s)" in capsys.readouterr().out
