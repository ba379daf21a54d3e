"""Hand-built run records whose predictions give the numbers they state.

Every command that reads a store recomputes each record's metrics from its predictions
(:mod:`bench.reporting.verify`), so a test store is written with predictions that score
exactly what the test wants: :func:`predictions` builds, for a wanted UAR and WAR, a small test
side that scores exactly those (:func:`class_counts`). :func:`regress` turns a real record into
the one a broken model would have written (every prediction wrong), sealed as bench seals it.
"""

from __future__ import annotations

import functools
import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from bench import metrics
from bench.api import TaskSpec
from bench.data.synthetic_spec import CLASS_NAMES
from bench.records import store


@functools.lru_cache(maxsize=None)
def class_counts(uar: float, war: float, classes: int = len(CLASS_NAMES)) -> tuple[tuple[int, int], ...]:
    """(samples, right) per class for a test side scoring ``uar`` and ``war``: m - 1 classes of n samples with p
    right and one of N samples with q right, the smallest m (2 to ``classes``) and sizes that give them exactly.

    UAR = ((m-1)·p/n + q/N)/m and WAR = ((m-1)·p + q)/((m-1)·n + N); for each (m, n, p, N), q follows from UAR.
    """
    for m in range(2, classes + 1):
        for n in range(1, 41):
            for p in range(n + 1):
                for big in range(1, 201):
                    q = round(big * (m * uar - (m - 1) * p / n))
                    if not 0 <= q <= big:
                        continue
                    if math.isclose(((m - 1) * p / n + q / big) / m, uar, abs_tol=1e-12) and \
                            math.isclose(((m - 1) * p + q) / ((m - 1) * n + big), war, abs_tol=1e-12):
                        return ((n, p),) * (m - 1) + ((big, q),)
    raise ValueError(f"no test side of at most {classes} classes gives UAR {uar} and WAR {war}")


def predictions(uar: float, war: float, classes: int = len(CLASS_NAMES)) -> dict[str, np.ndarray]:
    """``ids``, ``outputs`` (one-hot scores over ``classes``) and ``targets`` with these scores (:func:`class_counts`):
    a wrong prediction of class c says c + 1 (mod ``classes``)."""
    targets, predicted = [], []
    for label, (count, right) in enumerate(class_counts(uar, war, classes)):
        targets += [label] * count
        predicted += [label] * right + [(label + 1) % classes] * (count - right)
    return {"ids": np.array([f"s{i:03d}" for i in range(len(targets))]),
            "outputs": np.eye(classes, dtype=np.float32)[predicted], "targets": np.array(targets)}


def write(path: Path, rec: dict[str, Any], arrays: dict[str, np.ndarray] | None = None) -> dict[str, Any]:
    """Write a classification record whose predictions (``arrays``, else two-class ones scoring its ``uar`` and
    ``war``; ``war`` = ``uar`` when it has none) give its metrics; returns the record as written."""
    names = tuple(rec.get("label_names") or CLASS_NAMES)
    task = TaskSpec("classification", names)
    wanted = dict(rec["metrics"])
    if arrays is None:
        arrays = predictions(wanted["uar"], wanted.get("war", wanted["uar"]), len(names))
    scored = metrics.compute(list(wanted), task, arrays["outputs"], arrays["targets"])
    for key, value in wanted.items():
        assert math.isclose(scored[key], value, abs_tol=1e-12), (key, scored[key], value)
    full = {**rec, "task": "classification", "label_names": list(names), "metrics": scored,
            "confusion": metrics.confusion(task, arrays["outputs"], arrays["targets"])}
    store.write(path, full, arrays)
    return store.read(path)


def regress(record_file: Path) -> dict[str, Any]:
    """Rewrite a real classification record as a run of broken code would have: every test prediction wrong,
    metrics and confusion recomputed, the record sealed. Returns the new record."""
    rec = json.loads(record_file.read_text(encoding="utf-8"))
    with np.load(store.predictions_path(record_file)) as stored:
        arrays = {name: stored[name] for name in stored.files}
    classes = arrays["outputs"].shape[1]
    arrays["outputs"] = np.eye(classes, dtype=np.float32)[(arrays["targets"] + 1) % classes]
    task = TaskSpec("classification", tuple(rec["label_names"]))
    rec["metrics"] = metrics.compute(list(rec["metrics"]), task, arrays["outputs"], arrays["targets"])
    rec["confusion"] = metrics.confusion(task, arrays["outputs"], arrays["targets"])
    rec.pop("integrity", None)
    store.write(record_file, rec, arrays)
    return store.read(record_file)
