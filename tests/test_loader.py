"""The one reader of input files: a key given twice is refused with file and line, whatever the file."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import protocols
from bench.errors import ConfigError, DataError, ProtocolError
from bench.files import loader
from bench.launch import executors, grid
from bench.protocols import drawn_splits

PROTOCOL = """\
name: twice
dataset: synthetic
task: classification
modalities: [video, audio]
split: {scheme: official_folds, folds: 5}
regime:
  kind: supervised
  kind: linear_eval
selection: {rule: last_epoch}
metrics: [uar, war]
primary: uar
"""


def test_lines_of_keys_and_items(tmp_path: Path) -> None:
    path = tmp_path / "a.yaml"
    path.write_text("a: 1\nb:\n  c: [x, y]\n  d:\n    - {e: 1}\n    - {e: 2}\n")
    doc = loader.read(path)
    assert doc.data == {"a": 1, "b": {"c": ["x", "y"], "d": [{"e": 1}, {"e": 2}]}}
    assert doc.where(("b", "d", 1, "e")) == f"{path}:6"
    assert doc.where(("b", "c")) == f"{path}:3"
    assert doc.where(("b", "nothing", "here")) == f"{path}:2"  # the nearest key written in the file
    assert doc.where() == f"{path}:1"


def test_duplicate_key_in_a_protocol_names_file_and_both_lines(tmp_path: Path) -> None:
    path = tmp_path / "twice.yaml"
    path.write_text(PROTOCOL)
    with pytest.raises(ProtocolError) as info:
        protocols.load(str(path))
    assert str(info.value) == f"{path}:8: invalid YAML: key 'kind' is given twice (first on line 7)"


def test_duplicate_key_in_a_grid_and_a_profile(tmp_path: Path) -> None:
    path = tmp_path / "g.yaml"
    path.write_text("methods: [late_fusion]\nprotocols: [synthetic_5fold]\nmethods: [late_fusion]\n")
    with pytest.raises(ConfigError, match=r"g.yaml:3: invalid YAML: key 'methods' is given twice \(first on line 1\)"):
        grid.load(path)
    profile = tmp_path / "p.yaml"
    profile.write_text("cpus: 2\ngpus: 0\ncpus: 4\n")
    with pytest.raises(ConfigError, match=r"p.yaml:3: invalid YAML: key 'cpus' is given twice"):
        executors.load_profile(str(profile))


def test_duplicate_key_in_a_json_split_file(tmp_path: Path) -> None:
    out = tmp_path / "s.json"
    out.write_text('{\n  "schema": 2,\n  "protocol": "synthetic_5fold",\n  "schema": 2\n}\n')
    with pytest.raises(DataError, match=r"s.json:4: invalid JSON: key 'schema' is given twice \(first on line 2\)"):
        drawn_splits.verify("synthetic_5fold", None, out)


def test_same_key_in_two_mappings_is_fine_and_unhashable_keys_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "ok.yaml"
    path.write_text("a: {k: 1}\nb: {k: 2}\n")
    assert loader.read(path).data == {"a": {"k": 1}, "b": {"k": 2}}
    path.write_text("? [1, 2]\n: x\n")
    with pytest.raises(DataError, match=r"ok.yaml:1: invalid YAML"):
        loader.read(path)


def test_unreadable_and_printed_floats(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="absent.yaml: cannot read"):
        loader.read(tmp_path / "absent.yaml")
    path = tmp_path / "n.yaml"
    path.write_text("a: 66.70\nb: 1.5e-3\n")
    data = loader.read(path, printed=True).data
    assert data["a"] == 66.7 and data["a"].decimals == 2 and data["b"].decimals is None
    assert type(loader.read(path).data["a"]) is float
