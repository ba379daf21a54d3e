"""Bad input through the real command line (``bench.cli.main``): exit code, one clear line, nothing stored.

Every case is a command a user could type with one thing wrong. Each must end with the exit
code of its kind (2 for wrong input), print exactly one ``error:`` line on stderr that names
the file, key or value at fault (the regular expression of the case), print no traceback, and
leave no run record, prediction or checkpoint behind. The cases run in-process; those that need
a process of their own (signals) live in tests/test_interrupt.py and tests/test_cell_lock.py.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from bench import cli

Case = tuple[str, Callable[[Path, Path], list[str]], int, str]
"""(id, argv builder from (tmp folder, synthetic data root), exit code, regex the one error line must match)."""


def run_args(*extra: str, method: str = "late_fusion", protocol: str = "synthetic_holdout",
             preset: str = "tiny") -> Callable[[Path, Path], list[str]]:
    """``bench run`` of a tiny cell into ``<tmp>/out`` with ``extra`` arguments ({tmp} and {data} filled in)."""
    def build(tmp: Path, data: Path) -> list[str]:
        filled = [a.format(tmp=tmp, data=data) for a in extra]
        out = [] if "--out" in extra else ["--out", str(tmp / "out")]
        return ["run", "--method", method, "--protocol", protocol, "--preset", preset, "--data-root", str(data),
                "--cache-dir", str(tmp / "cache"), "--no-progress", *out, *filled]
    return build


def file_at(tmp: Path, name: str, text: str = "x") -> Path:
    path = tmp / name
    path.write_text(text)
    return path


CONFIG_VALUES: list[Case] = [
    ("epochs=-1", run_args("--set", "epochs=-1"), 2, r"'late_fusion': epochs=-1: allowed >= 1"),
    ("epochs=0", run_args("--set", "epochs=0"), 2, r"epochs=0: allowed >= 1"),
    ("epochs=1.5", run_args("--set", "epochs=1.5"), 2, r"epochs: expected an integer, got 1.5"),
    ("epochs=many", run_args("--set", "epochs=many"), 2, r"epochs: expected an integer, got 'many'"),
    ("lr=-5", run_args("--set", "lr=-5"), 2, r"lr=-5.0: allowed > 0"),
    ("lr=0", run_args("--set", "lr=0"), 2, r"lr=0.0: allowed > 0"),
    ("lr=nan", run_args("--set", "lr=.nan"), 2, r"lr=nan: allowed > 0"),
    ("lr=inf", run_args("--set", "lr=.inf"), 2, r"lr=inf: allowed > 0"),
    ("lr=fast", run_args("--set", "lr=fast"), 2, r"lr: expected a number, got 'fast'"),
    ("batch_size=0", run_args("--set", "batch_size=0"), 2, r"batch_size=0: allowed >= 1"),
    ("batch_size=-4", run_args("--set", "batch_size=-4"), 2, r"batch_size=-4: allowed >= 1"),
    ("dropout=1", run_args("--set", "dropout=1"), 2, r"dropout=1.0: allowed in \[0, 1\)"),
    ("dropout=-0.1", run_args("--set", "dropout=-0.1"), 2, r"dropout=-0.1: allowed in \[0, 1\)"),
    ("weight_decay=-1", run_args("--set", "weight_decay=-1"), 2, r"weight_decay=-1.0: allowed >= 0"),
    ("embed_dim=0", run_args("--set", "embed_dim=0"), 2, r"embed_dim=0: allowed >= 1"),
    ("num_frames=0", run_args("--set", "num_frames=0"), 2, r"num_frames=0: allowed >= 1"),
    ("unknown key", run_args("--set", "epoch=3"), 2, r"unknown config key 'epoch' \(did you mean 'epochs'\?\)"),
    ("set without =", run_args("--set", "epochs"), 2, r"--set 'epochs': expected key=value"),
    ("set bad yaml", run_args("--set", "epochs=[1"), 2, r"--set 'epochs=\[1': value is not valid YAML"),
    ("unknown preset", run_args(preset="tinyy"), 2, r"unknown preset 'tinyy' \(did you mean 'tiny'\?\)"),
    ("mma vision_weights missing", run_args("--set", "vision_weights={tmp}/nope.pth", method="mma_dfer",
                                            protocol="synthetic_dfew_5fold"),
     2, r"vision_weights='.*nope.pth': no such file or folder"),
    ("mma checkpoint is a folder", run_args("--set", "checkpoint={tmp}", method="mma_dfer",
                                            protocol="synthetic_dfew_5fold"), 2, r"checkpoint='.*': not a file"),
    ("mpuc video_weights missing", run_args("--set", "video_weights={tmp}/r21d.pth", method="mpuc_supervised",
                                            protocol="synthetic_5fold"),
     2, r"video_weights='.*r21d.pth': no such file or folder"),
    ("mpuc glove_path missing", run_args("--set", "glove_path={tmp}/glove.txt", method="mpuc_supervised",
                                         protocol="synthetic_5fold"), 2, r"glove_path='.*glove.txt': no such file"),
    ("mpuc lr_gamma=1.5", run_args("--set", "lr_gamma=1.5", method="mpuc_supervised", protocol="synthetic_5fold"),
     2, r"lr_gamma=1.5: allowed in \(0, 1\]"),
    ("mpuc momentum=1", run_args("--set", "momentum=1", method="mpuc_supervised", protocol="synthetic_5fold"),
     2, r"momentum=1.0: allowed in \[0, 1\)"),
    ("avce iterations=0", run_args("--set", "iterations=0", method="avce", protocol="synthetic_va"),
     2, r"'avce': invalid configuration: iterations=0: must be > 0"),
    ("avce dropout=1", run_args("--set", "dropout=1", method="avce", protocol="synthetic_va"),
     2, r"'avce': invalid configuration: dropout=1.0 must be in \[0, 1\)"),
    ("avce lr=-1", run_args("--set", "lr=-1", method="avce", protocol="synthetic_va"), 2,
     r"'avce'.*lr=-1.0: must be > 0"),
]

SEEDS_AND_FOLDERS: list[Case] = [
    ("seed -3", run_args("--seed", "-3"), 2, r"--seed -3: allowed an integer in \[0, 4294967295\]"),
    ("seed 2**32", run_args("--seed", "4294967296"), 2, r"--seed 4294967296: allowed an integer in \[0, 4294967295\]"),
    ("seed 99999999999", run_args("--seed", "99999999999"), 2, r"--seed 99999999999: allowed"),
    ("out is a file", lambda tmp, data: run_args("--out", str(file_at(tmp, "afile")))(tmp, data),
     2, r"--out .*afile: is a file, not a folder"),
    ("out below a file", lambda tmp, data: run_args("--out", str(file_at(tmp, "afile") / "sub"))(tmp, data),
     2, r"--out .*afile/sub: cannot be created, .*afile is a file"),
    ("cache-dir is a file", lambda tmp, data: run_args("--cache-dir", str(file_at(tmp, "cfile")))(tmp, data),
     2, r"--cache-dir .*cfile: is a file, not a folder"),
]


def with_file(name: str, text: str, *argv: str) -> Callable[[Path, Path], list[str]]:
    """A command naming a file ``<tmp>/name`` that holds ``text`` ({file} in ``argv``)."""
    def build(tmp: Path, data: Path) -> list[str]:
        path = file_at(tmp, name, text)
        return [a.format(file=path, tmp=tmp, data=data) for a in argv]
    return build


def plain(*argv: str) -> Callable[[Path, Path], list[str]]:
    return lambda tmp, data: [a.format(tmp=tmp, data=data) for a in argv]


PROTOCOL = (Path(__file__).resolve().parents[1] / "protocols" / "synthetic_holdout.yaml").read_text(
    encoding="utf-8").replace("name: synthetic_holdout", "name: mine")


def on_protocol(name: str, text: str) -> Callable[[Path, Path], list[str]]:
    """``bench run`` of the protocol file ``<tmp>/name`` holding ``text``."""
    return lambda tmp, data: run_args(protocol=str(file_at(tmp, name, text)))(tmp, data)

NAMES_AND_FILES: list[Case] = [
    ("unknown method", run_args(method="late_fusoin"), 2,
     r"unknown method 'late_fusoin' \(did you mean 'late_fusion'\?\)"),
    ("unknown protocol", run_args(protocol="synthetic_holdot"), 2,
     r"unknown protocol 'synthetic_holdot' \(did you mean 'synthetic_holdout'\?\)"),
    ("protocol file missing", run_args(protocol="{tmp}/nope.yaml"), 2, r"protocol file .*nope.yaml does not exist"),
    ("protocol not YAML", on_protocol("p.yaml", "a: [1\n"), 2, r"p.yaml:2: invalid YAML"),
    ("protocol keys missing", on_protocol("p.yaml", "name: x\ndataset: synthetic\n"),
     2, r"p.yaml:1: missing required key\(s\): task, modalities"),
    ("protocol duplicate key", on_protocol("p.yaml", PROTOCOL + "metrics: [war]\n"),
     2, r"p.yaml:15: invalid YAML: key 'metrics' is given twice \(first on line 12\)"),
    ("protocol unknown dataset", on_protocol("mine.yaml", PROTOCOL.replace("dataset: synthetic", "dataset: synthetik")),
     2, r"unknown dataset 'synthetik'"),
    ("fold 9 of 5", run_args("--fold", "9", protocol="synthetic_5fold"), 2,
     r"--fold 9: this protocol has folds fold1, .*fold5"),
    ("modality unknown", run_args("--modalities", "smell", protocol="synthetic_5fold"), 2,
     r"--modalities smell: protocol 'synthetic_5fold' uses only video, audio, text, landmarks"),
    ("method of another task", run_args(method="avce", protocol="synthetic_5fold"), 2,
     r"method 'avce' handles regression tasks, protocol 'synthetic_5fold' is classification"),
    ("method lacks modality", run_args("--modalities", "video", "audio", method="avce", protocol="synthetic_va"), 2,
     r"method 'avce' cannot use audio; it supports video"),
]

LAYOUT_FOLLOWS = {"data root missing", "data root is a file", "prepare data root missing"}
"""Cases whose one error line is followed by the dataset's expected layout (indented help, not an error)."""

DATA_ROOTS: list[Case] = [
    ("data root missing", run_args("--data-root", "{tmp}/nodir"), 2,
     r"data root .*nodir does not exist; synthetic expects:"),
    ("data root is a file", lambda tmp, data: run_args("--data-root", str(file_at(tmp, "afile")))(tmp, data), 2,
     r"data root .*afile is a file, not a folder; synthetic expects:"),
    ("prepare data root missing", plain("prepare", "ravdess", "--check", "--data-root", "{tmp}/nodir"), 2,
     r"data root .*nodir does not exist; ravdess expects:"),
]

OTHER_COMMANDS: list[Case] = [
    ("prepare unknown dataset", plain("prepare", "ravdes", "--check"), 2,
     r"unknown dataset 'ravdes' \(did you mean 'ravdess'\?\)"),
    ("prepare nothing to do", plain("prepare", "ravdess"), 2, r"nothing to do; give --check, --method METHOD, or both"),
    ("prepare unknown option", plain("prepare", "synthetic", "--check", "--option", "colour=red"), 2,
     r"dataset 'synthetic' has no option 'colour'"),
    ("prepare unknown method", plain("prepare", "synthetic", "--method", "nosuch"), 2, r"unknown method 'nosuch'"),
    ("prepare workers 0", plain("prepare", "synthetic", "--check", "--workers", "0"), 2,
     r"--workers 0: allowed an integer >= 1"),
    ("prepare bad config value", plain("prepare", "synthetic", "--method", "late_fusion", "--set", "num_frames=0"), 2,
     r"num_frames=0: allowed >= 1"),
    ("prepare cache-dir is a file", lambda tmp, data: ["prepare", "synthetic", "--method", "late_fusion",
                                                        "--cache-dir", str(file_at(tmp, "cfile"))],
     2, r"--cache-dir .*cfile: is a file"),
    ("splits unknown protocol", plain("splits", "synthetic_holdot", "--out", "{tmp}/s.yaml"), 2,
     r"unknown protocol 'synthetic_holdot'"),
    ("splits verify missing file", plain("splits", "synthetic_5fold", "--verify", "{tmp}/nope.yaml"), 2,
     r"nope.yaml: cannot read"),
    ("splits verify not YAML", with_file("s.yaml", "a: [1\n", "splits", "synthetic_5fold", "--verify", "{file}"), 2,
     r"s.yaml:2: invalid YAML"),
    ("splits verify not a split file", with_file("s.yaml", "hello\n", "splits", "synthetic_5fold", "--verify", "{file}"),
     2, r"s.yaml: not a split file"),
    ("grid file missing", plain("grid", "{tmp}/nope.yaml", "--dry-run"), 2, r"grid file .*nope.yaml does not exist"),
    ("grid not YAML", with_file("g.yaml", "a: [1\n", "grid", "{file}", "--dry-run"), 2, r"g.yaml:2: invalid YAML"),
    ("grid unknown key", with_file("g.yaml", "name: g\nmethods: [late_fusion]\nprotocols: [synthetic_5fold]\nfoo: 1\n",
                                   "grid", "{file}", "--dry-run"), 2, r"g.yaml:4: unknown key 'foo'"),
    ("status grid missing", plain("status", "{tmp}/nope.yaml"), 2, r"grid file .*nope.yaml does not exist"),
    ("table unknown paper", plain("table", "nosuch:1"), 2, r"unknown paper 'nosuch'"),
    ("table id without colon", plain("table", "nocolon"), 2, r"table id 'nocolon': expected PAPER:TABLE"),
    ("check expected missing", plain("check", "--out", "{tmp}/out", "--expected", "{tmp}/nope"), 2,
     r"nope: no expected-numbers file or folder"),
    ("check expected not YAML", with_file("e.yaml", "a: [1\n", "check", "--out", "{tmp}/out", "--expected", "{file}"), 2,
     r"e.yaml:2: invalid YAML"),
    ("check expected not a mapping", with_file("e.yaml", "hello\n", "check", "--out", "{tmp}/out", "--expected", "{file}"),
     2, r"e.yaml:1: expected a mapping with keys name"),
    ("cache-dir is a file", lambda tmp, data: ["cache", "info", "--cache-dir", str(file_at(tmp, "cfile"))], 2,
     r"--cache-dir .*cfile: is a file"),
]

CASES: list[Case] = CONFIG_VALUES + SEEDS_AND_FOLDERS + NAMES_AND_FILES + DATA_ROOTS + OTHER_COMMANDS


def store_files(tmp: Path) -> list[Path]:
    """Whatever a run would have left in the store under ``tmp``: records, predictions, checkpoints."""
    return [p for p in tmp.rglob("*") if p.suffix in (".json", ".npz", ".ckpt") or p.name.endswith(".tmp")]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_one_clear_line(case: Case, tmp_path: Path, data_root: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    _, build, code, pattern = case
    argv = build(tmp_path, data_root)
    assert cli.main(argv) == code
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert "Traceback" not in err
    assert lines and lines[0].startswith("error: "), err
    assert len(lines) == 1 or case[0] in LAYOUT_FOLLOWS, err
    assert re.search(pattern, lines[0]), lines[0]
    assert not store_files(tmp_path)


def test_every_preset_of_every_method_obeys_the_value_rules() -> None:
    """The rules by key name must not refuse any configuration the methods ship."""
    from bench import config, registry
    from bench.running import values

    for name in registry.methods.names():
        cls = registry.methods.get(name)
        for preset in cls.presets:
            values.check_config(config.resolve(cls.Config, cls.presets, preset, {}, name), name)


def test_field_metadata_overrides_the_rule_of_the_name(tmp_path: Path) -> None:
    import dataclasses

    from bench.errors import ConfigError
    from bench.running import values

    @dataclasses.dataclass(frozen=True)
    class Config:
        epochs: int = dataclasses.field(default=0, metadata={"range": (0, None)})
        margin: float = dataclasses.field(default=0.5, metadata={"range": (0.0, 1.0), "open": "both"})
        lexicon: str = dataclasses.field(default="", metadata={"path": "file"})

    values.check_config(Config(), "m")  # epochs=0 allowed by its own rule; an empty path is "none given"
    with pytest.raises(ConfigError, match=r"margin=1.0: allowed in \(0, 1\)"):
        values.check_config(Config(margin=1.0), "m")
    with pytest.raises(ConfigError, match=r"lexicon='.*': not readable"):
        locked = file_at(tmp_path, "lexicon.txt")
        os.chmod(locked, 0)
        if os.access(locked, os.R_OK):
            pytest.skip("running as root: permissions are not enforced")
        values.check_config(Config(lexicon=str(locked)), "m")
