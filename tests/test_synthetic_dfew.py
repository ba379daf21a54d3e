"""The synthetic benchmark in DFEW's layout: the tree holds what the synthetic dataset holds,
in the files the DFEW adapter (and MMA-DFER's loaders) read."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from bench import registry
from bench.data.adapters.dfew import DFEW
from bench.data.media import read_video
from bench.data.synthetic import SyntheticClassification
from bench.data.synthetic_generator import CLASS_NAMES, SyntheticSpec, generate
from bench.data.synthetic_dfew import SyntheticDFEW, generate_dfew_layout
from bench.errors import DataError


@pytest.fixture(scope="module")
def trees(tmp_path_factory: pytest.TempPathFactory) -> tuple[SyntheticClassification, SyntheticDFEW]:
    base = tmp_path_factory.mktemp("dfew-layout")
    source = SyntheticClassification(generate(base / "synthetic", SyntheticSpec("classification", num_subjects=5,
                                                                                clips_per_subject=8)))
    return source, SyntheticDFEW(generate_dfew_layout(base / "dfew", source))


def _id_map(root: Path) -> dict[str, str]:
    with (root / "ids.csv").open(newline="", encoding="utf-8") as handle:
        return {row["dfew_id"]: row["synthetic_id"] for row in csv.DictReader(handle)}


def test_registered_and_read_by_the_dfew_adapter() -> None:
    adapter_cls = registry.datasets.get("synthetic_dfew")
    assert issubclass(adapter_cls, DFEW) and adapter_cls.label_names == CLASS_NAMES


def test_samples_labels_and_folds_are_the_synthetic_ones(
        trees: tuple[SyntheticClassification, SyntheticDFEW]) -> None:
    source, dfew = trees
    back = _id_map(dfew.root)
    assert sorted(back) == [f"{n:05d}" for n in range(1, 41)]
    labels = {s.id: s.label for s in source.samples()}
    samples = dfew.samples()
    assert [labels[back[s.id]] for s in samples] == [s.label for s in samples]
    for ours, theirs in zip(dfew.official_folds(), source.official_folds()):
        assert ours.name == theirs.name
        assert sorted(back[i] for i in ours.train) == sorted(theirs.train)
        assert sorted(back[i] for i in ours.test) == sorted(theirs.test)


def test_sources_are_the_frame_folders_and_stripped_wav_names(
        trees: tuple[SyntheticClassification, SyntheticDFEW]) -> None:
    source, dfew = trees
    first = dfew.samples()[0]
    assert first.id == "00001"
    assert first.sources == {"video": dfew.root / "Clip" / "clip_224x224" / "00001",
                             "audio": dfew.root / "raw_wav" / "1.wav"}
    original = source.samples()[0]
    assert first.sources["audio"].read_bytes() == original.sources["audio"].read_bytes()
    decoded = read_video(original.sources["video"]).frames
    jpgs = sorted(first.sources["video"].iterdir())
    assert [p.name for p in jpgs] == [f"{k:05d}.jpg" for k in range(1, len(decoded) + 1)]
    assert first.meta["num_frames"] == len(decoded)
    for path, frame in zip(jpgs, decoded):
        with Image.open(path) as image:
            assert image.format == "JPEG"
            error = np.abs(np.asarray(image.convert("RGB"), np.int16) - frame).mean()
        assert error < 4.0  # quality-95 JPEG of a 48 × 48 noisy face: a few grey levels on average


@pytest.mark.slow  # decodes the whole built-in tree: about 11 s
def test_the_real_check_passes_on_the_built_in_tree(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("BENCH_CACHE", str(tmp_path / "cache"))
    report = SyntheticDFEW(SyntheticDFEW.default_root()).check()
    assert report.ok, report.problems
    assert report.counts["clips"] == 240
    assert all(report.counts[f"fold{k}/test"] == 48 for k in range(1, 6))


def test_a_half_written_tree_is_refused(tmp_path: Path, trees: tuple[SyntheticClassification, SyntheticDFEW]) -> None:
    partial = tmp_path / "dfew"
    (partial / "Clip").mkdir(parents=True)
    with pytest.raises(DataError, match="not a complete synthetic DFEW tree"):
        generate_dfew_layout(partial, trees[0])
