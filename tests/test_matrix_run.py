"""``bench matrix`` end to end on the synthetic benchmark: the five method families under the DFEW
layout (classification) and the valence-arousal protocol (regression), tiny presets, fold 1,
``--budget short``, in this process (``--launcher debug``).

Every pair the task and modalities allow must finish and beat chance on its primary metric (UAR
over 4 classes: 0.25; CCC: 0); every other pair must be refused with its one-line reason. The
two other synthetic protocols add three MPUC-sized video cells (minutes each on a CPU core) and
are left to the README's full matrix.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.cli import main
from bench.records import store

pytestmark = pytest.mark.usefixtures("one_thread")

PROTOCOLS = ["synthetic_dfew_5fold", "synthetic_va"]
METHODS = ["late_fusion", "mma_dfer", "mpuc", "avce", "conclugen"]
CHANCE = {"uar": 0.25, "ccc": 0.0}
RUNS = {
    ("late_fusion", "synthetic_dfew_5fold"), ("mma_dfer", "synthetic_dfew_5fold"), ("mpuc", "synthetic_dfew_5fold"),
    ("conclugen", "synthetic_dfew_5fold"), ("late_fusion", "synthetic_va"), ("avce", "synthetic_va"),
}
REFUSED = {
    ("avce", "synthetic_dfew_5fold"): "avce handles regression tasks; synthetic_dfew_5fold is classification",
    ("mma_dfer", "synthetic_va"): "mma_dfer handles classification tasks; synthetic_va is regression",
    ("mpuc", "synthetic_va"): "mpuc handles classification, multilabel tasks; synthetic_va is regression",
    ("conclugen", "synthetic_va"): "conclugen handles classification, multilabel tasks; synthetic_va is regression",
}


@pytest.mark.slow
def test_the_synthetic_matrix(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["matrix", "--protocols", *PROTOCOLS, "--methods", *METHODS, "--preset", "tiny", "--budget", "short",
                 "--fold", "1", "--launcher", "debug", "--out", str(tmp_path)])
    printed = capsys.readouterr().out
    assert code == 0, printed
    for (method, protocol), reason in REFUSED.items():
        assert [method, protocol, "no:", *reason.split()] in [line.split() for line in printed.splitlines()]
    lines = [line.split() for line in printed.splitlines()]
    assert ["mpuc", "synthetic_dfew_5fold", "runs:", *"pretrain → linear_eval (the method's); video, audio".split()] \
        in lines
    assert ["conclugen", "synthetic_dfew_5fold", "runs:", *"supervised (the protocol's); video, audio".split()] in lines
    records = {(rec["method"], rec["protocol"]["name"]): rec for _, rec in store.iter_records(tmp_path)}
    assert set(records) == RUNS
    for (method, protocol), rec in records.items():
        primary = rec["primary"]
        assert rec["metrics"][primary] > CHANCE[primary], (method, protocol, rec["metrics"])
        assert rec["overrides"]["epochs"] == 5 and rec["budget"] == "short"  # the budget's keys, recorded
    assert records[("mpuc", "synthetic_dfew_5fold")]["regime"] == {"kind": "linear_eval", "pretrain": True,
                                                                   "pretrain_on": None}
    assert len(list((tmp_path / "grids").glob("matrix-*/matrix.png"))) == 1
    assert "| late_fusion | " in printed and "n/a (" in printed
