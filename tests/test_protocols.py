"""Protocol files: every shipped one validates; bad files fail naming the file and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import protocols
from bench.errors import ProtocolError

REQUIRED_BY_CORE_ISSUE = {
    "dfew_5fold", "mafw_5fold", "ravdess_actor10", "ravdess_kfold10", "ravdess_actor_holdout", "mosei_official",
    "meld_official", "caer_official", "afewva_cv", "affwild_official", "affwild2_official", "synthetic_5fold",
}

GOOD = """\
name: {name}
dataset: synthetic
task: classification
modalities: [video, audio]
split: {{scheme: official_folds, folds: 5}}
regime: {{kind: supervised}}
selection: {{rule: last_epoch}}
metrics: [uar, war]
primary: uar
"""


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / f"{name}.yaml"
    path.write_text(text)
    return path


def test_every_shipped_protocol_loads() -> None:
    found = protocols.available()
    assert REQUIRED_BY_CORE_ISSUE <= set(found)
    for name in found:
        p = protocols.load(name)
        assert p.name == name and len(p.hash) == 12
        assert p.primary in p.metrics


def test_paper_protocols_say_which_table_they_serve() -> None:
    for name in REQUIRED_BY_CORE_ISSUE - {"synthetic_5fold", "ravdess_actor_holdout"}:
        assert protocols.load(name).serves, name


def test_leaky_and_holdout_facts() -> None:
    assert protocols.load("ravdess_kfold10").leaky is True
    assert protocols.load("ravdess_actor10").leaky is False
    holdout = protocols.load("ravdess_actor_holdout")
    assert holdout.split["test"] == [1, 4, 21] and holdout.split["val"] == [8, 9, 20]
    assert protocols.load("dfew_5fold").selection.rule == "last_epoch"


def test_good_file_by_path(tmp_path: Path) -> None:
    p = protocols.load(str(write(tmp_path, "mine", GOOD.format(name="mine"))))
    assert p.modalities == ("video", "audio") and p.seeds == (0,)


@pytest.mark.parametrize("edit,message", [
    (lambda t: t + "splt: 3\n", r"unknown key 'splt' \(did you mean 'split'\?\)"),
    (lambda t: t.replace("primary: uar\n", ""), "missing required key\\(s\\): primary"),
    (lambda t: t.replace("task: classification", "task: clasification"), "did you mean 'classification'"),
    (lambda t: t.replace("[video, audio]", "[video, sound]"), "unknown modality 'sound'"),
    (lambda t: t.replace("[uar, war]", "[uar, wra]"), "unknown classification metric 'wra'"),
    (lambda t: t.replace("[uar, war]", "[ccc]"), "unknown classification metric 'ccc'"),
    (lambda t: t.replace("primary: uar", "primary: macro_f1"), "primary: 'macro_f1' must be one of metrics"),
    (lambda t: t.replace("rule: last_epoch", "rule: best_test"), "set selection.allow_on_test: true"),
    (lambda t: t.replace("rule: last_epoch", "rule: best_val"), "best_val needs a validation side"),
    (lambda t: t.replace("kind: supervised", "kind: superviesd"), "did you mean 'supervised'"),
    (lambda t: t.replace("official_folds", "oficial_folds"), "split.scheme"),
    (lambda t: t + "serves: [table one]\n", "is not of the form paper:table"),
    (lambda t: t + "seeds: []\n", "seeds: expected a non-empty list"),
])
def test_bad_files_name_file_and_key(tmp_path: Path, edit, message: str) -> None:
    path = write(tmp_path, "bad", edit(GOOD.format(name="bad")))
    with pytest.raises(ProtocolError, match=message) as info:
        protocols.load(str(path))
    assert str(path) in str(info.value)


def test_invalid_yaml_names_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, "broken", "name: broken\nsplit: {scheme: [\n")
    with pytest.raises(ProtocolError, match=r"broken.yaml:\d+: invalid YAML"):
        protocols.load(str(path))


def test_name_must_match_file(tmp_path: Path) -> None:
    with pytest.raises(ProtocolError, match="must equal the file name 'other'"):
        protocols.load(str(write(tmp_path, "other", GOOD.format(name="mine"))))


def test_best_test_is_allowed_only_when_said_and_then_marked(tmp_path: Path) -> None:
    text = GOOD.format(name="peek").replace("{rule: last_epoch}", "{rule: best_test, allow_on_test: true}")
    p = protocols.load(str(write(tmp_path, "peek", text)))
    assert p.selection.on_test is True


def test_include_merges_and_overrides(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path, "base_proto", GOOD.format(name="base_proto"))
    write(tmp_path, "child_proto", "name: child_proto\ninclude: base_proto\nmetrics: [uar]\n"
                                   "split: {folds: 5}\nselection: {rule: last_epoch}\n")
    monkeypatch.setenv("BENCH_PROTOCOL_PATH", str(tmp_path))
    child = protocols.load("child_proto")
    assert child.metrics == ("uar",) and child.split == {"scheme": "official_folds", "folds": 5}
    assert child.dataset == "synthetic"
    assert child.hash != protocols.load("base_proto").hash


def test_include_cycle_and_duplicates(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path, "a_proto", "name: a_proto\ninclude: b_proto\n")
    write(tmp_path, "b_proto", "name: b_proto\ninclude: a_proto\n")
    monkeypatch.setenv("BENCH_PROTOCOL_PATH", str(tmp_path))
    with pytest.raises(ProtocolError, match="include cycle"):
        protocols.load("a_proto")
    write(tmp_path, "dfew_5fold", GOOD.format(name="dfew_5fold"))
    with pytest.raises(ProtocolError, match="defined twice"):
        protocols.available()


def test_unknown_protocol_suggests() -> None:
    with pytest.raises(ProtocolError, match=r"did you mean 'dfew_5fold'\?"):
        protocols.load("dfew_5fodl")


def test_doc_only_keys_do_not_change_the_hash(tmp_path: Path) -> None:
    a = protocols.load(str(write(tmp_path, "same", GOOD.format(name="same"))))
    b = protocols.load(str(write(tmp_path / ".." / tmp_path.name, "same", GOOD.format(name="same") + "notes: hi\n")))
    assert a.hash == b.hash


@pytest.mark.parametrize("edit,expected", [
    (lambda t: t.replace("regime: {kind: supervised}", "regime:\n  kind: supervised\n  pretrian: false"),
     ":8: regime: unknown key 'pretrian' (did you mean 'pretrain'?); valid keys: kind, pretrain, pretrain_on"),
    (lambda t: t.replace("rule: last_epoch", "rule: last_epoch, patience: 0"),
     ":7: selection.patience: expected an integer >= 1, got 0"),
    (lambda t: t.replace("metrics: [uar, war]", "metrics:\n  - uar\n  - wra"),
     ":10: metrics[1]: unknown classification metric 'wra' (did you mean 'war'?)"),
    (lambda t: t.replace("official_folds, folds: 5", "official_folds, folds: 1"),
     ":5: split.folds: must be an integer >= 2, got 1"),
])
def test_errors_name_the_line(tmp_path: Path, edit, expected: str) -> None:
    path = write(tmp_path, "lines", edit(GOOD.format(name="lines")))
    with pytest.raises(ProtocolError) as info:
        protocols.load(str(path))
    assert str(info.value).startswith(f"{path}{expected}")


def test_an_included_key_is_named_in_the_file_that_wrote_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path, "base_bad", GOOD.format(name="base_bad").replace("primary: uar", "primary: war\nleaky: 3"))
    child = write(tmp_path, "child_ok", "name: child_ok\ninclude: base_bad\n")
    monkeypatch.setenv("BENCH_PROTOCOL_PATH", str(tmp_path))
    with pytest.raises(ProtocolError) as info:
        protocols.load(str(child))
    assert str(info.value) == f"{tmp_path / 'base_bad.yaml'}:10: leaky: expected true or false, got 3"
