"""Every argument's range, checked before any data is read: exit 2, one line, nothing written.

Cases that tests/test_bad_input.py does not have: the values of ``bench matrix``, ``bench
prepare``, ``bench plot``, ``bench rescore``, ``bench grid``; ``--budget`` and ``--fold`` of
``bench run`` (refused before the samples are listed, where they once took 9-13 s); empty
paths and names argparse refuses. Each case runs ``bench.cli.main`` in-process, against a data
root that does not exist, so that a check made after the data would be read fails differently
(and the case with it). Repeated folds and seeds are one cell: tests/test_faults.py.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest

from bench import cli

Case = tuple[str, Callable[[Path], list[str]], int, str]
"""(id, argv built from the tmp folder, exit code, regex the one error line must match)."""

NO_DATA = "{tmp}/no-data"
"""A data root that does not exist: a value check that comes after reading the data fails on it instead."""


def argv(*words: str) -> Callable[[Path], list[str]]:
    return lambda tmp: [w.format(tmp=tmp) for w in words]


def run(*extra: str, protocol: str = "synthetic_5fold", method: str = "late_fusion") -> Callable[[Path], list[str]]:
    return argv("run", "--method", method, "--protocol", protocol, "--preset", "tiny", "--data-root", NO_DATA,
                "--out", "{tmp}/out", "--cache-dir", "{tmp}/cache", "--no-progress", *extra)


def matrix(*extra: str) -> Callable[[Path], list[str]]:
    return argv("matrix", "--protocols", "synthetic_5fold", "--out", "{tmp}/out", "--dry-run", *extra)


def prepare(*extra: str) -> Callable[[Path], list[str]]:
    return argv("prepare", "synthetic", "--data-root", NO_DATA, "--cache-dir", "{tmp}/cache", *extra)


def grid_file(text: str, *extra: str) -> Callable[[Path], list[str]]:
    def build(tmp: Path) -> list[str]:
        (tmp / "g.yaml").write_text(text)
        return ["grid", str(tmp / "g.yaml"), "--dry-run", "--out", str(tmp / "out"), *extra]
    return build


GRID = "methods: [late_fusion]\nprotocols: [synthetic_5fold]\npreset: tiny\n"

RUN: list[Case] = [
    ("run budget fast", run("--budget", "fast"), 2, r"--budget 'fast': expected paper, short or a positive number"),
    ("run budget 0", run("--budget", "0"), 2, r"--budget '0': expected paper, short"),
    ("run budget -2", run("--budget", "-2"), 2, r"--budget '-2': expected paper, short"),
    ("run budget 1.5", run("--budget", "1.5"), 2, r"--budget '1.5': expected paper, short"),
    ("run budget empty", run("--budget", ""), 2, r"--budget '': expected paper, short"),
    ("run fold 0", run("--fold", "0"), 2, r"--fold 0: this protocol has folds fold1, fold2, fold3, fold4, fold5$"),
    ("run fold 6 of 5", run("--fold", "6"), 2, r"--fold 6: this protocol has folds fold1, .*fold5$"),
    ("run fold fold0", run("--fold", "fold0"), 2, r"--fold fold0: this protocol has folds fold1"),
    ("run fold official of kfold", run("--fold", "official"), 2, r"--fold official: this protocol has folds fold1"),
    ("run fold 1 of holdout", run("--fold", "1", protocol="synthetic_holdout"), 2,
     r"--fold 1: this protocol has folds official$"),
    ("run fold 11 of 10", run("--fold", "11", protocol="ravdess_kfold10", method="mpuc_supervised"), 2,
     r"--fold 11: this protocol has folds fold1, .*fold10$"),
    ("run fold all and 1", run("--fold", "all", "--fold", "1"), 2, r"--fold all --fold 1: 'all' means every fold"),
    ("run fold empty", run("--fold", ""), 2, r"--fold : this protocol has folds fold1"),
    ("run second seed negative", run("--seed", "0", "--seed", "-1"), 2, r"--seed -1: allowed an integer in \[0, "),
    ("run pretrain root unused", run("--pretrain-data-root", "{tmp}"), 2,
     r"--pretrain-data-root .*: protocol 'synthetic_5fold' pretrains on no other dataset"),
    ("run budget short on a bad set", run("--budget", "short", "--set", "lr=0"), 2, r"lr=0.0: allowed > 0"),
]

MATRIX: list[Case] = [
    ("matrix method misspelt", matrix("--methods", "late_fusoin"), 2,
     r"unknown method 'late_fusoin' \(did you mean 'late_fusion'\?\).*\(--methods\)$"),
    ("matrix second method unknown", matrix("--methods", "late_fusion", "nosuch"), 2, r"unknown method 'nosuch'"),
    ("matrix dataset misspelt", argv("matrix", "--datasets", "synthetik", "--out", "{tmp}/out", "--dry-run"), 2,
     r"unknown dataset 'synthetik' \(did you mean 'synthetic'\?\).*\(--datasets\)$"),
    ("matrix no protocols", argv("matrix", "--methods", "late_fusion", "--out", "{tmp}/out", "--dry-run"), 2,
     r"bench matrix: name the protocols \(--protocols P \.\.\.\) or the datasets"),
    ("matrix protocol unknown", argv("matrix", "--protocols", "synthetic_5fol", "--out", "{tmp}/out", "--dry-run"), 2,
     r"unknown protocol 'synthetic_5fol' \(did you mean 'synthetic_5fold'\?\)"),
    ("matrix metric misspelt", matrix("--methods", "late_fusion", "--metric", "uarr"), 2,
     r"unknown metric 'uarr' \(did you mean 'uar'\?\)"),
    ("matrix preset misspelt", matrix("--methods", "late_fusion", "--preset", "tinyy"), 2,
     r"unknown preset 'tinyy' \(did you mean 'tiny'\?\); valid: paper, tiny \(of methods late_fusion\)$"),
    ("matrix budget fast", matrix("--methods", "late_fusion", "--budget", "fast"), 2, r"--budget 'fast': expected"),
    ("matrix seed negative", matrix("--methods", "late_fusion", "--seed", "-1"), 2, r"--seed -1: allowed an integer"),
    ("matrix fold 0", matrix("--methods", "late_fusion", "--fold", "0"), 2,
     r"--fold 0: none of the protocols makes it; they have fold1, .*fold5$"),
    ("matrix profile unknown", matrix("--methods", "late_fusion", "--profile", "nope"), 2,
     r"unknown SLURM profile 'nope'; valid: debug, default"),
    ("matrix out is a file", lambda tmp: (tmp / "f").write_text("x") and
     ["matrix", "--protocols", "synthetic_5fold", "--methods", "late_fusion", "--out", str(tmp / "f"), "--dry-run"], 2,
     r"--out .*/f: is a file, not a folder"),
]

PREPARE: list[Case] = [
    ("prepare no-decode without check", prepare("--method", "late_fusion", "--no-decode"), 2,
     r"--no-decode: only with --check"),
    ("prepare workers without check", prepare("--method", "late_fusion", "--workers", "2"), 2,
     r"--workers: only with --check"),
    ("prepare workers 1000", prepare("--check", "--workers", "1000"), 2, r"--workers 1000: allowed at most 256"),
    ("prepare workers -1", prepare("--check", "--workers", "-1"), 2, r"--workers -1: allowed an integer >= 1"),
    ("prepare set without method", prepare("--check", "--set", "epochs=3"), 2, r"--set: only with --method"),
    ("prepare preset without method", prepare("--check", "--preset", "tiny"), 2, r"--preset: only with --method"),
    ("prepare preset misspelt before the check", prepare("--check", "--method", "late_fusion", "--preset", "tinyy"),
     2, r"unknown preset 'tinyy'"),
    ("prepare bad value before the check", prepare("--check", "--method", "late_fusion", "--set", "lr=-1"), 2,
     r"lr=-1.0: allowed > 0"),
]

REPORTS: list[Case] = [
    ("plot metric misspelt", argv("plot", "--out", "{tmp}", "--metric", "uarr"), 2, r"unknown metric 'uarr'"),
    ("plot empty store", argv("plot", "--out", "{tmp}"), 2, r"no run records to plot"),
    ("rescore metric misspelt", argv("rescore", "--out", "{tmp}", "--metric", "uarr"), 2, r"unknown metric 'uarr'"),
    ("rescore no store", argv("rescore", "--out", "{tmp}/nostore", "--metric", "war"), 2,
     r"--out .*nostore: no results store there \(no runs/ folder\)"),
    ("table unknown table", argv("table", "mma_dfer:9"), 2, r"unknown table of mma_dfer '9'"),
    ("grid profile unknown", grid_file(GRID, "--profile", "nope"), 2, r"unknown SLURM profile 'nope'"),
    ("grid seed negative", grid_file(GRID + "seeds: [-1]\n"), 2, r"g.yaml:\d+: .*--seed -1: allowed an integer"),
    ("grid method misspelt", grid_file(GRID.replace("late_fusion", "late_fusoin")), 2,
     r"g.yaml:\d+: .*unknown method 'late_fusoin' \(did you mean 'late_fusion'\?\)"),
]

CASES = RUN + MATRIX + PREPARE + REPORTS

ARGPARSE: list[tuple[str, list[str], str]] = [
    ("run out empty", ["run", "--method", "late_fusion", "--protocol", "synthetic_5fold", "--out", ""],
     r"argument --out: an empty path"),
    ("run data-root empty", ["run", "--method", "late_fusion", "--protocol", "synthetic_5fold", "--data-root", ""],
     r"argument --data-root: an empty path"),
    ("run cache-dir empty", ["run", "--method", "late_fusion", "--protocol", "synthetic_5fold", "--cache-dir", " "],
     r"argument --cache-dir: an empty path"),
    ("run seed not a number", ["run", "--method", "late_fusion", "--protocol", "synthetic_5fold", "--seed", "one"],
     r"argument --seed: invalid int value: 'one'"),
    ("run regime unknown", ["run", "--method", "late_fusion", "--protocol", "synthetic_5fold", "--regime", "pretrain"],
     r"argument --regime: invalid choice: 'pretrain'"),
    ("matrix launcher unknown", ["matrix", "--protocols", "synthetic_5fold", "--launcher", "pbs"],
     r"argument --launcher: invalid choice: 'pbs'"),
    ("plot out empty", ["plot", "--out", ""], r"argument --out: an empty path"),
    ("check out empty", ["check", "--out", ""], r"argument --out: an empty path"),
    ("rescore without metric", ["rescore"], r"the following arguments are required: --metric"),
    ("table format unknown", ["table", "mma_dfer:1", "--format", "html"], r"argument --format: invalid choice: 'html'"),
    ("splits without out or verify", ["splits", "synthetic_5fold"], r"one of the arguments --out --verify is required"),
    ("list unknown", ["list", "models"], r"argument what: invalid choice: 'models'"),
    ("prepare workers not a number", ["prepare", "synthetic", "--check", "--workers", "many"],
     r"argument --workers: invalid int value: 'many'"),
    ("predict threshold nan", ["predict", "--threshold", "nan", "clip.mp4"],
     r"argument --threshold: expected a finite number, got 'nan'"),
    ("predict threshold word", ["predict", "--threshold", "high", "clip.mp4"],
     r"argument --threshold: expected a number, got 'high'"),
]


def written(tmp: Path) -> list[Path]:
    """Every file under ``tmp`` besides the grid file a case wrote itself."""
    return [p for p in tmp.rglob("*") if p.is_file() and p.name not in ("g.yaml", "f")]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_a_bad_value_is_one_line_before_any_data(case: Case, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    _, build, code, pattern = case
    assert cli.main(build(tmp_path)) == code
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert "Traceback" not in err and len(lines) == 1 and lines[0].startswith("error: "), err
    assert re.search(pattern, lines[0]), lines[0]
    assert not written(tmp_path), written(tmp_path)


@pytest.mark.parametrize("case", ARGPARSE, ids=[c[0] for c in ARGPARSE])
def test_argparse_refuses_with_usage_and_one_error_line(case: tuple[str, list[str], str], tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    _, words, pattern = case
    with pytest.raises(SystemExit) as stopped:
        cli.main(words)
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if ": error: " in line]
    assert len(errors) == 1 and re.search(pattern, errors[0]), err
    assert err.lstrip().startswith("usage: bench") and "Traceback" not in err
