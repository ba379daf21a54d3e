"""The entry-point registry, with a real plugin distribution built and installed by pip."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from bench import registry
from bench.errors import PluginError

PLUGIN_MODULE = '''
"""A third-party method family for bench, shipped in its own distribution."""
from bench_methods.late_fusion import LateFusion


class EchoFusion(LateFusion):
    name = "echo_fusion"
    presets = {"paper": {}, "tiny": {"epochs": 1, "embed_dim": 8, "hidden_dim": 8, "num_frames": 2,
                                      "frame_size": 16, "audio_frames": 32, "num_mel_bins": 23}}


class NotAMethod:
    pass
'''


@pytest.fixture(scope="module")
def plugin_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Build and install (pip --target) a distribution registering three entry points."""
    src = tmp_path_factory.mktemp("plugin_src")
    (src / "bench_echo_plugin.py").write_text(PLUGIN_MODULE)
    (src / "pyproject.toml").write_text(textwrap.dedent('''
        [build-system]
        requires = ["setuptools>=61"]
        build-backend = "setuptools.build_meta"

        [project]
        name = "bench-echo-plugin"
        version = "0.0.1"

        [tool.setuptools]
        py-modules = ["bench_echo_plugin"]

        [project.entry-points."bench.methods"]
        echo_fusion = "bench_echo_plugin:EchoFusion"
        broken_import = "bench_echo_plugin_missing_module:Thing"
        not_a_method = "bench_echo_plugin:NotAMethod"
    '''))
    site = tmp_path_factory.mktemp("plugin_site")
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                    "--no-index", "--target", str(site), str(src)], check=True, capture_output=True)
    return site


@pytest.fixture
def with_plugin(plugin_site: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.syspath_prepend(str(plugin_site))
    registry.methods.refresh()
    yield plugin_site
    monkeypatch.undo()
    registry.methods.refresh()


def test_builtin_plugins_are_entry_points() -> None:
    assert "late_fusion" in registry.methods.names()
    assert {"synthetic", "synthetic_multilabel", "synthetic_va"} <= set(registry.datasets.names())
    assert registry.methods.get("late_fusion").name == "late_fusion"


def test_unknown_name_suggests_the_closest() -> None:
    with pytest.raises(PluginError, match=r"unknown method 'late_fusoin' \(did you mean 'late_fusion'\?\)"):
        registry.methods.get("late_fusoin")


def test_installed_plugin_is_found_and_loads(with_plugin: Path) -> None:
    names = registry.methods.names()
    assert {"echo_fusion", "broken_import", "not_a_method"} <= set(names)
    cls = registry.methods.get("echo_fusion")
    assert cls.__module__ == "bench_echo_plugin"
    assert "bench-echo-plugin 0.0.1" in registry.methods.source("echo_fusion")


def test_broken_plugin_is_reported_not_fatal(with_plugin: Path) -> None:
    with pytest.raises(PluginError, match="broken_import.*failed to import.*ModuleNotFoundError"):
        registry.methods.get("broken_import")
    with pytest.raises(PluginError, match="not a Method subclass"):
        registry.methods.get("not_a_method")
    failures = registry.methods.load_all()
    assert set(failures) == {"broken_import", "not_a_method"}
    assert registry.methods.get("late_fusion").name == "late_fusion"


def test_same_name_twice_is_an_error(plugin_site: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    clash = tmp_path / "bench_clash-0.1.dist-info"
    clash.mkdir()
    (clash / "METADATA").write_text("Metadata-Version: 2.1\nName: bench-clash\nVersion: 0.1\n")
    (clash / "entry_points.txt").write_text("[bench.methods]\necho_fusion = somewhere_else:Other\n")
    monkeypatch.syspath_prepend(str(plugin_site))
    monkeypatch.syspath_prepend(str(tmp_path))
    registry.methods.refresh()
    try:
        with pytest.raises(PluginError, match="registered more than once.*bench-clash"):
            registry.methods.get("echo_fusion")
    finally:
        monkeypatch.undo()
        registry.methods.refresh()


def test_cli_lists_plugin_and_doctor_reports_failures(plugin_site: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(plugin_site)}
    listing = subprocess.run([sys.executable, "-m", "bench.cli", "list", "methods"], env=env,
                             capture_output=True, text=True, check=True).stdout
    assert "echo_fusion" in listing and "late_fusion" in listing
    assert "broken_import" in listing and "FAILED TO LOAD" in listing
    doctor = subprocess.run([sys.executable, "-m", "bench.cli", "doctor"], env=env,
                            capture_output=True, text=True, check=True).stdout
    assert "FAILED broken_import" in doctor and "FAILED not_a_method" in doctor
    assert "echo_fusion" in doctor.split("methods:")[1].splitlines()[0]


def test_a_method_without_what_the_default_stages_read_is_refused_by_name() -> None:
    import dataclasses

    from bench.api import Method, Stage

    @dataclasses.dataclass(frozen=True)
    class NoLength:
        lr: float = 1e-3

    class Plain(Method):
        name, modalities, tasks, regimes, Config = "plain", ("audio",), ("classification",), ("supervised",), NoLength

        def inputs(self, cfg: object, modalities: object) -> dict:
            return {}

        def build(self, task: object, cfg: object, shapes: object) -> None:
            return None

    class Staged(Plain):
        def stages(self, cfg: object, regime: str, pretrain: bool) -> list[Stage]:
            return [Stage(regime, 1, 8)]

    assert registry.check_method(Plain) == ("Config has no epochs or batch_size, which the default stages() reads; "
                                            "add the field(s) or override stages()")
    assert registry.check_method(Staged) is None
    Plain.Config = dict
    assert registry.check_method(Plain) == "Config must be a dataclass"


def test_module_hooks_fall_back_to_the_declared_defaults() -> None:
    from bench.api import module_hook

    class Bare:
        pass

    class Staged:
        wants_unlabelled = True

        def __init__(self) -> None:
            self.started: list[str] = []

        def start_stage(self, name: str) -> None:
            self.started.append(name)

    bare, staged = Bare(), Staged()
    assert module_hook(bare, "wants_unlabelled") is False
    assert module_hook(bare, "weights_provenance") == {"all": "random-init"}
    module_hook(bare, "start_stage")("pretrain")  # the default does nothing
    with pytest.raises(NotImplementedError, match="must define attach_unlabelled"):
        module_hook(staged, "attach_unlabelled")([])
    module_hook(staged, "start_stage")("finetune")
    assert module_hook(staged, "wants_unlabelled") is True and staged.started == ["finetune"]
    with pytest.raises(AttributeError, match="'lr' is not a member of the module contract"):
        module_hook(bare, "lr")
