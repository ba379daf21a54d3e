"""What ``bench predict`` runs: a trained model, its preprocessing, and what its inputs are.

:func:`from_record` rebuilds a finished cell's model (method, preset and overrides from its
record, the kept weights beside it, or the file an evaluated cell tested); :func:`from_weights`
one named by ``--method/--preset/--set --weights`` (a bench weights file carries its modalities
and label names; a released checkpoint takes them from ``--dataset``). Either way the inputs are
made by the transforms the method asks for under that configuration, the cell's own
preprocessing: a record whose stored preprocessing differs from them is refused.

:func:`sources_of` tells what a file given on the command line is: a face-frame folder (video),
a video file (video, and audio from its track), or an audio file. :func:`input_specs` swaps a
frame transform for MTCNN face crops (``face_frames``, MMA-DFER's ``mma_dfer_square`` policy, at
the same size and sampling) where the model was trained on face crops and is given a raw video.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from bench import config as config_mod
from bench import protocols, registry
from bench.api import DatasetAdapter, Method, TaskSpec, TransformSpec
from bench.data.catalog import get_transform
from bench.errors import BenchError, ConfigError, DataError
from bench.records import store
from bench.records.cells import RunRecord
from bench.running import kept_weights

VIDEO_SUFFIXES = (".mp4", ".avi", ".mkv", ".mov", ".webm", ".m4v", ".flv")
AUDIO_SUFFIXES = (".wav", ".opus", ".mp3", ".flac", ".ogg", ".m4a", ".aac")
FACE_POLICY = "mma_dfer_square"
"""The crop policy for a raw video given to a model trained on face crops: MMA-DFER's own
(``data_utils/extract_faces_mfaw.py``), the extraction of the face-crop datasets it reads."""


@dataclasses.dataclass(frozen=True)
class Model:
    """A model to predict with: how to build it, which weights, and where its classes come from."""

    method: Method
    cfg: Any
    preset: str
    modalities: tuple[str, ...]
    task: TaskSpec
    weights: kept_weights.WeightsFile
    dataset: str | None
    """The dataset it was trained or is evaluated on (for ``--samples`` and face crops), when known."""
    dataset_options: Mapping[str, Any] | None = dataclasses.field(default_factory=dict)
    """The dataset adapter's options under the cell's protocol (None: its protocol cannot be loaded)."""
    preprocessing: Mapping[str, Any] | None = None
    """The record's ``data.preprocessing``, checked against :meth:`specs` (None: no record)."""

    def specs(self) -> dict[str, TransformSpec]:
        """The transform of each modality the model reads, under its configuration."""
        return self.method.inputs(self.cfg, self.modalities)

    def build(self, shapes: Mapping[str, tuple[int, ...]]) -> Any:
        """The method's module on inputs of ``shapes``, with the weights loaded, in eval mode."""
        module = self.method.build(self.task, self.cfg, shapes)
        kept_weights.load_into(module, self.method, self.weights)
        return module.eval()


def from_record(path: Path) -> Model:
    """The model of a finished cell's record (see the module docstring)."""
    rec = RunRecord.from_dict(store.read(path), str(path))
    method_cls = registry.methods.get(rec.method)
    cfg = config_mod.resolve(method_cls.Config, method_cls.presets, rec.preset, rec.overrides, method_cls.name)
    if config_mod.to_dict(cfg) != dict(rec.config):
        changed = sorted(k for k, v in config_mod.to_dict(cfg).items() if rec.config.get(k) != v)
        raise DataError(f"{path}: its preset {rec.preset} and overrides no longer give its configuration "
                        f"(keys {', '.join(changed)} changed since it ran)")
    task = TaskSpec(rec.task or "classification", tuple(rec.label_names))
    method = method_cls()
    if rec.evaluated:
        file = Path(rec.evaluated["weights"])
    elif rec.trained_weights.get("file"):
        file = path.with_name(rec.trained_weights["file"])
    else:
        why = rec.trained_weights.get("why", "it was written before bench kept weights")
        raise DataError(f"{path}: the cell kept no weights ({why}); rerun it without --no-keep-weights")
    if not file.is_file():
        raise DataError(f"{path}: its weights file {file} is gone")
    weights = kept_weights.resolve(file, method, kept_weights.identity(rec.method, rec.preset, cfg, rec.modalities,
                                                                       task))
    try:  # the dataset's options (for --samples); a protocol file outside protocols/ may be gone
        options: Mapping[str, Any] | None = protocols.load(rec.protocol.name).dataset_options
    except BenchError:
        options = None
    return Model(method, cfg, rec.preset, tuple(rec.modalities), task, weights, rec.data.get("dataset"),
                 options, rec.data.get("preprocessing"))


def from_weights(method_name: str, preset: str, overrides: Mapping[str, Any], file: Path,
                 dataset: str | None) -> Model:
    """The model ``--method --preset --set --weights FILE`` name (``--dataset`` for a released checkpoint)."""
    method_cls = registry.methods.get(method_name)
    cfg = config_mod.resolve(method_cls.Config, method_cls.presets, preset, overrides, method_cls.name)
    preset = config_mod.preset_name(method_cls.presets, preset, method_cls.name)
    method = method_cls()
    meta = kept_weights.bench_meta(Path(file))
    if meta is not None:
        task = TaskSpec(meta.get("task", "classification"), tuple(meta.get("label_names", ())))
        modalities = tuple(meta.get("modalities", ()))
        weights = kept_weights.resolve(Path(file), method, kept_weights.identity(method_name, preset, cfg,
                                                                                 modalities, task))
        return Model(method, cfg, preset, modalities, task, weights, dataset)
    if dataset is None:
        raise ConfigError(f"--weights {file}: a released checkpoint names no classes; give --dataset (the dataset "
                          f"it was trained on)")
    adapter_cls = registry.datasets.get(dataset)
    modalities = tuple(m for m in method_cls.modalities if m in adapter_cls.modalities)
    task = TaskSpec(adapter_cls.task, tuple(adapter_cls.label_names))
    weights = kept_weights.resolve(Path(file), method, {})
    return Model(method, cfg, preset, modalities, task, weights, dataset)


def check_preprocessing(model: Model) -> None:
    """Refuse a record whose stored preprocessing is not what its method's transforms make now."""
    if model.preprocessing is None:
        return
    for modality, spec in model.specs().items():
        now = get_transform(spec).describe()
        stored = model.preprocessing.get(modality)
        if stored is not None and stored != now:
            raise DataError(f"the record's {modality} preprocessing {stored} differs from what bench makes now {now}; "
                            "its predictions cannot be reproduced with this version")


def wants_faces(model: Model, mode: str) -> bool:
    """Whether a raw video goes through MTCNN face crops (``--faces``; ``auto``: the dataset is face crops)."""
    if mode != "auto":
        return mode == "mtcnn"
    if model.dataset is None:
        return False
    adapter_cls: type[DatasetAdapter] = registry.datasets.get(model.dataset)
    return bool(adapter_cls.video_face_crops)


def input_specs(model: Model, sources: Mapping[str, Path | str], faces: bool) -> dict[str, TransformSpec]:
    """The transforms for one input: the model's, with face crops for a raw video when ``faces``."""
    specs = model.specs()
    video = specs.get("video")
    source = sources.get("video")
    if not faces or video is None or video.name != "video_frames" or not isinstance(source, Path) or source.is_dir():
        return specs
    params = video.params
    crops = TransformSpec("face_frames", {"policy": FACE_POLICY, "size": params["size"],
                                          "ordering": params.get("ordering", "numeric"),
                                          "num_frames": params["num_frames"],
                                          "test_clips": params.get("test_clips", 1)})
    return {**specs, "video": crops}


def sources_of(path: Path, modalities: Sequence[str]) -> dict[str, Path]:
    """The modalities a command-line input provides; a DataError names what it lacks of ``modalities``."""
    if path.is_dir():
        found = {"video": path}
        kind = "a face-frame folder"
    elif not path.is_file():
        raise DataError("no such file or folder")
    elif path.suffix.lower() in VIDEO_SUFFIXES:
        found = {"video": path, "audio": path}
        kind = "a video"
    elif path.suffix.lower() in AUDIO_SUFFIXES:
        found = {"audio": path}
        kind = "an audio file"
    else:
        raise DataError(f"not a video ({', '.join(VIDEO_SUFFIXES)}), an audio file ({', '.join(AUDIO_SUFFIXES)}) "
                        "or a folder of face frames")
    lacking = [m for m in modalities if m not in found]
    if lacking:
        raise DataError(f"{kind} has no {', '.join(lacking)}, which the model reads ({', '.join(modalities)})")
    return {m: found[m] for m in modalities}
