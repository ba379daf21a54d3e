"""MPUC's and AVCE's own reported cells name the code preset that produced them, and it resolves."""

from __future__ import annotations

import pytest

from bench import config, registry
from bench.reporting import reported


@pytest.mark.parametrize(("paper", "presets"), [("mpuc", {"code", "code_mosei"}), ("avce", {"code", "code_resnet18", "code_affwild", "code_affwild_resnet18"})])
def test_own_cells_reproduce_with_a_code_preset_that_resolves(paper: str, presets: set[str]) -> None:
    cells = [c for t in reported.load_paper(reported.results_root() / "reported" / f"{paper}.yaml").tables.values()
             for c in t.cells if c.own]
    assert cells and all(c.reproduce is not None for c in cells)
    assert {c.reproduce.preset for c in cells} == presets
    for cell in cells:
        method = registry.methods.get(cell.reproduce.method)
        overrides = {k: v for k, v in cell.reproduce.overrides.items() if v != reported.LOCAL_PATH}
        cfg = config.resolve(method.Config, method.presets, cell.reproduce.preset, overrides, method.name)
        assert cfg is not None, cell.where
    text = [c for c in cells if "text" in c.modalities]
    assert all(c.reproduce.overrides.get("glove_path") == reported.LOCAL_PATH for c in text)
