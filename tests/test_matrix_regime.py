"""Modalities resolved from both sides, the regime apart from the protocol, and which pairs run."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from bench import protocols, registry
from bench.errors import ConfigError
from bench.protocols import PretrainData, Regime
from bench.running import compat, modalities, regimes


def _resolve(protocol: str | protocols.Protocol, method: str,
             requested: list[str] | None = None, drop: bool = False) -> modalities.Resolved:
    p = protocols.load(protocol) if isinstance(protocol, str) else protocol
    cls = registry.methods.get(method)
    cfg = cls.Config()
    return modalities.resolve(p.name, p.modalities, cls, requested, modalities.inputs_reason(cls(), cfg),
                              lambda m: ["meld", "mosei"] if m == "text" else [], drop)


def test_the_intersection_in_the_protocols_order() -> None:
    got = _resolve("synthetic_5fold", "mma_dfer")
    assert got.modalities == ("video", "audio") and not got.requested and got.dropped == ()
    assert got.line("synthetic_5fold", ("video", "audio", "text", "landmarks"), "mma_dfer", ("video", "audio")) == (
        "modalities: video, audio (protocol synthetic_5fold: video, audio, text, landmarks; "
        "method mma_dfer: video, audio)")


def test_a_modality_the_method_cannot_build_stops_a_run_and_is_dropped_by_the_matrix() -> None:
    with pytest.raises(ConfigError, match=r"glove_path.* \(or leave text out: --modalities video audio landmarks\)$"):
        _resolve("synthetic_5fold", "mpuc")  # text needs a local GloVe file, not given
    got = _resolve("synthetic_5fold", "mpuc", drop=True)
    assert got.modalities == ("video", "audio", "landmarks")
    assert [m for m, _ in got.dropped] == ["text"] and "glove_path" in got.dropped[0][1]


def test_empty_intersection_and_minimum_are_errors_naming_both_sides() -> None:
    text_only = dataclasses.replace(protocols.load("synthetic_5fold"), modalities=("text",))
    with pytest.raises(ConfigError, match=r"^method 'avce' reads video, protocol 'synthetic_5fold' has text: "
                                          r"no modality in common$"):
        _resolve(text_only, "avce")
    with pytest.raises(ConfigError, match=r"'mpuc' needs at least 2 modalities, got video under protocol 'afewva_cv'; "
                                          r"protocols that fit: .*synthetic_5fold"):
        _resolve("afewva_cv", "mpuc")
    with pytest.raises(ConfigError, match=r"'mpuc' needs at least 2 modalities, got video under"):
        _resolve("synthetic_5fold", "mpuc", ["video"])


def test_asked_for_modalities_a_protocol_lacks_name_the_datasets_that_have_them() -> None:
    with pytest.raises(ConfigError, match=r"--modalities text: protocol 'synthetic_dfew_5fold' uses only video, audio "
                                          r"\(datasets with text: meld, mosei\)"):
        _resolve("synthetic_dfew_5fold", "late_fusion", ["video", "text"])


def test_regime_from_protocol_flag_or_method() -> None:
    fixed = protocols.load("synthetic_dfew_5fold")
    late, mpuc = registry.methods.get("late_fusion"), registry.methods.get("mpuc")
    own = regimes.choose(fixed, late, None)
    assert own.regime == Regime("supervised", False) and own.protocol_default and own.hashed() is None
    same = regimes.choose(fixed, late, regimes.parse("supervised"))
    assert same.protocol_default and same.hashed() is None  # asking for the protocol's own changes nothing
    linear = regimes.choose(fixed, mpuc, regimes.parse("linear_eval"))
    assert linear.hashed() == {"kind": "linear_eval", "pretrain": True, "pretrain_on": None}
    with pytest.raises(ConfigError, match=r"'mpuc' has no supervised regime .* run it with --regime linear_eval"):
        regimes.choose(fixed, mpuc, None)
    opened = dataclasses.replace(fixed, regime=None)
    assert regimes.choose(opened, mpuc, None).regime == Regime("linear_eval", True)
    assert regimes.choose(opened, registry.methods.get("conclugen"), None).regime == Regime("linear_eval", True)
    assert regimes.choose(opened, late, None).regime == Regime("supervised", False)
    assert regimes.parse("finetune", "voxceleb2").pretrain_on == PretrainData("voxceleb2", {})
    with pytest.raises(ConfigError, match="--pretrain-on"):
        regimes.parse("supervised", "voxceleb2")


@pytest.mark.parametrize(("method", "protocol", "runs", "text"), [
    ("mpuc", "synthetic_dfew_5fold", True, "pretrain → linear_eval (the method's); video, audio"),
    ("conclugen", "synthetic_dfew_5fold", True, "supervised (the protocol's); video, audio"),
    ("mma_dfer", "synthetic_5fold", True, "supervised (the protocol's); video, audio"),
    ("avce", "synthetic_va", True, "supervised (the protocol's); video"),
    ("avce", "synthetic_5fold", False, "avce handles regression tasks; synthetic_5fold is classification"),
    ("mma_dfer", "synthetic_multilabel", False, "mma_dfer handles classification tasks; synthetic_multilabel is "
                                                "multilabel"),
])
def test_compatibility_of_pairs(method: str, protocol: str, runs: bool, text: str) -> None:
    pair = compat.check(method, protocols.load(protocol), "tiny", {})
    assert pair.runs is runs
    assert (f"{pair.regime_text}; {', '.join(pair.modalities)}" if runs else pair.reason) == text


FIXTURE = Path(__file__).parent / "fixtures" / "reported_cell_hashes.json"


def test_reported_cells_keep_their_protocol_hash_modalities_and_cell_hash() -> None:
    """Every reproducible reported cell, as its ``bench run`` command resolves it now, against the
    hashes computed before the regime left the protocol: the protocol hash and the modalities are
    frozen in the fixture; the cell hash must be the pre-regime one (configuration and modalities
    only), since every paper protocol trains its own regime."""
    from bench import config
    from bench.reporting import reported
    from bench.running import choices

    frozen = json.loads(FIXTURE.read_text(encoding="utf-8"))["cells"]
    seen = 0
    for key, paper in sorted(reported.load_all().papers.items()):
        for table_id, table in paper.tables.items():
            for cell in table.cells:
                if cell.reproduce is None or cell.protocol is None:
                    continue
                ident = f"{key}:{table_id}|{cell.row}|{cell.column}"
                if ident not in frozen:  # a cell added since the fixture was written
                    continue
                want = frozen[ident]
                protocol = protocols.load(cell.protocol)
                cls = registry.methods.get(cell.reproduce.method)
                cfg = config.resolve(cls.Config, cls.presets, cell.reproduce.preset, dict(cell.reproduce.overrides),
                                     cls.name)
                asked = list(cell.modalities) if cell.modalities and set(cell.modalities) != set(
                    protocol.modalities) else None
                # (inputs that need local files, GloVe vectors, are given on the command line: "<path>")
                resolved = modalities.resolve(protocol.name, protocol.modalities, cls, asked, lambda m: None,
                                              lambda m: [])
                regime = regimes.choose(protocol, cls, None)
                assert (protocol.name, protocol.hash) == (want["protocol"], want["protocol_hash"]), ident
                assert list(resolved.modalities) == want["modalities"], ident
                before = config.stable_hash({"config": config.to_dict(cfg), "modalities": want["modalities"]})[:12]
                assert choices.cell_hash(cfg, resolved.modalities, regime) == before, ident
                seen += 1
    assert seen >= 0.9 * len(frozen)  # the cells of the fixture are still there


def test_a_protocol_without_regime_leaves_it_open(tmp_path: Path) -> None:
    text = protocols.load("synthetic_5fold").path.read_text(encoding="utf-8")
    path = tmp_path / "synthetic_open.yaml"
    path.write_text(text.replace("name: synthetic_5fold", "name: synthetic_open")
                    .replace("regime: {kind: supervised}\n", ""), encoding="utf-8")
    opened = protocols.load(str(path))
    assert opened.regime is None
    assert regimes.choose(opened, registry.methods.get("mpuc"), None).source == "method"
