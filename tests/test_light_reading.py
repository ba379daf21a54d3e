"""Reading results stays light: ``bench table``, ``bench check``, ``bench plot`` and ``bench status``
import neither torch nor a method plugin (each runs in a fresh interpreter here), and the resolved
presets they read instead of the plugins (``results/resolved_presets.json``) are what the plugins
resolve. ``bench status`` reads the cell list its grid's last ``bench grid`` stored, and expands the
grid as before when that list is stale or damaged."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from bench import cli
from bench.data.synthetic_generator import SyntheticSpec, generate
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


TINY_GRID = {"methods": ["late_fusion"], "protocols": ["synthetic_5fold"], "folds": [1], "seeds": [0],
             "preset": "tiny", "overrides": [{"epochs": 1}], "modalities": ["audio", "landmarks"]}


def _probe(args: list[str], env: dict[str, str]) -> tuple[dict[str, object], str, str]:
    done = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True, timeout=300,
                          check=False, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    *printed, last = done.stdout.strip().splitlines()
    return json.loads(last), "\n".join(printed), done.stderr


@pytest.fixture(scope="module")
def ran_grid(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict[str, str]]:
    """A one-cell grid on a small synthetic dataset, run by ``bench grid`` (debug launcher) in a fresh process."""
    folder = tmp_path_factory.mktemp("grid")
    generate(folder / "data", SyntheticSpec(variant="classification", num_subjects=5, clips_per_subject=8))
    grid = folder / "tiny.yaml"
    grid.write_text(yaml.safe_dump(TINY_GRID))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "BENCH_DATA_SYNTHETIC": str(folder / "data"),
           "BENCH_CACHE": str(folder / "cache")}
    done = subprocess.run([sys.executable, "-m", "bench.cli", "grid", str(grid), "--out", str(folder / "out"),
                           "--launcher", "debug"], capture_output=True, text=True, timeout=300, check=False, env=env)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return grid, folder / "out", env


@pytest.mark.slow  # its ran_grid fixture runs a grid in a subprocess: about 9 s
def test_status_of_a_run_grid_imports_no_torch_no_plugin_and_reads_no_data(
        ran_grid: tuple[Path, Path, dict[str, str]]) -> None:
    grid, out, env = ran_grid
    assert (out / "grids" / "tiny" / "cells.json").is_file()
    without_data = {k: v for k, v in env.items() if k != "BENCH_DATA_SYNTHETIC"}  # expanding would need it
    result, printed, stderr = _probe(["status", str(grid), "--out", str(out)], without_data)
    assert result == {"code": 0, "heavy": []}, (result, stderr)
    assert printed.splitlines()[0] == "grid tiny: 1 cells: 1 done, 0 running, 0 failed, 0 missing", printed
    (record,) = (out / "runs").rglob("fold1-seed0.json")
    key = record.relative_to(out / "runs").with_suffix("").as_posix()
    assert any(line.split()[:2] == ["done", key] for line in printed.splitlines()), printed
    assert "note:" not in stderr


def _copy(ran_grid: tuple[Path, Path, dict[str, str]], to: Path, grid: dict[str, object]) -> tuple[Path, Path]:
    """The run grid's store under ``to``, and a grid file of the same name holding ``grid``."""
    shutil.copytree(ran_grid[1], to / "out")
    path = to / ran_grid[0].name
    path.write_text(yaml.safe_dump(grid))
    return path, to / "out"


@pytest.mark.slow  # its ran_grid fixture runs a grid in a subprocess: about 9 s
def test_an_edited_grid_is_expanded_again_and_reported_right(ran_grid: tuple[Path, Path, dict[str, str]],
                                                            tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("BENCH_DATA_SYNTHETIC", ran_grid[2]["BENCH_DATA_SYNTHETIC"])
    grid, out = _copy(ran_grid, tmp_path, {**TINY_GRID, "seeds": [0, 1]})  # one more cell than the stored list
    assert cli.main(["status", str(grid), "--out", str(out)]) == 0
    printed, stderr = capsys.readouterr()
    assert f"note: {grid} was edited since {out / 'grids' / 'tiny' / 'cells.json'} was written" in stderr
    assert printed.splitlines()[0] == "grid tiny: 2 cells: 1 done, 0 running, 0 failed, 1 missing", printed
    states = {line.split()[1].rsplit("/", 1)[-1]: line.split()[0] for line in printed.splitlines()[3:]}
    assert states == {"fold1-seed0": "done", "fold1-seed1": "missing"}, printed


@pytest.mark.parametrize(("text", "why"), [
    ('{"cells": [', "cells.json: unreadable (Expecting value"),
    ('{"grid": "g.yaml", "grid_sha256": "0", "cells": [{"id": {}}]}', "cells.json: cells[0].id: expected a mapping of"),
])
@pytest.mark.slow  # its ran_grid fixture runs a grid in a subprocess: about 9 s
def test_a_damaged_cell_list_is_named_and_the_grid_expanded(ran_grid: tuple[Path, Path, dict[str, str]],
                                                            tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                            capsys: pytest.CaptureFixture[str], text: str,
                                                            why: str) -> None:
    monkeypatch.setenv("BENCH_DATA_SYNTHETIC", ran_grid[2]["BENCH_DATA_SYNTHETIC"])
    grid, out = _copy(ran_grid, tmp_path, TINY_GRID)
    (out / "grids" / "tiny" / "cells.json").write_text(text)
    assert cli.main(["status", str(grid), "--out", str(out)]) == 0
    printed, stderr = capsys.readouterr()
    assert f"note: {out / 'grids' / 'tiny' / why}" in stderr and "expanding the grid instead" in stderr, stderr
    assert printed.splitlines()[0] == "grid tiny: 1 cells: 1 done, 0 running, 0 failed, 0 missing", printed
