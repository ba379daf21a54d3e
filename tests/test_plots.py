"""Confusion-matrix figures: rendered from real run records, beside them, and different
matrices give different images."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from bench.data.synthetic_generator import SyntheticSpec, generate
from bench.errors import DataError
from bench.records import store
from bench.reporting import confusion_figures, verify
from bench.running import run

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def cell_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One real configuration folder: late_fusion, tiny, fold 1 × seeds 0 and 1, on a small dataset."""
    base = tmp_path_factory.mktemp("plots")
    data = generate(base / "data", SyntheticSpec(variant="classification", num_subjects=5, clips_per_subject=8))
    request = run.RunRequest(method="late_fusion", protocol="synthetic_5fold", folds=["1"], seeds=[0, 1],
                             preset="tiny", overrides={"epochs": 1}, data_root=data, out=base / "store",
                             progress=False, cache_root=base / "cache")
    results = run.execute(run.make_plan(request))
    return results[0].path.parent


def image(data: bytes) -> Image.Image:
    assert data.startswith(PNG_SIGNATURE)
    return Image.open(io.BytesIO(data))


def test_rows_are_normalised_by_hand() -> None:
    counts = np.array([[3, 1, 0], [0, 0, 0], [2, 2, 4]])
    expected = np.array([[0.75, 0.25, 0.0], [0.0, 0.0, 0.0], [0.25, 0.25, 0.5]])
    np.testing.assert_array_equal(confusion_figures.normalise_rows(counts), expected)


def test_a_record_gets_its_figure_beside_it(cell_dir: Path) -> None:
    record_file = sorted(cell_dir.glob("*.json"))[0]
    path = confusion_figures.plot_record(record_file)
    assert path == record_file.with_name(record_file.stem + ".confusion.png") and path.parent == cell_dir
    picture = image(path.read_bytes())
    classes = len(store.read(record_file)["label_names"])
    side = 1.6 + 0.7 * classes
    assert picture.size == (round((side + 1.2) * 100), round(side * 100))
    pixels = np.asarray(picture.convert("L"))
    assert pixels.std() > 10  # not a blank canvas
    assert not [p for p in cell_dir.iterdir() if p.name.endswith(".tmp")]


def test_the_aggregate_sums_every_record_of_the_folder(cell_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    drawn: list[tuple[np.ndarray, tuple[str, ...], str]] = []
    real = confusion_figures.confusion_png

    def spy(counts: np.ndarray, names: tuple[str, ...], title: str) -> bytes:
        drawn.append((np.asarray(counts), tuple(names), title))
        return real(counts, names, title)

    monkeypatch.setattr(confusion_figures, "confusion_png", spy)
    path = confusion_figures.plot_cell(cell_dir)
    assert path == cell_dir / confusion_figures.AGGREGATE_NAME
    records = [store.read(p) for p in sorted(cell_dir.glob("*.json"))]
    [(counts, names, title)] = drawn
    np.testing.assert_array_equal(counts, np.sum([r["confusion"] for r in records], axis=0))
    assert names == tuple(records[0]["label_names"])
    assert "summed over 2 run(s)" in title and f"n={sum(r['data']['split']['sizes']['test'] for r in records)}" in title
    image(path.read_bytes())


def test_different_matrices_give_different_images() -> None:
    names = ("neutral", "happy", "sad", "angry")
    a = confusion_figures.confusion_png(np.eye(4, dtype=int) * 5, names, "same title")
    b = confusion_figures.confusion_png(np.ones((4, 4), dtype=int), names, "same title")
    assert image(a).size == image(b).size
    diff = np.abs(np.asarray(image(a).convert("L"), dtype=int) - np.asarray(image(b).convert("L"), dtype=int))
    assert (diff > 0).mean() > 0.05


def test_plot_store_covers_records_and_folders(cell_dir: Path) -> None:
    written = confusion_figures.plot_store(verify.scan(cell_dir.parents[3]).found)
    assert sorted(p.name for p in written) == ["confusion.png", "fold1-seed0.confusion.png", "fold1-seed1.confusion.png"]


def test_records_without_a_class_confusion_are_skipped(tmp_path: Path, cell_dir: Path) -> None:
    record_file = sorted(cell_dir.glob("*.json"))[0]
    rec = store.read(record_file)
    rec["confusion"] = [[[5, 1], [2, 3]], [[4, 2], [1, 4]]]  # multilabel: one 2 x 2 per label
    copy = tmp_path / record_file.name
    copy.write_text(json.dumps(rec), encoding="utf-8")
    assert confusion_figures.plot_record(copy) is None
    assert confusion_figures.plot_cell(tmp_path) is None


def test_mismatched_class_names_are_refused(tmp_path: Path, cell_dir: Path) -> None:
    files = sorted(cell_dir.glob("*.json"))
    for i, record_file in enumerate(files):
        rec = store.read(record_file)
        if i:
            rec["label_names"] = list(reversed(rec["label_names"]))
        (tmp_path / record_file.name).write_text(json.dumps(rec), encoding="utf-8")
    with pytest.raises(DataError, match="class names .* differ"):
        confusion_figures.plot_cell(tmp_path)
