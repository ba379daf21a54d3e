"""``bench matrix`` end to end on the synthetic benchmark: the five method families under the four
synthetic protocols (tiny presets, fold 1, ``--budget short``), in this process (``--launcher debug``).

Every pair the task and modalities allow must finish and beat chance on its primary metric (UAR
over 4 classes: 0.25; the per-label balanced ``mosei_wacc``: 0.5; CCC: 0); every other pair
must be refused with its one-line reason.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import store
from bench.cli import main

pytestmark = pytest.mark.usefixtures("one_thread")

PROTOCOLS = ["synthetic_dfew_5fold", "synthetic_5fold", "synthetic_multilabel", "synthetic_va"]
METHODS = ["late_fusion", "mma_dfer", "mpuc", "avce", "conclugen"]
CHANCE = {"uar": 0.25, "mosei_wacc": 0.5, "ccc": 0.0}
RUNS = {
    ("late_fusion", "synthetic_dfew_5fold"), ("mma_dfer", "synthetic_dfew_5fold"), ("mpuc", "synthetic_dfew_5fold"),
    ("conclugen", "synthetic_dfew_5fold"), ("late_fusion", "synthetic_5fold"), ("mma_dfer", "synthetic_5fold"),
    ("mpuc", "synthetic_5fold"), ("conclugen", "synthetic_5fold"), ("late_fusion", "synthetic_multilabel"),
    ("mpuc", "synthetic_multilabel"), ("conclugen", "synthetic_multilabel"), ("late_fusion", "synthetic_va"),
    ("avce", "synthetic_va"),
}
REFUSED = {
    ("avce", "synthetic_dfew_5fold"): "avce handles regression tasks; synthetic_dfew_5fold is classification",
    ("mma_dfer", "synthetic_multilabel"): "mma_dfer handles classification tasks; synthetic_multilabel is multilabel",
    ("mpuc", "synthetic_va"): "mpuc handles classification, multilabel tasks; synthetic_va is regression",
    ("conclugen", "synthetic_va"): "conclugen handles classification, multilabel tasks; synthetic_va is regression",
}


def test_the_synthetic_matrix(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["matrix", "--protocols", *PROTOCOLS, "--methods", *METHODS, "--preset", "tiny", "--budget", "short",
                 "--fold", "1", "--launcher", "debug", "--out", str(tmp_path)])
    printed = capsys.readouterr().out
    assert code == 0, printed
    for (method, protocol), reason in REFUSED.items():
        assert any(line.split() == [method, protocol, "no:", *reason.split()] for line in printed.splitlines())
    assert "mpuc         synthetic_dfew_5fold  runs: pretrain → linear_eval (the method's); video, audio" in printed
    assert "conclugen    synthetic_dfew_5fold  runs: supervised (the protocol's); video, audio" in printed
    records = {(rec["method"], rec["protocol"]["name"]): rec for _, rec in store.iter_records(tmp_path)}
    assert set(records) == RUNS
    for (method, protocol), rec in records.items():
        primary = rec["primary"]
        assert rec["metrics"][primary] > CHANCE[primary], (method, protocol, rec["metrics"])
        assert rec["overrides"].get("epochs", rec["overrides"].get("iterations")) is not None  # the budget's keys
    assert records[("mpuc", "synthetic_dfew_5fold")]["regime"] == {"kind": "linear_eval", "pretrain": True,
                                                                   "pretrain_on": None}
    assert len(list((tmp_path / "grids").glob("matrix-*/matrix.png"))) == 1
    assert "| late_fusion | " in printed and "n/a (" in printed
