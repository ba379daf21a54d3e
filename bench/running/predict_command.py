"""``bench predict``: a trained model's predictions on media files or on a dataset's samples.

Each input (a video, an audio file, a face-frame folder, or ``--samples`` of a dataset in its
own layout) is run through the model's own preprocessing (:mod:`bench.running.predict_model`),
cached as for a run, and through ``predict_step``; the rows are exactly what a cell's
``predictions.npz`` stores for the same inputs. Per input it prints the prediction (the class
name, the label names above ``--threshold``, or the values), the raw outputs and, for
classification and multilabel tasks, the probabilities. An input that lacks a modality the model
reads or cannot be decoded gets one line on stderr; the others are still predicted, and the exit
code is then 1.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from tabulate import tabulate

from bench import config as config_mod
from bench.api import Sample, TaskSpec
from bench.data.cache import Cache, default_cache
from bench.data.prepare import ArrayDataset, prepare
from bench.errors import BenchError, ConfigError
from bench.files import roots
from bench.running import predict_model, training
from bench.running.predict_model import Model


def predict_command(args: argparse.Namespace) -> int:
    """Resolve the model, predict every input, print the rows; 1 when an input failed."""
    model = _model(args)
    predict_model.check_preprocessing(model)
    inputs = _inputs(args, model)
    if not inputs:
        raise ConfigError("bench predict: give media files (FILE ...) or --data-root DIR --samples ID ...")
    cache = Cache(args.cache_dir) if args.cache_dir else default_cache()
    faces = predict_model.wants_faces(model, args.faces)
    predictor = Predictor(model, cache)
    rows, failures = [], 0
    bar = _progress(len(inputs), not args.no_progress)
    for name, sources in inputs:
        try:
            if isinstance(sources, BenchError):
                raise sources
            outputs, fallbacks = predictor.outputs(sources, faces)
            rows.append({**row(name, outputs, model.task, args.threshold),
                         **({"fallbacks": fallbacks} if fallbacks else {})})
        except BenchError as exc:
            failures += 1
            line = f"error: {name}: {str(exc).removeprefix(f'{name}: ').splitlines()[0]}"
            if bar is not None:
                bar.write(line, file=sys.stderr)  # above the bar, not through it
            else:
                print(line, file=sys.stderr)
        if bar is not None:
            bar.update()
    if bar is not None:
        bar.close()
    if rows:
        print(render(rows, model.task, args.format))
    return 1 if failures else 0


class Predictor:
    """One model, built on the first input's shapes and reused for the others."""

    def __init__(self, model: Model, cache: Cache) -> None:
        self.model, self.cache = model, cache
        self.module: Any = None

    def outputs(self, sources: dict[str, Path], faces: bool) -> tuple[np.ndarray, list[str]]:
        """The model's output row for one input's sources, and the preprocessing fallbacks it took."""
        specs = predict_model.input_specs(self.model, sources, faces)
        sample = Sample(id=str(next(iter(sources.values()))), label=None, sources=sources)
        prepared = prepare([sample], specs, self.cache)
        if self.module is None:
            self.module = self.model.build(prepared.shapes)
        fallbacks = [f"{m}: {reason}" for m, counts in prepared.fallbacks.items() for reason in counts]
        return training.predict(self.module, ArrayDataset(prepared, None, [0]))[0], fallbacks


def _model(args: argparse.Namespace) -> Model:
    if args.from_record is not None:
        if args.method or args.weights:
            raise ConfigError("bench predict: --from RECORD names the method and weights; leave out --method and "
                              "--weights")
        return predict_model.from_record(args.from_record)
    if not args.method or args.weights is None:
        raise ConfigError("bench predict: give --from RECORD, or --method M --weights FILE [--preset P --set K=V]")
    return predict_model.from_weights(args.method, args.preset, config_mod.parse_overrides(args.set), args.weights,
                                      args.dataset)


def _inputs(args: argparse.Namespace, model: Model) -> list[tuple[str, dict[str, Path] | BenchError]]:
    """``(name, sources or the reason it has none)`` of every input, in the order given."""
    out: list[tuple[str, dict[str, Path] | BenchError]] = []
    for path in args.files:
        try:
            out.append((str(path), predict_model.sources_of(Path(path), model.modalities)))
        except BenchError as exc:
            out.append((str(path), exc))
    if args.samples:
        dataset = args.dataset or model.dataset
        if dataset is None:
            raise ConfigError("--samples: name the dataset with --dataset")
        if model.dataset_options is None:
            raise ConfigError(f"--samples: the record's protocol cannot be loaded, so its {dataset} options are "
                              "unknown; predict the files themselves (FILE ...)")
        adapter = roots.open_adapter(dataset, args.data_root, model.dataset_options, needed_by="--samples")
        by_id = {s.id: s for s in adapter.samples()}
        for sid in args.samples:
            sample = by_id.get(sid)
            lacking = [m for m in model.modalities if sample is not None and m not in sample.sources]
            if sample is None:
                out.append((sid, ConfigError(f"no such sample in the {dataset} data at {adapter.root}")))
            elif lacking:
                out.append((sid, ConfigError(f"has no {', '.join(lacking)}, which the model reads")))
            else:
                out.append((sid, {m: sample.sources[m] for m in model.modalities}))  # type: ignore[misc]
    return out


def _progress(count: int, show: bool) -> Any:
    """A progress bar over ``count`` inputs on stderr (None for one input or ``--no-progress``)."""
    if not show or count < 2:
        return None
    from tqdm import tqdm

    return tqdm(total=count, desc="predict", unit="input", file=sys.stderr)


def row(name: str, outputs: np.ndarray, task: TaskSpec, threshold: float = 0.0) -> dict[str, Any]:
    """One input's result: ``file``, ``prediction``, ``outputs`` (as ``predictions.npz`` stores them)
    and ``probabilities`` (classification: softmax; multilabel: sigmoid)."""
    values = [float(v) for v in np.asarray(outputs, dtype=np.float64).reshape(-1)]
    result: dict[str, Any] = {"file": name}
    if task.kind == "classification":
        shifted = np.exp(np.asarray(values) - max(values))
        probabilities = shifted / shifted.sum()
        result["prediction"] = task.label_names[int(np.argmax(values))]
        result["outputs"] = values
        result["probabilities"] = [float(p) for p in probabilities]
    elif task.kind == "multilabel":
        result["prediction"] = [n for n, v in zip(task.label_names, values) if v > threshold]
        result["outputs"] = values
        result["probabilities"] = [float(1 / (1 + np.exp(-v))) for v in values]
    else:
        result["prediction"] = dict(zip(task.label_names, values))
        result["outputs"] = values
    return result


def render(rows: Sequence[dict[str, Any]], task: TaskSpec, fmt: str) -> str:
    """The rows as a table, CSV (one column per output, then per probability) or JSON lines."""
    if fmt == "json":
        return "\n".join(json.dumps(r) for r in rows)
    names = list(task.label_names)
    has_probs = "probabilities" in rows[0]
    header = ["file", "prediction", *(f"output_{n}" for n in names), *(f"p_{n}" for n in names if has_probs)]
    body = [[r["file"], _shown(r["prediction"]), *r["outputs"], *(r.get("probabilities") or [])] for r in rows]
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(body)
        return buffer.getvalue().rstrip("\n")
    return tabulate(body, headers=header, floatfmt=".4f")


def _shown(prediction: Any) -> str:
    if isinstance(prediction, list):
        return ";".join(prediction) or "-"
    if isinstance(prediction, dict):
        return " ".join(f"{k}={v:.4f}" for k, v in prediction.items())
    return str(prediction)
