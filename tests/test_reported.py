"""The reported-numbers database: every committed file validates, its numbers are the papers',
its internal consistency checks hold (with documented exceptions), and bad input is refused
with a message naming the file and the key."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import numpy as np
import pytest

from bench import metrics, registry
from bench.api import TaskSpec
from bench.errors import DataError, PluginError
from bench.reporting import consistency, reported, tables

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "results"
PAPERS = REPO.parent / "shared" / "papers"


@pytest.fixture(scope="module")
def db() -> reported.Database:
    return reported.load_all(RESULTS)


# --------------------------------------------------------------------------- the committed files


def test_every_committed_file_is_loaded(db: reported.Database) -> None:
    paper_files = sorted(p.stem for p in (RESULTS / "reported").glob("*.yaml"))
    spec_files = sorted(p.stem for p in (RESULTS / "tables").glob("*.yaml"))
    assert sorted(db.papers) == paper_files
    assert sorted(f"{p}-{t}" for p, t in db.specs) == spec_files
    assert {"mma_dfer", "conclugen"} <= set(db.papers)


@pytest.mark.parametrize(("paper", "shape"), [
    ("mma_dfer", {"1": (30, 5), "2": (5, 3), "3": (5, 2), "4": (7, 2), "5": (3, 2), "6": (4, 3), "7": (5, 2)}),
    ("conclugen", {"1": (12, 2), "2": (3, 3), "3": (9, 4), "4": (9, 4), "5": (9, 4)}),
])
def test_every_cell_of_every_table_is_typed(db: reported.Database, paper: str, shape: dict) -> None:
    """MMA-DFER Tables 1-7 and ConCluGen Tables 1-5 are full grids: one cell per (row, column)."""
    assert sorted(db.papers[paper].tables) == sorted(shape)
    for table_id, (n_rows, n_cols) in shape.items():
        spec, table = db.table(f"{paper}:{table_id}")
        assert (len(spec.rows), len(spec.columns)) == (n_rows, n_cols)
        assert len(table.cells) == n_rows * n_cols
        assert all(table.cell(r, c) is not None for r in spec.rows for c in spec.columns)


def test_hand_checked_cells(db: reported.Database) -> None:
    """A few cells read off the papers by eye, including the paper's own precision."""
    mma1 = db.papers["mma_dfer"].tables["1"]
    best = mma1.cell("MMA (ours)_224", "DFEW / UAR")
    assert (best.value, best.metric, best.protocol, best.own) == (67.01, "uar", "dfew_5fold", True)
    assert best.reproduce == reported.Reproduce(
        "mma_dfer", "code", {"img_size": 224, "vision_weights": "<path>", "audio_weights": "<path>"})
    assert mma1.cell("T-ESFL [29] (AV)", "DFEW / UAR").value is None
    assert mma1.cell("HuBERT [15]", "MAFW / UAR").printed_decimals == 2  # printed "25.00"
    ablation = db.papers["mma_dfer"].tables["4"].cell("+ + + +", "UAR")
    assert ablation.reproduce.folds == (1,)
    con = db.papers["conclugen"].tables
    assert con["2"].cell("ConCluGen (linear eval.)", "CMU-MOSEI").printed_decimals == 1  # "60.0"
    assert con["4"].cell("ConClu", "Acc.").printed_decimals == 0  # "58"
    assert con["1"].cell("Franceschini et al. [19]", "Acc.").metric == "mosei_wacc"
    assert con["1"].cell("ConCluGen (ours)", "Acc.").metric == "ml_weighted_accuracy"


def test_every_value_is_printed_in_the_paper(db: reported.Database) -> None:
    """Each typed number occurs in its paper's text with the same digits (catches typos)."""
    checked = 0
    for paper in db.papers.values():
        text_file = PAPERS / paper.text
        if not text_file.is_file():
            continue
        text = text_file.read_text(encoding="utf-8")
        printed = {(round(float(tok), 6), len(tok.partition(".")[2])) for tok in re.findall(r"\d*\.\d+|\d+", text)}
        for table in paper.tables.values():
            for cell in table.cells:
                if cell.value is None:
                    continue
                assert (round(abs(cell.value), 6), cell.printed_decimals) in printed, cell.where
                checked += 1
    if not checked:
        pytest.skip(f"no paper texts under {PAPERS}")


def test_consistency_checks_hold_up_to_documented_exceptions(db: reported.Database) -> None:
    """Declared mean_of / equal_columns / same_as checks: no undocumented failure, no stale exception."""
    assert consistency.consistency_report(db) == []
    assert sum(len(s.mean_of) + len(s.equal_columns) + len(s.same_as) for s in db.specs.values()) >= 20


def test_multiclass_weighted_accuracy_is_weighted_recall(db: reported.Database) -> None:
    """ConCluGen Tables 4-5 (MELD, CAER) print Acc. == Recall in every row, as the identity says."""
    for table_id in ("4", "5"):
        spec, table = db.table(f"conclugen:{table_id}")
        assert ("Acc.", "Recall") in spec.equal_columns
        for row in spec.rows:
            acc, recall = table.cell(row, "Acc."), table.cell(row, "Recall")
            assert (acc.metric, recall.metric) == ("accuracy", "weighted_recall")
            assert acc.value == recall.value, row
    rng = np.random.default_rng(0)
    task = TaskSpec("classification", ("a", "b", "c", "d"))
    for _ in range(5):
        targets = rng.integers(0, 4, size=50)
        scores = metrics.compute(["accuracy", "weighted_recall"], task, rng.normal(size=(50, 4)), targets)
        assert scores["accuracy"] == pytest.approx(scores["weighted_recall"], abs=1e-12)


def test_the_mosei_linear_eval_inconsistency_is_documented(db: reported.Database) -> None:
    """ConCluGen prints 60.0 (Table 2) and 60.4 (Table 3) for the same linear evaluation."""
    spec, table3 = db.table("conclugen:3")
    table2 = db.papers["conclugen"].tables["2"]
    assert table3.cell("ConCluGen", "Acc.").value == 60.4
    assert table2.cell("ConCluGen (linear eval.)", "CMU-MOSEI").value == 60.0
    found = consistency.violations(db, spec)
    assert [(v.check, v.row, v.column) for v in found] == [("same_as", "ConCluGen", "Acc.")]
    assert [(e.check, e.row, e.column) for e in spec.exceptions] == [("same_as", "ConCluGen", "Acc.")]


def test_every_table_renders_against_an_empty_store(db: reported.Database, tmp_path: Path) -> None:
    """Every committed table, in every format; this also enforces one metric id per column (P3)."""
    for spec in db.specs.values():
        for fmt in tables.FORMATS:
            assert spec.rows[0] in tables.render(db, spec.table_id, tmp_path, fmt)


def test_reproduce_settings_are_valid_for_installed_methods(db: reported.Database) -> None:
    """Every reproduce: of an installed method resolves (config keys and values) and fits the method."""
    checked = 0
    for paper in db.papers.values():
        for table in paper.tables.values():
            for cell in table.cells:
                if cell.reproduce is None or cell.reproduce.method not in registry.methods.names():
                    continue
                try:
                    method_cls = registry.methods.get(cell.reproduce.method)
                except PluginError:
                    continue
                tables.resolved_config(tables.Query.for_cell(cell, cell.reproduce, cell.protocol))
                assert set(cell.modalities) <= set(method_cls.modalities), cell.where
                checked += 1
    if not checked:
        pytest.skip("no method named by a reproduce: is installed")


# --------------------------------------------------------------------------- bad input

PAPER = """\
paper: demo
title: "A demo paper"
venue: "Nowhere 2024"
text: "demo.txt"
tables:
  - id: "1"
    caption: "Demo"
    cells:
      - {row: "A", column: "UAR", metric: uar, value: 50.00, unit: percent, protocol: synthetic_5fold, modalities: [video], runs: null, own: true}
      - {row: "A", column: "WAR", metric: war, value: 60.00, unit: percent, protocol: synthetic_5fold, modalities: [video], runs: null, own: true}
      - {row: "B", column: "UAR", metric: uar, value: 40.00, unit: percent, protocol: synthetic_5fold, modalities: [video], runs: null, own: false}
      - {row: "B", column: "WAR", metric: war, value: 30.00, unit: percent, protocol: synthetic_5fold, modalities: [video], runs: null, own: false}
"""
SPEC = """\
paper: demo
table: "1"
title: "Demo"
rows: ["A", "B"]
columns: ["UAR", "WAR"]
decimals: 2
"""


def write_db(root: Path, paper: str = PAPER, spec: str = SPEC) -> Path:
    (root / "reported").mkdir(parents=True, exist_ok=True)
    (root / "tables").mkdir(parents=True, exist_ok=True)
    (root / "reported" / "demo.yaml").write_text(textwrap.dedent(paper), encoding="utf-8")
    (root / "tables" / "demo-1.yaml").write_text(textwrap.dedent(spec), encoding="utf-8")
    return root


def load_error(root: Path) -> str:
    with pytest.raises(DataError) as info:
        reported.load_all(root)
    return str(info.value)


def test_the_demo_database_is_valid(tmp_path: Path) -> None:
    db = reported.load_all(write_db(tmp_path))
    assert db.table("demo:1")[1].cell("B", "WAR").value == 30.0


def test_missing_key_names_file_and_key(tmp_path: Path) -> None:
    message = load_error(write_db(tmp_path, PAPER.replace("value: 40.00, unit: percent, ", "value: 40.00, ", 1)))
    assert message.startswith(f"{tmp_path / 'reported' / 'demo.yaml'}:11: ")  # the line of that cell
    assert "cells[2]" in message and "row 'B'" in message and "key 'unit' is missing" in message


def test_unknown_metric_names_file_and_suggests(tmp_path: Path) -> None:
    message = load_error(write_db(tmp_path, PAPER.replace("metric: war, value: 30.00", "metric: warr, value: 30.00")))
    assert str(tmp_path / "reported" / "demo.yaml") in message
    assert "metric: 'warr'" in message and "did you mean 'war'" in message and "descriptive_metrics" in message


def test_declared_descriptive_metric_is_accepted(tmp_path: Path) -> None:
    paper = PAPER.replace('text: "demo.txt"\n', 'text: "demo.txt"\ndescriptive_metrics:\n  warr: "a made-up score"\n')
    paper = paper.replace("metric: war, value: 30.00", "metric: warr, value: 30.00")
    assert reported.load_all(write_db(tmp_path, paper)).papers["demo"].descriptive_metrics == {"warr": "a made-up score"}


def test_metric_of_the_wrong_task_kind_is_refused(tmp_path: Path) -> None:
    message = load_error(write_db(tmp_path, PAPER.replace("metric: war, value: 30.00", "metric: ccc, value: 30.00")))
    assert "metric 'ccc' applies to regression tasks but protocol 'synthetic_5fold' is a classification task" in message


def test_duplicate_row_column_is_refused(tmp_path: Path) -> None:
    message = load_error(write_db(tmp_path, PAPER.replace('{row: "B", column: "WAR"', '{row: "B", column: "UAR"')))
    assert str(tmp_path / "reported" / "demo.yaml") in message
    assert "duplicate (row, column) ('B', 'UAR')" in message and "cells[2]" in message


def test_spec_row_without_cells_is_refused(tmp_path: Path) -> None:
    message = load_error(write_db(tmp_path, spec=SPEC.replace('rows: ["A", "B"]', 'rows: ["A", "B", "C"]')))
    assert str(tmp_path / "tables" / "demo-1.yaml") in message and "rows: 'C' has no cells" in message


def test_cell_outside_the_spec_is_refused(tmp_path: Path) -> None:
    message = load_error(write_db(tmp_path, spec=SPEC.replace('rows: ["A", "B"]', 'rows: ["A"]')))
    assert "row 'B' is not in the rows of" in message and "demo-1.yaml" in message


def test_duplicate_yaml_key_is_refused(tmp_path: Path) -> None:
    message = load_error(write_db(tmp_path, spec=SPEC + "decimals: 1\n"))
    assert "demo-1.yaml:7" in message and "key 'decimals' is given twice" in message


def test_unquoted_numeric_label_is_refused(tmp_path: Path) -> None:
    message = load_error(write_db(tmp_path, spec=SPEC.replace('rows: ["A", "B"]', "rows: [64, B]")))
    assert "rows: expected a non-empty list of quoted labels" in message


def test_unknown_protocol_and_unit_are_refused(tmp_path: Path) -> None:
    assert "protocol: unknown protocol 'synthetic_5fld' (did you mean 'synthetic_5fold'?)" in load_error(
        write_db(tmp_path, PAPER.replace("protocol: synthetic_5fold", "protocol: synthetic_5fld", 1)))
    assert "unit: unknown unit 'percnt'" in load_error(
        write_db(tmp_path, PAPER.replace("unit: percent", "unit: percnt", 1)))


def test_reproduce_names_the_preset_that_produced_the_number(tmp_path: Path) -> None:
    paper = PAPER.replace("own: true}", "own: true, reproduce: {method: late_fusion, set: {epochs: 3}}}", 1)
    message = load_error(write_db(tmp_path, paper))
    assert "cells[0]" in message and "reproduce: key 'preset' is missing" in message and "code" in message
    named = PAPER.replace("own: true}", "own: true, reproduce: {method: late_fusion, preset: code}}", 1)
    cell = reported.load_all(write_db(tmp_path, named)).table("demo:1")[1].cell("A", "UAR")
    assert cell.reproduce == reported.Reproduce("late_fusion", "code")


def test_mma_dfer_cells_replay_the_official_code(db: reported.Database) -> None:
    """MMA-DFER's numbers came from the official code: every one of its reruns is the code preset."""
    presets = {cell.reproduce.preset for table in db.papers["mma_dfer"].tables.values() for cell in table.cells
               if cell.reproduce is not None}
    assert presets == {"code"}


def test_reproduce_only_on_rows_with_a_protocol(tmp_path: Path) -> None:
    paper = PAPER.replace("own: false}", "own: false, reproduce: {method: late_fusion, preset: paper}}", 1)
    assert reported.load_all(write_db(tmp_path, paper)).papers["demo"]  # a baseline the authors trained
    paper = paper.replace("protocol: synthetic_5fold, modalities: [video], runs: null, own: false, reproduce",
                          "protocol: null, modalities: [video], runs: null, own: false, reproduce", 1)
    assert "reproduce: only rows with a protocol can be reproduced" in load_error(write_db(tmp_path, paper))


def test_value_out_of_range_is_refused(tmp_path: Path) -> None:
    assert "value: 140.0 is not a percentage in [0, 100]" in load_error(
        write_db(tmp_path, PAPER.replace("value: 40.00", "value: 140.00")))


# --------------------------------------------------------------------------- the checks, by hand

AVG_PAPER = """\
paper: demo
title: "A demo paper"
venue: "Nowhere 2024"
text: "demo.txt"
tables:
  - id: "1"
    caption: "Demo"
    cells:
      - {row: "A", column: "X", metric: uar, value: 50.00, unit: percent, protocol: synthetic_5fold, modalities: [], runs: null, own: false}
      - {row: "A", column: "Y", metric: war, value: 61.00, unit: percent, protocol: synthetic_5fold, modalities: [], runs: null, own: false}
      - {row: "A", column: "Avg.", metric: macro_f1, value: AVG_A, unit: percent, protocol: synthetic_5fold, modalities: [], runs: null, own: false}
      - {row: "B", column: "X", metric: uar, value: 40.00, unit: percent, protocol: synthetic_5fold, modalities: [], runs: null, own: false}
      - {row: "B", column: "Y", metric: war, value: 41.00, unit: percent, protocol: synthetic_5fold, modalities: [], runs: null, own: false}
      - {row: "B", column: "Avg.", metric: macro_f1, value: 40.5, unit: percent, protocol: synthetic_5fold, modalities: [], runs: null, own: false}
"""
AVG_SPEC = """\
paper: demo
table: "1"
title: "Demo"
rows: ["A", "B"]
columns: ["X", "Y", "Avg."]
decimals: 2
mean_of:
  "Avg.": ["X", "Y"]
"""


def avg_db(root: Path, avg_a: str, extra_spec: str = "") -> reported.Database:
    return reported.load_all(write_db(root, AVG_PAPER.replace("AVG_A", avg_a), AVG_SPEC + extra_spec))


def test_mean_of_tolerates_printed_rounding_only(tmp_path: Path) -> None:
    """Row A: mean of 50.00 and 61.00 is 55.50; row B prints 40.5 (one decimal): tolerance 0.05 + 0.005."""
    assert consistency.consistency_report(avg_db(tmp_path, "55.51")) == []  # 0.01 <= 0.005 + 0.005
    db = avg_db(tmp_path, "55.52")  # 0.02 > 0.01
    [violation] = consistency.violations(db, db.specs[("demo", "1")])
    assert (violation.check, violation.row, violation.column) == ("mean_of", "A", "Avg.")
    assert "printed 55.52 but the mean of X, Y is 55.5000" in str(violation)
    [problem] = consistency.consistency_report(db)
    assert "not listed under exceptions" in problem and "demo-1.yaml" in problem


def test_documented_exception_silences_exactly_its_cell(tmp_path: Path) -> None:
    exception = ('exceptions:\n  - {check: mean_of, row: "A", column: "Avg.", '
                 'note: "the paper averages before rounding"}\n')
    assert consistency.consistency_report(avg_db(tmp_path, "55.60", exception)) == []
    [stale] = consistency.consistency_report(avg_db(tmp_path, "55.50", exception))
    assert "exception mean_of at ('A', 'Avg.') is listed but the check passes" in stale


def test_mean_of_must_name_columns_of_the_table(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"mean_of\.Avg\.: expected a list of at least two other columns"):
        reported.load_all(write_db(tmp_path, AVG_PAPER.replace("AVG_A", "55.50"),
                                   AVG_SPEC.replace('["X", "Y"]', '["X", "Z"]')))


def test_a_cell_fixing_its_seed_reruns_and_matches_only_that_seed(tmp_path: Path) -> None:
    """ConCluGen's code seeds every run with 127: its cells say so, the rerun command passes it and
    only records of that seed reproduce them."""
    db = reported.load_all()
    cell = next(c for c in db.papers["conclugen"].tables["2"].cells if c.reproduce is not None)
    assert cell.reproduce.seeds == (127,)
    query = tables.Query.for_cell(cell, cell.reproduce, cell.protocol)
    assert "--seed 127" in tables.run_command(query, tmp_path)
    base = {"method": query.method, "protocol": {"name": query.protocol,
                                                 "hash": tables._protocol(query.protocol).hash},
            "preset": query.preset, "config": {}, "modalities": list(cell.modalities), "fold": "official"}
    regime = dict(tables._own_regime(tables._protocol(query.protocol)) or {})
    records = [{**base, "seed": seed, "regime": regime} for seed in (0, 127)]
    assert [r["seed"] for r in tables.matching(records, query, {})] == [127]
