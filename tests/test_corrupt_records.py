"""Corrupt run records are named by ``check``, ``status``, ``table``, ``rescore`` and ``plot``, and moved aside
on rerun, never overwritten; ``bench check`` tells missing records (exit 3) from regressions (exit 1).

Corrupt includes tampered: a record whose numbers are not its predictions', whose predictions file was
truncated or swapped, or that lacks a key of the typed record. Such a record is named (file and reason),
counted, left out of every mean, and its cell rerun; the committed store of ``results/reproduced/`` is
verified the same way.

Before: ``bench check`` said "3 of 4 records", ``bench status`` "the record is gone", a rerun
overwrote the damaged file, and a store without records exited 1 with "4 regression(s)"; an edited
``uar`` passed, a truncated or swapped predictions file counted "0 corrupt record(s)", a record without
``metrics`` crashed ``check``, ``rescore`` and ``plot`` with a KeyError, and an edited accuracy in
``results/reproduced/`` turned a known GAP line into "ok".
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import scored_records
from test_check import write_db

from bench.cli import main
from bench.records import store
from bench.reporting import check, reported, reproduced, tables, verify
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
    data = json.loads(record.read_text(encoding="utf-8"))
    predictions = store.predictions_path(record)
    if damage == "truncated":
        record.write_text(record.read_text(encoding="utf-8")[:200], encoding="utf-8")
    elif damage == "schema":
        record.write_text(json.dumps({"schema_version": 99}), encoding="utf-8")
    elif damage in ("uar", "uar_unsealed"):  # an edited number; unsealed: as in a record written before integrity
        data["metrics"]["uar"] = 0.99
        if damage == "uar_unsealed":
            del data["integrity"]
        record.write_text(json.dumps(data), encoding="utf-8")
    elif damage in ("npz_truncated", "npz_truncated_unsealed"):
        predictions.write_bytes(predictions.read_bytes()[:300])
        if damage == "npz_truncated_unsealed":
            del data["integrity"]
            record.write_text(json.dumps(data), encoding="utf-8")
    elif damage in ("npz_swapped_unsealed", "npz_scalar_ids_unsealed"):  # other test ids; a malformed file
        with np.load(predictions) as arrays:
            other = {name: arrays[name] for name in arrays.files}
        other["ids"] = np.array([f"other{i}" for i in range(len(other["ids"]))]) if damage == "npz_swapped_unsealed" \
            else np.array("x")
        np.savez(predictions, **other)
        del data["integrity"]
        record.write_text(json.dumps(data), encoding="utf-8")
    elif damage in ("no_metrics", "no_fold"):
        del data[damage.removeprefix("no_")]
        record.write_text(json.dumps(data), encoding="utf-8")
    else:
        predictions.unlink()
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
    # one record far off the golden mean (every prediction wrong): a regression wins over the three missing records
    out, record = damaged_store(one_record, tmp_path, "none")
    shutil.copy(one_record.with_name("fold1-seed0.predictions.npz"), store.predictions_path(record))
    scored_records.regress(record)
    golden = tmp_path / "one_cell.yaml"
    text = GOLDEN.read_text(encoding="utf-8").replace("folds: [1, 2]", "folds: [1]").replace("seeds: [0, 1]",
                                                                                           "seeds: [0]")
    golden.write_text(text.replace("n: 4", "n: 1"), encoding="utf-8")
    assert main(["check", "--out", str(out), "--expected", str(golden)]) == check.EXIT_REGRESSION
    assert "regression(s)" in capsys.readouterr().out


TAMPERED = [
    ("uar", "tampered: its content does not match its integrity.record_sha256 (edited after bench wrote it)"),
    ("uar_unsealed", "tampered: metrics.uar is 0.99 in the record but 0.708333 recomputed from "
                     "fold1-seed0.predictions.npz"),
    ("npz_truncated", "tampered: its predictions file fold1-seed0.predictions.npz is not the one it was written "
                      "with (integrity.predictions_sha256 differs: replaced, truncated or edited)"),
    ("npz_truncated_unsealed", "its predictions file fold1-seed0.predictions.npz is unreadable (BadZipFile: "),
    ("npz_swapped_unsealed", "tampered: its predictions file fold1-seed0.predictions.npz holds other test ids than "
                             "its data.split.test fingerprint (another cell's predictions?)"),
    ("npz_scalar_ids_unsealed", "its predictions file fold1-seed0.predictions.npz holds ids, outputs and targets "
                                "of different lengths"),
    ("no_metrics", "run record without metrics"),
    ("no_fold", "run record without fold"),
]


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A one-cell reported database without committed records: the commands compare the user store alone."""
    root = tmp_path_factory.mktemp("demo-db")
    write_db(root, "")
    return root


@pytest.mark.parametrize("damage,reason", TAMPERED, ids=[t[0] for t in TAMPERED])
def test_every_reading_command_names_a_tampered_record_and_leaves_it_out(
        one_record: Path, demo_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, damage: str, reason: str,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("BENCH_REPORTED_ROOT", str(demo_db))
    out, record = damaged_store(one_record, tmp_path, damage)
    line = f"corrupt record {record}: {reason}"
    before = record.read_bytes()

    assert main(["check", "--out", str(out), "--expected", str(GOLDEN)]) == check.EXIT_MISSING
    printed = capsys.readouterr().out
    assert line in printed and "0 regression(s)" in printed and "1 corrupt record(s)" in printed
    assert "0 of 1 records" in printed or "0 of 4 records" in printed  # never averaged

    assert main(["table", "demo:1", "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert line in err and "1 corrupt record(s) left out" in err

    assert main(["rescore", "--out", str(out), "--metric", "accuracy"]) == 0
    captured = capsys.readouterr()
    assert line in captured.err and "0 record(s) rescored" in captured.out
    assert record.read_bytes() == before  # a corrupt record is never rewritten

    assert main(["plot", "--out", str(out)]) == 2  # nothing left to plot
    err = capsys.readouterr().err
    assert line in err and "no run records to plot" in err and "1 corrupt record(s) left out" in err


def _committed_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of results/ (reported numbers, tables, the committed records) that bench reads instead."""
    root = tmp_path / "results"
    shutil.copytree(REPO / "results", root)
    monkeypatch.setenv("BENCH_REPORTED_ROOT", str(root))
    return root


def _acoustics_records(root: Path) -> list[Path]:
    """The committed records behind MPUC Table I's (Unimodal (Acoustics), Actor Split ✓) accuracy: a known GAP."""
    db = reported.load_all(root)
    cell = next(c for c in db.papers["mpuc"].tables["I"].cells
                if (c.row, c.column) == ("Unimodal (Acoustics)", "Actor Split ✓ / ACC (%)"))
    query = tables.Query.for_cell(cell, cell.reproduce, cell.protocol)
    found = reproduced.records(root / "reproduced")
    matched = {id(r) for r in tables.matching([r for _, r in found], query, tables.resolved_config(query))}
    return [path for path, r in found if id(r) in matched]


def _gap_line(printed: str) -> str:
    return next(line for line in printed.splitlines() if "('Unimodal (Acoustics)', 'Actor Split ✓ / ACC (%)')" in line)


def test_the_committed_store_proves_itself_and_a_tampered_record_there_is_named(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """An accuracy raised in one committed record widened the spread, and with it the tolerance, until the known
    GAP read "ok"; now the record is named as tampered and the GAP stays a GAP over the other nine."""
    root = _committed_copy(tmp_path, monkeypatch)
    assert verify.scan(root / "reproduced").corrupt == []  # every committed number is its predictions'
    paths = _acoustics_records(root)
    assert len(paths) == 10
    no_expected = tmp_path / "no-expected"
    no_expected.mkdir()
    command = ["check", "--out", str(tmp_path / "empty"), "--expected", str(no_expected)]
    data = json.loads(paths[0].read_text(encoding="utf-8"))
    data["metrics"]["accuracy"] = 1.0
    paths[0].write_text(json.dumps(data), encoding="utf-8")
    assert main(command) == check.EXIT_MISSING
    printed = capsys.readouterr().out
    assert f"corrupt record {paths[0]}: tampered: " in printed and "1 corrupt record(s)" in printed
    assert _gap_line(printed).startswith("GAP ") and "n 9" in _gap_line(printed)
    assert "0 regression(s)" in printed


def test_swapped_predictions_in_the_committed_store_are_both_named(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    root = _committed_copy(tmp_path, monkeypatch)
    first, second = _acoustics_records(root)[:2]
    a, b = store.predictions_path(first), store.predictions_path(second)
    a_bytes = a.read_bytes()
    a.write_bytes(b.read_bytes())
    b.write_bytes(a_bytes)
    table = "mpuc:I"
    assert main(["table", table, "--out", str(tmp_path / "empty")]) == 0
    err = capsys.readouterr().err
    for record in (first, second):
        assert f"corrupt record {record}: tampered: its predictions file {store.predictions_path(record).name} " in err
    assert "2 corrupt record(s) left out" in err


@pytest.mark.slow
def test_a_rerun_recomputes_a_tampered_cell_and_keeps_the_bad_files_aside(one_record: Path, tmp_path: Path) -> None:
    out, record = damaged_store(one_record, tmp_path, "uar")
    tampered = record.read_bytes()
    [result] = run.execute(run.make_plan(request(out)))
    assert not result.skipped and store.read(record)["metrics"] == store.read(one_record)["metrics"]
    assert Path(f"{record}.corrupt").read_bytes() == tampered
    assert Path(f"{store.predictions_path(record)}.corrupt").is_file()
