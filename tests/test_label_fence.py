"""The label fence: what a cell trains on cannot depend on its test labels.

Each method family trains the same cell twice, on a synthetic dataset and on a copy of it whose
test labels were changed (every other file is the original's, linked): every stage's every epoch
must have the same training loss and validation value, and the trained model the same test
outputs; only the test targets (and so the test metrics) differ. Before the fence, MPUC's BCE
``pos_weight`` was computed from every prepared row's labels, test rows included, and its
linear-stage loss moved with the test labels.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from bench.data.synthetic_generator import SyntheticSpec, generate
from bench.records import store
from bench.running import run

pytestmark = pytest.mark.usefixtures("one_thread")

TASKS = {
    # task: (synthetic variant, dataset name, metric the selection and the record use)
    "classification": ("classification", "synthetic", "uar"),
    "multilabel": ("multilabel", "synthetic_multilabel", "mosei_wacc"),
    "regression": ("va", "synthetic_va", "ccc"),
}

PROTOCOL = """\
name: fence_{name}
dataset: {dataset}
task: {task}
modalities: {modalities}
split: {{scheme: official}}
regime: {regime}
selection: {{rule: best_val, metric: {metric}}}
metrics: [{metric}]
primary: {metric}
"""


def _changed_label(variant: str, row: dict[str, str]) -> None:
    """Change one manifest row's label in place: the next class, every 0/1 flipped, the axes negated."""
    if variant == "classification":
        from bench.data.synthetic_spec import CLASS_NAMES
        row["label"] = CLASS_NAMES[(CLASS_NAMES.index(row["label"]) + 1) % len(CLASS_NAMES)]
    elif variant == "multilabel":
        from bench.data.synthetic_spec import MULTILABEL_NAMES
        for name in MULTILABEL_NAMES:
            row[name] = "0" if float(row[name]) else "1"
    else:
        for name in ("valence", "arousal"):
            row[name] = repr(-float(row[name]))


def _copy_with_test_labels_changed(root: Path, copy: Path, variant: str) -> int:
    """``copy``: every entry of ``root`` linked, except manifest.csv, whose test rows get other labels."""
    copy.mkdir(parents=True)
    for entry in root.iterdir():
        if entry.name != "manifest.csv":
            (copy / entry.name).symlink_to(entry.resolve())
    test_ids = set((root / "splits" / "test.txt").read_text(encoding="utf-8").split())
    with (root / "manifest.csv").open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        fields, rows = reader.fieldnames, list(reader)
    for row in rows:
        if row["id"] in test_ids:
            _changed_label(variant, row)
    with (copy / "manifest.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    return len(test_ids)


@pytest.fixture(scope="module")
def roots(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, Path]]:
    """Per task, a small synthetic root (5 subjects: 3 train, 1 val, 1 test) and its changed copy."""
    out = {}
    for task, (variant, _, _) in TASKS.items():
        base = tmp_path_factory.mktemp(f"fence-{variant}")
        generate(base / "data", SyntheticSpec(variant=variant, num_subjects=5, clips_per_subject=4, num_frames=8,
                                              size=32))
        assert _copy_with_test_labels_changed(base / "data", base / "changed", variant) > 0
        out[task] = (base / "data", base / "changed")
    return out


def _train(method: str, task: str, modalities: list[str], regime: str, data_root: Path, folder: Path,
           overrides: dict[str, object]) -> tuple[dict, dict[str, np.ndarray]]:
    _, dataset, metric = TASKS[task]
    protocol = folder / f"fence_{method}.yaml"
    if not protocol.exists():
        protocol.write_text(PROTOCOL.format(name=method, dataset=dataset, task=task, modalities=modalities,
                                            regime=regime, metric=metric), encoding="utf-8")
    request = run.RunRequest(method=method, protocol=str(protocol), preset="tiny", data_root=data_root,
                             out=folder / data_root.name, progress=False, cache_root=folder / "cache",
                             budget="2", overrides=overrides)
    [result] = run.execute(run.make_plan(request))
    with np.load(store.predictions_path(result.path)) as arrays:
        return result.record, {name: arrays[name] for name in arrays.files}


CASES = [
    # method, task, modalities, regime, overrides keeping the cell small
    ("late_fusion", "classification", ["audio", "landmarks"], "{kind: supervised}", {}),
    ("mma_dfer", "classification", ["video", "audio"], "{kind: supervised}", {}),
    ("mpuc", "multilabel", ["audio", "landmarks"], "{kind: linear_eval, pretrain: true}", {}),
    ("avce", "regression", ["video"], "{kind: supervised}", {}),
    ("conclugen", "multilabel", ["audio", "text"], "{kind: linear_eval, pretrain: true}", {}),
]


@pytest.mark.parametrize("method,task,modalities,regime,overrides", CASES, ids=[c[0] for c in CASES])
def test_changing_only_the_test_labels_leaves_training_untouched(
        roots: dict[str, tuple[Path, Path]], tmp_path: Path, method: str, task: str, modalities: list[str],
        regime: str, overrides: dict[str, object]) -> None:
    data, changed = roots[task]
    first, first_arrays = _train(method, task, modalities, regime, data, tmp_path, overrides)
    second, second_arrays = _train(method, task, modalities, regime, changed, tmp_path, overrides)

    stages = {entry["stage"] for entry in first["history"]}
    assert first["history"] and all(entry["train_loss"] is not None for entry in first["history"])
    assert second["history"] == first["history"], f"{method}: training saw the test labels (stages {stages})"
    assert first["selection"]["epoch"] == second["selection"]["epoch"]
    np.testing.assert_array_equal(second_arrays["outputs"], first_arrays["outputs"])
    # the change did reach the test door: same ids, other targets
    np.testing.assert_array_equal(second_arrays["ids"], first_arrays["ids"])
    assert not np.array_equal(second_arrays["targets"], first_arrays["targets"])
