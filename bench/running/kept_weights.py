"""Weights files: a finished cell's kept weights, and reading a weights file back into a model.

A finished cell writes the weights its selection rule chose beside its record, as
``fold<k>-seed<s>.safetensors`` (:func:`bench.records.store.weights_path`; the safetensors
format: tensors and a string header, nothing executable), atomically and before the record. It holds every tensor of the module's
``state_dict`` except those read from a pretrained file (``ModuleHooks.pretrained_tensors``):
the record's ``weights`` names those files by sha256 and the same configuration reads them
again. The header's metadata entry ``bench`` is the JSON of the cell's identity
(:func:`identity`: method, preset, configuration, modalities, task and label names) plus
where it came from (protocol, fold, seed, selection, pretrained files, the last stage's name:
the module is put in that stage again when the file is loaded).

``--regime evaluate --weights FILE`` reads FILE back (:func:`resolve`, then :func:`load_into`):
a bench file must come from the same identity, else one line names the keys that differ; any
other file is handed to the method's released-checkpoint loader (``Method.load_released``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import struct
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch

from bench import config as config_mod
from bench.api import Method, TaskSpec, module_hook
from bench.errors import ConfigError, DataError
from bench.files import io

FORMAT = 1
"""Version of the metadata layout; a file of another version is refused."""
META_KEY = "bench"


def identity(method: str, preset: str, cfg: Any, modalities: Sequence[str], task: TaskSpec) -> dict[str, Any]:
    """What a weights file must share with a run to be loaded by it."""
    return {"method": method, "preset": preset, "config": config_mod.to_dict(cfg), "modalities": list(modalities),
            "task": task.kind, "label_names": list(task.label_names)}


def kept_tensors(module: Any) -> dict[str, torch.Tensor]:
    """The module's ``state_dict`` without its pretrained-file tensors, as contiguous CPU copies."""
    left_out = set(module_hook(module, "pretrained_tensors"))
    return {name: tensor.detach().cpu().contiguous().clone() for name, tensor in module.state_dict().items()
            if name not in left_out}


def save(module: Any, path: Path, meta: Mapping[str, Any]) -> dict[str, Any]:
    """Write the module's kept tensors and ``meta`` to ``path`` atomically; the record's ``trained_weights``."""
    from safetensors.torch import save as to_bytes

    tensors = kept_tensors(module)
    data = to_bytes(tensors, metadata={META_KEY: json.dumps({"format": FORMAT, **meta}, sort_keys=True)})
    io.write_bytes(path, data)
    return {"file": path.name, "sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data),
            "tensors": len(tensors)}


def bench_meta(path: Path) -> dict[str, Any] | None:
    """The ``bench`` metadata of a safetensors file written by :func:`save`; None for any other file."""
    try:
        with Path(path).open("rb") as handle:
            head = handle.read(8)
            if len(head) < 8:
                return None
            (size,) = struct.unpack("<Q", head)
            if size > path.stat().st_size - 8 or size > 100 << 20:
                return None
            header = json.loads(handle.read(size))
    except (OSError, ValueError, UnicodeDecodeError):
        return None
    text = header.get("__metadata__", {}).get(META_KEY) if isinstance(header, dict) else None
    try:
        meta = json.loads(text) if isinstance(text, str) else None
    except ValueError:
        return None
    return meta if isinstance(meta, dict) else None


@dataclasses.dataclass(frozen=True)
class WeightsFile:
    """A file given to ``--weights``, resolved before any data is read."""

    path: Path
    sha256: str
    kind: str
    """``bench`` (a kept-weights file) or ``released`` (the method's official layout)."""
    meta: Mapping[str, Any] | None
    from_record: Path | None
    """The record beside a bench file whose ``trained_weights`` names it, when there is one."""

    def entry(self) -> dict[str, Any]:
        """The record's ``evaluated``."""
        return {"weights": str(self.path), "sha256": self.sha256, "kind": self.kind,
                "from_record": None if self.from_record is None else str(self.from_record)}


def resolve(path: Path, method: Method, wanted: Mapping[str, Any]) -> WeightsFile:
    """``path`` as a bench file of the identity ``wanted`` (:func:`identity`) or a released checkpoint.

    A missing file, a bench file of another identity (one line naming the keys that differ) or a
    non-bench file for a method without a released layout is refused.
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"--weights {path}: no such file")
    meta = bench_meta(path)
    sha = io.sha256_file(path)
    if meta is None:
        if type(method).load_released is Method.load_released:
            raise ConfigError(f"--weights {path}: not a bench weights file (.safetensors written by bench run), and "
                              f"method {method.name!r} has no released-checkpoint layout")
        return WeightsFile(path, sha, "released", None, None)
    if meta.get("format") != FORMAT:
        raise DataError(f"--weights {path}: bench weights format {meta.get('format')!r}, this bench reads {FORMAT}")
    differ = differences(meta, wanted)
    if differ:
        raise ConfigError(f"--weights {path}: made by {meta.get('method')} preset {meta.get('preset')} with another "
                          f"configuration; differs in {'; '.join(differ)} (give the file's --preset/--set values)")
    return WeightsFile(path, sha, "bench", meta, _source_record(path, sha))


def differences(meta: Mapping[str, Any], wanted: Mapping[str, Any]) -> list[str]:
    """``key (file X, here Y)`` for every identity key (``config.<name>`` for configuration keys) that differs."""
    out = []
    for key, value in wanted.items():
        if key == "config":
            have = meta.get("config") if isinstance(meta.get("config"), Mapping) else {}
            out += [f"config.{k} (file {have.get(k)!r}, here {value.get(k)!r})"
                    for k in sorted(set(have) | set(value)) if have.get(k) != value.get(k)]
        elif meta.get(key) != value:
            out.append(f"{key} (file {meta.get(key)!r}, here {value!r})")
    return out


def _source_record(path: Path, sha: str) -> Path | None:
    record = path.with_suffix(".json")
    try:
        kept = json.loads(record.read_text(encoding="utf-8")).get("trained_weights", {})
    except (OSError, ValueError, AttributeError):
        return None
    return record if isinstance(kept, dict) and kept.get("sha256") == sha else None


def load_into(module: Any, method: Method, weights: WeightsFile) -> None:
    """Load ``weights`` into a freshly built ``module`` (see the module docstring)."""
    if weights.kind == "released":
        method.load_released(module, weights.path)
        return
    from safetensors.torch import load_file

    provenance = dict(module_hook(module, "weights_provenance"))
    trained_on = dict((weights.meta or {}).get("pretrained", {}))
    if provenance != trained_on:
        raise ConfigError(f"--weights {weights.path}: trained on the pretrained files {trained_on}, this "
                          f"configuration reads {provenance}")
    tensors = load_file(str(weights.path))
    expected = {k: v for k, v in module.state_dict().items()
                if k not in set(module_hook(module, "pretrained_tensors"))}
    mismatch = first_mismatch(tensors, expected)
    if mismatch:
        raise DataError(f"--weights {weights.path}: does not fit the model: {mismatch}")
    module.load_state_dict(tensors, strict=False)
    stage = (weights.meta or {}).get("stage")
    if stage is not None:  # the module predicts as it did at the end of the stage the weights were selected in
        module_hook(module, "start_stage")(stage)


def first_mismatch(given: Mapping[str, torch.Tensor], expected: Mapping[str, torch.Tensor]) -> str | None:
    """The first tensor (in the model's order) that ``given`` lacks, has in another shape, or has extra; None if all fit."""
    for name, tensor in expected.items():
        if name not in given:
            return f"tensor {name} {list(tensor.shape)} is missing"
        if tuple(given[name].shape) != tuple(tensor.shape):
            return f"tensor {name} is {list(given[name].shape)}, the model's {list(tensor.shape)}"
    extra = [name for name in given if name not in expected]
    return f"tensor {extra[0]} is not in the model" if extra else None
