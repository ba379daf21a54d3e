"""Config resolution: defaults, presets, --set overrides, strict keys and types, hashing."""

from __future__ import annotations

import dataclasses
from typing import ClassVar, Literal

import pytest

from bench import config
from bench.errors import ConfigError


@dataclasses.dataclass(frozen=True)
class Toy:
    lr: float = 1e-3
    epochs: int = 25
    fusion: Literal["bottleneck", "add", "none"] = "bottleneck"
    frequencies: tuple[int, ...] = (0, 6)
    pretrained: str | None = None
    flag: bool = False


PRESETS = {"paper": {}, "tiny": {"epochs": 2}}


def test_defaults_preset_then_overrides() -> None:
    cfg = config.resolve(Toy, PRESETS, "tiny", {"lr": 1, "frequencies": [2, 4]}, "toy")
    assert cfg == Toy(lr=1.0, epochs=2, frequencies=(2, 4))
    assert isinstance(cfg.lr, float)


def test_parse_overrides_reads_yaml_scalars() -> None:
    parsed = config.parse_overrides(["lr=1e-4", "flag=true", "frequencies=[2, 4]", "pretrained=null", "fusion=add"])
    assert parsed == {"lr": 1e-4, "flag": True, "frequencies": [2, 4], "pretrained": None, "fusion": "add"}
    with pytest.raises(ConfigError, match="expected key=value"):
        config.parse_overrides(["lr"])


def test_unknown_key_names_the_valid_ones() -> None:
    with pytest.raises(ConfigError, match=r"unknown config key 'epoch' \(did you mean 'epochs'\?\); valid keys: "
                                          r"epochs, flag, frequencies, fusion, lr, pretrained"):
        config.resolve(Toy, PRESETS, "paper", {"epoch": 3}, "toy")


@pytest.mark.parametrize("key,value,message", [
    ("lr", "fast", "expected a number"),
    ("epochs", 2.5, "expected an integer"),
    ("flag", "yes", "expected true or false"),
    ("fusion", "concat", "'concat' is not one of 'bottleneck', 'add', 'none'"),
    ("frequencies", 3, "expected a list"),
    ("pretrained", 5, r"pretrained: expected a string \(or null\), got 5"),
    ("frequencies", [2, "x"], r"frequencies: item \[1\]: expected an integer, got 'x'"),
])
def test_bad_values_are_rejected(key: str, value: object, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        config.resolve(Toy, PRESETS, "paper", {key: value}, "toy")


def test_unknown_preset() -> None:
    with pytest.raises(ConfigError, match=r"unknown preset 'tinny' \(did you mean 'tiny'\?\)"):
        config.resolve(Toy, PRESETS, "tinny", {}, "toy")


def test_hash_is_stable_and_sensitive() -> None:
    a = config.config_hash(Toy(), ["audio", "video"])
    assert a == config.config_hash(Toy(), ["audio", "video"]) and len(a) == 12
    assert a != config.config_hash(Toy(lr=2e-3), ["audio", "video"])
    assert a != config.config_hash(Toy(), ["audio"])  # the modalities are part of the key
    assert config.stable_hash({"b": 1, "a": 2}) == config.stable_hash({"a": 2, "b": 1})


@dataclasses.dataclass(frozen=True)
class ToyWithLateSwitch(Toy):
    recorded_when_set: ClassVar[tuple[str, ...]] = ("resize",)
    resize: Literal["torch", "pil"] = "torch"


def test_a_late_switch_at_its_default_leaves_the_hash_and_the_record_as_before() -> None:
    before = config.config_hash(Toy(lr=2e-3), ["video"])
    assert config.config_hash(ToyWithLateSwitch(lr=2e-3), ["video"]) == before
    assert config.to_dict(ToyWithLateSwitch()) == config.to_dict(Toy())
    switched = ToyWithLateSwitch(lr=2e-3, resize="pil")
    assert config.to_dict(switched)["resize"] == "pil"
    assert config.config_hash(switched, ["video"]) != before


def test_an_alias_resolves_to_the_preset_it_names() -> None:
    presets = {"paper": {}, "code": {"epochs": 7, "fusion": "add"}, "official": "code"}
    assert config.resolve(Toy, presets, "official", {"lr": 2}, "toy") == config.resolve(Toy, presets, "code",
                                                                                         {"lr": 2}, "toy")
    assert config.resolve(Toy, presets, "official", {}, "toy") == Toy(epochs=7, fusion="add")
    assert [config.preset_name(presets, p, "toy") for p in ("paper", "code", "official")] == ["paper", "code", "code"]


def test_an_alias_must_name_a_preset_of_overrides() -> None:
    with pytest.raises(ConfigError, match=r"method 'toy': preset 'old' is an alias of 'missing'"):
        config.resolve(Toy, {"paper": {}, "old": "missing"}, "old", {}, "toy")
    with pytest.raises(ConfigError, match=r"preset 'older' is an alias of 'old', which is not a preset of overrides"):
        config.preset_name({"paper": {}, "code": {}, "old": "code", "older": "old"}, "older", "toy")
    with pytest.raises(ConfigError, match=r"unknown preset 'cod'"):
        config.preset_name({"paper": {}, "code": {}}, "cod", "toy")
