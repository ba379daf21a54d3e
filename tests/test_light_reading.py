"""Reading results stays light: ``bench table``, ``bench check`` and ``bench plot`` import neither
torch nor a method plugin (each runs in a fresh interpreter here), and the resolved presets they
read instead of the plugins (``results/resolved_presets.json``) are what the plugins resolve."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bench.reporting import presets, presets_writer

PROBE = """
import json, sys
from bench.cli import main
code = main(sys.argv[1:])
heavy = sorted(m for m in sys.modules if m == "torch" or m.split(".")[0] in ("bench_methods", "lightning"))
print(json.dumps({"code": code, "heavy": heavy}))
"""


@pytest.mark.parametrize("args", [["table", "mpuc:I"], ["table", "mma_dfer:1", "--format", "csv"], ["check"],
                                  pytest.param(["plot"], marks=pytest.mark.slow)])  # plot: 37 figures, ~1 min
def test_reading_commands_import_no_torch_and_no_plugin(args: list[str], tmp_path: Path) -> None:
    out = tmp_path / "store"  # the committed real-data records: real reading work for every command
    shutil.copytree(presets.stored_path().parent / "reproduced", out)
    done = subprocess.run([sys.executable, "-c", PROBE, *args, "--out", str(out)], capture_output=True, text=True,
                          timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["heavy"] == [], result
    assert result["code"] in (0, 3, None), result  # check: 3 = records missing, nothing regressed
    if args[0] == "plot":
        assert list(out.rglob("confusion.png"))


def test_stored_resolved_presets_are_what_the_plugins_resolve() -> None:
    stored = json.loads(presets.stored_path().read_text())
    rebuilt = json.loads(presets_writer.render(presets_writer.build(presets_writer.wanted())))
    assert stored == rebuilt, "results/resolved_presets.json is stale: run python -m bench.reporting.presets_writer"
    assert any(row["preset"] == "code" and row["method"] == "mpuc" for row in stored)
    for row in stored:
        assert presets.lookup(row["method"], row["preset"], row["set"]) == (row["resolved_preset"], row["config"])
        assert presets.resolve_with_plugin(row["method"], row["preset"], row["set"]) == \
            (row["resolved_preset"], row["config"])


def test_an_unstored_query_is_resolved_by_the_plugin() -> None:
    assert presets.lookup("late_fusion", "tiny", {"epochs": 3}) is None
    name, config = presets.resolve("late_fusion", "tiny", {"epochs": 3})
    assert name == "tiny" and config["epochs"] == 3
