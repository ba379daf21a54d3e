"""``bench table``: a small fixture database and a hand-built results store, rendered and
compared cell by cell with numbers computed by hand; LaTeX and CSV outputs parse."""

from __future__ import annotations

import csv
import io
import re
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import scored_records

from bench import protocols
from bench.cli import main
from bench.errors import BenchError, DataError
from bench.records import store
from bench.reporting import reported, tables

PAPER = """\
paper: demo
title: "A demo paper"
venue: "Nowhere 2024"
text: "demo.txt"
tables:
  - id: "1"
    caption: "Demo"
    cells:
      - {row: "LF (ours)", column: "UAR", metric: uar, value: 64.00, unit: percent, protocol: synthetic_5fold, modalities: [], runs: null, own: true, reproduce: {method: late_fusion, preset: tiny, set: {epochs: 3}}}
      - {row: "LF (ours)", column: "WAR", metric: war, value: 60.0, unit: percent, protocol: synthetic_5fold, modalities: [], runs: null, own: true, reproduce: {method: late_fusion, preset: tiny, set: {epochs: 3}}}
      - {row: "LF fold 1 (ours)", column: "UAR", metric: uar, value: 50.00, unit: percent, protocol: synthetic_5fold, modalities: [], runs: null, own: true, reproduce: {method: late_fusion, preset: tiny, set: {epochs: 3}, folds: [1]}}
      - {row: "LF fold 1 (ours)", column: "WAR", metric: war, value: null, unit: percent, protocol: synthetic_5fold, modalities: [], runs: null, own: true, reproduce: {method: late_fusion, preset: tiny, set: {epochs: 3}, folds: [1]}}
      - {row: "LF 5 ep. (ours)", column: "UAR", metric: uar, value: 70.00, unit: percent, protocol: synthetic_5fold, modalities: [video, audio], runs: null, own: true, reproduce: {method: late_fusion, preset: tiny, set: {epochs: 5}}, note: "audio and video only"}
      - {row: "LF 5 ep. (ours)", column: "WAR", metric: war, value: 71.00, unit: percent, protocol: synthetic_5fold, modalities: [video, audio], runs: null, own: true, reproduce: {method: late_fusion, preset: tiny, set: {epochs: 5}}, note: "audio and video only"}
      - {row: "LF 7 ep. (ours)", column: "UAR", metric: uar, value: 80.00, unit: percent, protocol: synthetic_5fold, modalities: [], runs: null, own: true, reproduce: {method: late_fusion, preset: tiny, set: {epochs: 7}}}
      - {row: "LF 7 ep. (ours)", column: "WAR", metric: war, value: 80.00, unit: percent, protocol: synthetic_5fold, modalities: [], runs: null, own: true, reproduce: {method: late_fusion, preset: tiny, set: {epochs: 7}}}
      - {row: "Cited [1]", column: "UAR", metric: uar, value: 70.12, unit: percent, protocol: synthetic_5fold, modalities: [video], runs: null, own: false}
      - {row: "Cited [1]", column: "WAR", metric: war, value: null, unit: percent, protocol: synthetic_5fold, modalities: [video], runs: null, own: false}
"""
SPEC = """\
paper: demo
table: "1"
title: "Demo table"
row_header: "Method"
rows: ["LF (ours)", "LF fold 1 (ours)", "LF 5 ep. (ours)", "LF 7 ep. (ours)", "Cited [1]"]
columns: ["UAR", "WAR"]
decimals: 2
notes:
  - "A demo note."
"""
ALL = ["video", "audio", "text", "landmarks"]

# Hand-computed from the records below (values in percent):
#   epochs 3, all folds: UAR 50, 60, 70, 80 -> mean 65.00, sample std sqrt(500/3) = 12.91, Δ +1.00
#                        WAR 55, 65, 60, 60 -> mean 60.00, sample std sqrt(50/3)  = 4.08,  Δ +0.00
#   epochs 3, fold 1:    UAR 50, 60 -> 55.00 ± 7.07 (n=2), Δ +5.00; WAR 55, 65 -> 60.00 ± 7.07,
#                        reported "-": Δ "—"
#   epochs 7 (one record, selected on test): UAR 90.00 ± 0.00 (n=1, 1/5 folds), Δ +10.00
GOLDEN = [
    ["Method", "UAR", "WAR"],
    ["LF (ours)", "64.00 | 65.00 ± 12.91 (n=4, 2/5 folds) | +1.00", "60.0 | 60.00 ± 4.08 (n=4, 2/5 folds) | +0.00"],
    ["LF fold 1 (ours)", "50.00 | 55.00 ± 7.07 (n=2) | +5.00", "— | 60.00 ± 7.07 (n=2) | —"],
    ["LF 5 ep. (ours)", "70.00 (1) | — (r1) | —", "71.00 (1) | — (r1) | —"],
    ["LF 7 ep. (ours) †", "80.00 | 90.00 ± 0.00 (n=1, 1/5 folds) | +10.00",
     "80.00 | 90.00 ± 0.00 (n=1, 1/5 folds) | +10.00"],
    ["Cited [1]", "70.12", "—"],
]


def record(fold: int, seed: int, epochs: int, uar: float, war: float, **extra: Any) -> dict[str, Any]:
    protocol = protocols.load("synthetic_5fold")
    config = tables.resolved_config(tables.Query("late_fusion", "synthetic_5fold", "tiny", {"epochs": epochs}))
    rec = {
        "schema_version": store.SCHEMA_VERSION, "method": "late_fusion", "preset": "tiny",
        "protocol": {"name": protocol.name, "hash": protocol.hash, "leaky": protocol.leaky},
        "fold": f"fold{fold}", "seed": seed, "config": config, "config_hash": f"ep{epochs}",
        "modalities": ALL, "regime": {"kind": "supervised", "pretrain": False},
        "selection": {"rule": "last_epoch", "on_test": False}, "metrics": {"uar": uar, "war": war},
    }
    for key, value in extra.items():
        rec[key] = {**rec[key], **value} if isinstance(rec.get(key), dict) else value
    return rec


def write(root: Path, rec: dict[str, Any], tag: str = "") -> None:
    path = store.record_path(root, rec["protocol"]["name"], rec["method"], rec["config_hash"] + tag, rec["fold"],
                             rec["seed"])
    scored_records.write(path, rec)


@pytest.fixture()
def results(tmp_path: Path) -> Path:
    out = tmp_path / "store"
    for (fold, seed), uar, war in zip([(1, 0), (1, 1), (2, 0), (2, 1)], [0.5, 0.6, 0.7, 0.8],
                                      [0.55, 0.65, 0.60, 0.60], strict=True):
        write(out, record(fold, seed, 3, uar, war))
    write(out, record(1, 0, 7, 0.9, 0.9, selection={"on_test": True}))
    # never counted: another configuration, and a record of an older protocol version
    write(out, record(3, 0, 4, 0.1, 0.1))
    write(out, record(3, 0, 3, 0.1, 0.1, protocol={"hash": "0ld0ld0ld0ld"}), tag="-old")
    return out


@pytest.fixture()
def db(tmp_path: Path) -> reported.Database:
    root = tmp_path / "db"
    (root / "reported").mkdir(parents=True)
    (root / "tables").mkdir()
    (root / "reported" / "demo.yaml").write_text(textwrap.dedent(PAPER), encoding="utf-8")
    (root / "tables" / "demo-1.yaml").write_text(textwrap.dedent(SPEC), encoding="utf-8")
    return reported.load_all(root)


def markdown_cells(text: str) -> list[list[str]]:
    """The table lines of a markdown document, split on unescaped pipes, separator line dropped."""
    rows = []
    for line in text.splitlines():
        if line.startswith("|") and not line.startswith("|:--"):
            cells = re.split(r"(?<!\\)\|", line.strip())[1:-1]
            rows.append([c.strip().replace("\\|", "|") for c in cells])
    return rows


def test_markdown_matches_the_hand_computed_table(db: reported.Database, results: Path) -> None:
    text = tables.render(db, "demo:1", results, "markdown")
    assert markdown_cells(text) == GOLDEN
    assert text.splitlines()[0] == "### demo:1: Demo table"
    notes = [line for line in text.splitlines() if line.startswith("- ")]
    assert notes == [
        "- A demo note.",
        "- † a reproduction of this row selected its checkpoint on the test split",
        "- (1) audio and video only",
        f"- (r1) `bench run --method late_fusion --protocol synthetic_5fold --preset tiny --set epochs=5 "
        f"--modalities video audio --out {results}`",
    ]


def test_the_cli_reads_the_database_from_bench_reported_root(db: reported.Database, results: Path,
                                                               monkeypatch: pytest.MonkeyPatch,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    root = next(iter(db.papers.values())).path.parents[1]
    monkeypatch.setenv("BENCH_REPORTED_ROOT", str(root))
    assert reported.results_root() == root
    assert main(["table", "demo:1", "--out", str(results)]) == 0
    assert markdown_cells(capsys.readouterr().out) == GOLDEN


def test_without_the_override_the_database_is_the_repository_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BENCH_REPORTED_ROOT", raising=False)
    assert reported.results_root() == Path(__file__).resolve().parents[1] / "results"


def test_csv_parses_into_the_same_cells(db: reported.Database, results: Path) -> None:
    rows = list(csv.reader(io.StringIO(tables.render(db, "demo:1", results, "csv"))))
    assert rows[0] == [*GOLDEN[0], "notes"]
    assert [row[:-1] for row in rows[1:]] == GOLDEN[1:]
    assert all(len(row) == 4 for row in rows)
    assert rows[3][-1] == f"(1) audio and video only; (r1) bench run --method late_fusion --protocol synthetic_5fold " \
                          f"--preset tiny --set epochs=5 --modalities video audio --out {results}"
    assert rows[4][-1] == "† a reproduction of this row selected its checkpoint on the test split"


def test_latex_is_one_well_formed_tabular(db: reported.Database, results: Path) -> None:
    text = tables.render(db, "demo:1", results, "latex")
    assert re.findall(r"\\(begin|end)\{(\w+)\}", text) == [
        ("begin", "table"), ("begin", "tabular"), ("end", "tabular"), ("end", "table")]
    depth = 0
    for ch in re.sub(r"\\[{}]", "", text):
        depth += {"{": 1, "}": -1}.get(ch, 0)
        assert depth >= 0
    assert depth == 0
    body = text[text.index(r"\begin{tabular}"):text.index(r"\end{tabular}")]
    assert r"\begin{tabular}{lcc}" in body
    lines = [line for line in body.splitlines() if line.endswith(r"\\")]
    assert len(lines) == len(GOLDEN)
    assert all(len(re.findall(r"(?<!\\)&", line)) == 2 for line in lines)
    assert r"64.00 $|$ 65.00 $\pm$ 12.91 (n=4, 2/5 folds) $|$ +1.00" in body
    assert r"LF 7 ep. (ours) \dag{}" in body and "Cited [1] & 70.12 & --- " in body


def test_a_column_of_different_metrics_is_refused(db: reported.Database, tmp_path: Path, results: Path) -> None:
    root = next(iter(db.papers.values())).path.parents[1]
    paper = (root / "reported" / "demo.yaml").read_text(encoding="utf-8")
    (root / "reported" / "demo.yaml").write_text(
        paper.replace('column: "UAR", metric: uar, value: 70.12', 'column: "UAR", metric: war, value: 70.12'),
        encoding="utf-8")
    mixed = reported.load_all(root)
    with pytest.raises(DataError) as info:
        tables.render(mixed, "demo:1", results)
    message = str(info.value)
    assert "demo-1.yaml: column 'UAR' of demo:1 holds different metric ids" in message
    assert "uar (LF (ours), LF fold 1 (ours), LF 5 ep. (ours), LF 7 ep. (ours)); war (Cited [1])" in message
    assert "ANCHORS P3" in message
    spec = root / "tables" / "demo-1.yaml"
    spec.write_text(spec.read_text(encoding="utf-8") + 'mixed_metrics:\n  "UAR": "the paper mixes them"\n',
                    encoding="utf-8")
    text = tables.render(reported.load_all(root), "demo:1", results)
    assert "| Cited [1] | 70.12 [war] | — |" in text and "- UAR: the paper mixes them" in text


def test_unknown_table_ids_are_clear_errors(db: reported.Database, results: Path) -> None:
    with pytest.raises(BenchError, match=r"unknown table of demo '2'; valid: 1"):
        tables.render(db, "demo:2", results)
    with pytest.raises(BenchError, match=r"unknown paper 'dmeo' \(did you mean 'demo'\?\)"):
        tables.render(db, "dmeo:1", results)
    with pytest.raises(BenchError, match=r"expected PAPER:TABLE"):
        tables.render(db, "demo", results)


def test_leaky_records_mark_their_row(db: reported.Database, results: Path) -> None:
    write(results, record(1, 0, 5, 0.7, 0.7, modalities=["video", "audio"], protocol={"leaky": True}))
    rows = markdown_cells(tables.render(db, "demo:1", results))
    assert rows[3] == ["LF 5 ep. (ours) ‡", "70.00 (1) | 70.00 ± 0.00 (n=1, 1/5 folds) | +0.00",
                       "71.00 (1) | 70.00 ± 0.00 (n=1, 1/5 folds) | -1.00"]


def test_a_local_path_placeholder_matches_any_given_file() -> None:
    """``"<path>"`` in reproduce.set: a record that was given weights matches, one without does not."""
    query = tables.Query("late_fusion", "synthetic_5fold", "tiny", {"weights": reported.LOCAL_PATH})
    wanted = {"epochs": 3, "weights": reported.LOCAL_PATH}
    given, missing, other = record(1, 0, 3, 0.5, 0.5), record(1, 1, 3, 0.5, 0.5), record(2, 0, 3, 0.5, 0.5)
    given["config"] = {"epochs": 3, "weights": "/models/mae_face.pth"}
    missing["config"] = {"epochs": 3, "weights": None}
    other["config"] = {"epochs": 4, "weights": "/models/mae_face.pth"}
    assert tables.matching([given, missing, other], query, wanted) == [given]
    assert "--set 'weights=<path>'" in tables.run_command(query, Path("results"))


def test_a_metric_a_record_lacks_comes_from_its_predictions(db: reported.Database, tmp_path: Path) -> None:
    out = tmp_path / "derived"
    rec = record(1, 0, 5, 0.75, 0.0, modalities=["video", "audio"], label_names=["a", "b", "c", "d"])
    del rec["metrics"]["war"]
    path = store.record_path(out, "synthetic_5fold", "late_fusion", "ep5", "fold1", 0)
    # predicted 0, 1, 2, 0 for true 0, 1, 2, 3: UAR and WAR 3/4
    scored_records.write(path, rec, {"ids": np.array(["w", "x", "y", "z"]), "outputs": np.eye(4)[[0, 1, 2, 0]],
                                     "targets": np.array([0, 1, 2, 3])})
    rows = {row[0]: row for row in markdown_cells(tables.render(db, "demo:1", out, "markdown"))}
    assert rows["LF 5 ep. (ours)"][1:] == ["70.00 (1) | 75.00 ± 0.00 (n=1, 1/5 folds) | +5.00",
                                           "71.00 (1) | 75.00 ± 0.00 (n=1, 1/5 folds) | +4.00"]


# --------------------------------------------------------------------------- code side and "(as written)"

def mma_record(fold: int, preset: str, overrides: dict[str, Any], uar: float) -> dict[str, Any]:
    protocol = protocols.load("synthetic_dfew_5fold")
    query = tables.Query("mma_dfer", protocol.name, preset, overrides)
    return {
        "schema_version": store.SCHEMA_VERSION, "method": "mma_dfer", "preset": preset,
        "protocol": {"name": protocol.name, "hash": protocol.hash, "leaky": protocol.leaky},
        "fold": f"fold{fold}", "seed": 1, "config": tables.resolved_config(query),
        "config_hash": f"{preset}{len(overrides)}", "modalities": list(protocol.modalities),
        "regime": {"kind": "supervised", "pretrain": False},
        "selection": {"rule": "last_epoch", "on_test": False}, "metrics": {"uar": uar},
    }


def test_a_code_side_cell_gets_an_as_written_row(tmp_path: Path) -> None:
    """The cell shows the code preset's records; "(as written)" the paper preset's, each with its Δ;
    the old preset name (an alias) matches the same records; where the overrides already set every
    code switch, paper and code resolve alike and no second row appears."""
    from bench_methods.mma_dfer.config import CODE

    every_switch = ", ".join(f"{k}: {v}" for k, v in CODE.items())
    cell = ('{{row: "{row}", column: "UAR", metric: uar, value: 60.00, unit: percent, protocol: synthetic_dfew_5fold, '
            'modalities: [], runs: 1, own: true, reproduce: {{method: mma_dfer, preset: {preset}, set: {{{set}}}}}}}')
    paper = textwrap.dedent(PAPER).split("    cells:\n")[0] + "    cells:\n" + "".join(
        "      - " + cell.format(row=row, preset=preset, set=overrides) + "\n"
        for row, preset, overrides in (("MMA", "code", "img_size: 32"), ("MMA old name", "official", "img_size: 32"),
                                       ("MMA all switches", "code", every_switch)))
    spec = 'paper: demo\ntable: "1"\ntitle: "Demo"\nrows: ["MMA", "MMA old name", "MMA all switches"]\n' \
           'columns: ["UAR"]\ndecimals: 2\n'
    root = tmp_path / "db"
    (root / "reported").mkdir(parents=True)
    (root / "tables").mkdir()
    (root / "reported" / "demo.yaml").write_text(paper, encoding="utf-8")
    (root / "tables" / "demo-1.yaml").write_text(spec, encoding="utf-8")
    out = tmp_path / "store"
    for fold, uar in ((1, 0.70), (2, 0.60)):
        write(out, mma_record(fold, "code", {"img_size": 32}, uar))
    write(out, mma_record(1, "paper", {"img_size": 32}, 0.55))
    rendered = tables.build(reported.load_all(root), "demo:1", out)
    assert [row[0] for row in rendered.rows] == ["MMA", "MMA (as written)", "MMA old name",
                                                 "MMA old name (as written)", "MMA all switches"]
    assert rendered.rows[0][1] == "60.00 | 65.00 ± 7.07 (n=2, 2/5 folds) | +5.00"
    assert rendered.rows[1][1] == "60.00 | 55.00 ± 0.00 (n=1, 1/5 folds) | -5.00"
    assert rendered.rows[2][1] == rendered.rows[0][1] and rendered.rows[3][1] == rendered.rows[1][1]
    assert rendered.rows[4][1].startswith("60.00 | — (r1) | —")
    assert rendered.row_notes[4][0].startswith("(r1) `bench run --method mma_dfer --protocol synthetic_dfew_5fold "
                                               "--preset code --set gates=per_layer_and_modality")
    assert any(note.startswith("(as written): ") for note in rendered.notes)
    missing_paper = tables.build(reported.load_all(root), "demo:1", tmp_path / "empty").row_notes[1]
    assert missing_paper == [f"(r2) `bench run --method mma_dfer --protocol synthetic_dfew_5fold --set img_size=32 "
                             f"--out {tmp_path / 'empty'}`"]


def test_the_paper_side_of_a_preset_is_named_by_convention() -> None:
    assert [tables.paper_side(p) for p in ("code", "code_resnet18", "paper", "tiny", "codec")] == [
        "paper", "paper_resnet18", None, None, None]
