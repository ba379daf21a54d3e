"""``bench check``: the committed golden grid reruns within its tolerance; a perturbed or
incomplete store fails with a readable report; reported numbers are compared too."""

from __future__ import annotations

import json
import re
import shutil
import textwrap
from pathlib import Path

import pytest
import scored_records

from bench.cli import main
from bench.errors import DataError
from bench.records import store
from bench.reporting import check, reported
from bench.running import run

REPO = Path(__file__).resolve().parents[1]
EXPECTED = REPO / "results" / "expected"
GOLDEN = EXPECTED / "synthetic_golden.yaml"


@pytest.fixture(scope="module")
def golden_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Run exactly the cells of the committed golden file (late_fusion, tiny, 2 folds × 2 seeds).

    With an empty cache of its own (the synthetic data and its features are made afresh), as the
    golden numbers were: a module fixture runs before the per-test cache of conftest.py.
    """
    base = tmp_path_factory.mktemp("golden")
    out = base / "store"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("BENCH_CACHE", str(base / "cache"))
        for golden in check.load_expected(EXPECTED):
            for cell in golden.cells:
                q = cell.query
                request = run.RunRequest(method=q.method, protocol=q.protocol, folds=[str(f) for f in q.folds],
                                         seeds=list(q.seeds), preset=q.preset, overrides=dict(q.overrides),
                                         modalities=list(q.modalities) or None, out=out, progress=False)
                run.execute(run.make_plan(request))
    return out


@pytest.fixture(scope="module")
def empty_db(tmp_path_factory: pytest.TempPathFactory) -> reported.Database:
    """A reported database without reproducible cells, so only the expected numbers are compared."""
    root = tmp_path_factory.mktemp("db")
    write_db(root, "")
    return reported.load_all(root)


def write_db(root: Path, cells: str) -> None:
    (root / "reported").mkdir(parents=True, exist_ok=True)
    (root / "tables").mkdir(exist_ok=True)
    base = '      - {row: "Cited", column: "UAR", metric: uar, value: 10.00, unit: percent, protocol: synthetic_5fold, ' \
           'modalities: [], runs: null, own: false}\n'
    (root / "reported" / "demo.yaml").write_text(textwrap.dedent("""\
        paper: demo
        title: "Demo"
        venue: "Nowhere 2024"
        text: "demo.txt"
        tables:
          - id: "1"
            caption: "Demo"
            cells:
        """) + base + cells, encoding="utf-8")
    rows = ['"Cited"'] + [f'"{r}"' for r in sorted({line.split('"')[1] for line in cells.splitlines() if line})]
    (root / "tables" / "demo-1.yaml").write_text(
        f'paper: demo\ntable: "1"\ntitle: "Demo"\nrows: [{", ".join(rows)}]\ncolumns: ["UAR"]\ndecimals: 2\n',
        encoding="utf-8")


def records(root: Path) -> list[Path]:
    return [path for path, _ in store.iter_records(root)]


@pytest.mark.slow  # its fixture trains the golden cells afresh: about 2 min at load 9 on two cores
def test_golden_cells_pass(golden_store: Path, empty_db: reported.Database) -> None:
    findings = check.run_check(golden_store, EXPECTED, empty_db)
    assert [(f.metric, f.status) for f in findings] == [
        ("uar", "ok"), ("war", "ok"), ("weighted_f1", "ok"), ("macro_f1", "ok")]
    assert len(records(golden_store)) == 4


@pytest.mark.slow  # the same fixture as test_golden_cells_pass
def test_the_cli_passes_on_the_golden_store(golden_store: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "--out", str(golden_store), "--expected", str(GOLDEN)]) == 0
    assert "0 regression(s)" in capsys.readouterr().out


@pytest.mark.slow  # the same fixture as test_golden_cells_pass
def test_a_perturbed_metric_fails_with_a_readable_message(golden_store: Path, empty_db: reported.Database,
                                                          tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """One record's predictions all wrong (as broken code would write it, sealed): its UAR drops to 0 and the
    mean by a quarter of what it was, beyond the golden 3·σ/√n (≈ 0.054)."""
    perturbed = tmp_path / "store"
    shutil.copytree(golden_store, perturbed)
    measured = [json.loads(p.read_text(encoding="utf-8"))["metrics"]["uar"] for p in records(golden_store)]
    assert scored_records.regress(records(perturbed)[0])["metrics"]["uar"] == 0.0
    got = sum(measured[1:]) / len(measured)  # the golden cells as rerun here, one of them regressed
    [golden] = check.load_expected(GOLDEN)
    want = golden.cells[0].metrics["uar"]
    tol = check.tolerance(want.std, want.n, golden.k, 0.5e-6)
    assert measured[0] / len(measured) > tol
    findings = check.run_check(perturbed, GOLDEN, empty_db)
    failures = [f for f in findings if f.failed]
    assert {f.metric for f in failures} == {"uar", "war", "weighted_f1", "macro_f1"}  # all fell with the predictions
    failure = failures[0]
    assert (failure.metric, failure.status) == ("uar", "regression")
    assert failure.got == pytest.approx(got, abs=1e-9)
    assert failure.tolerance == pytest.approx(tol)
    message = str(failure)
    assert message.startswith("FAIL synthetic_golden: late_fusion × synthetic_5fold (preset tiny; epochs=6; "
                              f"folds 1,2; seeds 0,1) uar: expected {want.mean:.6g}, got {got:.6g}")
    assert f"> tolerance {tol:.6g}" in message and f"golden σ {want.std:.6g}, n 4" in message
    assert main(["check", "--out", str(perturbed), "--expected", str(GOLDEN)]) == 1
    out = capsys.readouterr().out
    assert out.splitlines()[1] == message and "4 regression(s), 0 within tolerance" in out
    assert "0 corrupt record(s)" in out  # a regressed run is no corrupt record


@pytest.mark.slow  # the same fixture as test_golden_cells_pass
def test_missing_records_fail_and_say_how_to_produce_them(golden_store: Path, empty_db: reported.Database,
                                                          tmp_path: Path) -> None:
    partial = tmp_path / "store"
    shutil.copytree(golden_store, partial)
    records(partial)[-1].unlink()
    findings = check.run_check(partial, GOLDEN, empty_db)
    assert {f.status for f in findings} == {"missing"}
    assert "3 of 4 records in the store; produce them with bench run --method late_fusion --protocol " \
           "synthetic_5fold --fold 1 --fold 2 --seed 0 --seed 1 --preset tiny --set epochs=6 --out" in str(findings[0])


def test_tolerance_is_k_standard_errors_but_never_below_rounding() -> None:
    assert check.tolerance(0.02, 4, 3.0, 0.5e-6) == pytest.approx(0.03)
    assert check.tolerance(0.0, 4, 3.0, 0.5e-6) == 0.5e-6
    assert check.tolerance(0.001, 1, 3.0, 0.005) == 0.005


@pytest.mark.slow  # the same fixture as test_golden_cells_pass
def test_reported_numbers_are_compared_within_spread_and_rounding(golden_store: Path, tmp_path: Path) -> None:
    """Golden UAR is 74.4792 % ± 3.5580 (n=4): tolerance max(3·3.5580/2, 0.005) = 5.337 points."""
    repro = "reproduce: {method: late_fusion, preset: tiny, set: {epochs: 6}}"
    cells = "".join(
        f'      - {{row: "{row}", column: "UAR", metric: uar, value: {value}, unit: percent, protocol: synthetic_5fold, '
        f'modalities: [], runs: null, own: true, {repro}}}\n'
        for row, value in (("Close", "70.00"), ("Far", "80.00")))
    write_db(tmp_path, cells)
    no_expected = tmp_path / "no-expected"
    no_expected.mkdir()
    findings = check.run_check(golden_store, no_expected, reported.load_all(tmp_path))
    by_row = {f.cell: f for f in findings}
    assert by_row["('Close', 'UAR')"].status == "ok"
    far = by_row["('Far', 'UAR')"]
    assert far.status == "regression" and far.tolerance == pytest.approx(3 * 3.5580 / 2, abs=1e-3)
    assert str(far).startswith("FAIL demo:1: ('Far', 'UAR') uar: expected 80, got 74.4792, |Δ| 5.52083 > tolerance 5.33695")


@pytest.mark.slow  # the same fixture as test_golden_cells_pass
def test_one_record_is_unverifiable_not_a_pass(golden_store: Path, tmp_path: Path) -> None:
    single = tmp_path / "store"
    shutil.copytree(golden_store, single)
    for path in records(single)[1:]:
        path.unlink()
    write_db(tmp_path, '      - {row: "Ours", column: "UAR", metric: uar, value: 99.00, unit: percent, '
                       'protocol: synthetic_5fold, modalities: [], runs: null, own: true, '
                       'reproduce: {method: late_fusion, preset: tiny, set: {epochs: 6}}}\n')
    [finding] = check.check_reported(reported.load_all(tmp_path), [r for _, r in store.iter_records(single)])
    assert finding.status == "unverifiable" and not finding.failed
    assert "one record: no spread over folds and seeds" in str(finding)


def test_a_malformed_expected_file_names_file_and_key(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(GOLDEN.read_text(encoding="utf-8").replace("std: 0.035580", "sd: 0.035580", 1), encoding="utf-8")
    with pytest.raises(DataError) as info:
        check.load_expected(bad)
    assert re.fullmatch(rf"{re.escape(str(bad))}:\d+: cells\[0\]: metrics\.uar: key 'std' is missing", str(info.value))


def test_the_golden_file_covers_the_golden_grid() -> None:
    """CI runs grids/synthetic_golden.yaml; the expected file must describe exactly those cells."""
    import yaml

    grid = yaml.safe_load((REPO / "grids" / "synthetic_golden.yaml").read_text(encoding="utf-8"))
    [golden] = check.load_expected(GOLDEN)
    cells = {(c.query.method, c.query.protocol, c.query.preset, tuple(sorted(c.query.overrides.items())),
              c.query.folds, c.query.seeds) for c in golden.cells}
    assert cells == {(m, p, grid["preset"], tuple(sorted(o.items())), tuple(grid["folds"]), tuple(grid["seeds"]))
                     for m in grid["methods"] for p in grid["protocols"] for o in grid["overrides"]}


@pytest.mark.slow  # trains a golden cell again on top of the fixture's
def test_a_golden_cell_alone_equals_it_after_the_others(golden_store: Path, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """fold2-seed0 rerun alone, on data regenerated into an empty cache, gives the record it got as
    the third cell of the golden run: neither earlier cells nor the regenerated files move it (the
    synthetic video once decoded differently from one generation to the next)."""
    monkeypatch.setenv("BENCH_CACHE", str(tmp_path / "cache"))
    [golden] = check.load_expected(GOLDEN)
    q = golden.cells[0].query
    request = run.RunRequest(method=q.method, protocol=q.protocol, folds=["2"], seeds=[0], preset=q.preset,
                             overrides=dict(q.overrides), out=tmp_path / "store", progress=False)
    [alone] = run.execute(run.make_plan(request))
    [together] = [json.loads(p.read_text(encoding="utf-8")) for p in records(golden_store)
                  if p.name == "fold2-seed0.json"]
    assert alone.record["metrics"] == together["metrics"]
    assert alone.record["history"] == together["history"]
