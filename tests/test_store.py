"""The results store: layout, atomic write order, finished-cell detection, DataFrame view."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from bench.errors import DataError
from bench.records import store


def record(protocol_hash: str = "abc") -> dict:
    return {"schema_version": store.SCHEMA_VERSION, "method": "m", "preset": "paper", "config_hash": "c0ffee",
            "protocol": {"name": "p", "hash": protocol_hash}, "fold": "fold1", "seed": 0,
            "selection": {"on_test": False}, "metrics": {"uar": 0.5, "war": 0.75}}


def test_layout_and_round_trip(tmp_path: Path) -> None:
    path = store.record_path(tmp_path, "p", "m", "c0ffee", "fold1", 0)
    assert path == tmp_path / "runs" / "p" / "m" / "c0ffee" / "fold1-seed0.json"
    store.write(path, record(), {"outputs": np.eye(2)})
    back = store.read(path)
    assert back["metrics"] == {"uar": 0.5, "war": 0.75}
    assert back["predictions"] == "fold1-seed0.predictions.npz"
    assert np.array_equal(np.load(store.predictions_path(path))["outputs"], np.eye(2))
    assert sorted(p.name for p in path.parent.iterdir()) == ["fold1-seed0.json", "fold1-seed0.predictions.npz"]


def test_finished_needs_record_predictions_and_same_protocol(tmp_path: Path) -> None:
    path = store.record_path(tmp_path, "p", "m", "c0ffee", "fold1", 0)
    assert store.finished(path, "abc") is None
    store.write(path, record(), {"outputs": np.zeros(1)})
    assert store.finished(path, "abc") is not None
    assert store.finished(path, "changed") is None
    store.predictions_path(path).unlink()
    assert store.finished(path, "abc") is None


def test_damaged_record_is_not_finished_and_read_names_it(tmp_path: Path) -> None:
    path = store.record_path(tmp_path, "p", "m", "c0ffee", "fold1", 0)
    store.write(path, record(), {"outputs": np.zeros(1)})
    path.write_text(path.read_text()[:20])
    assert store.finished(path, "abc") is None
    with pytest.raises(DataError, match="fold1-seed0.json: not a readable run record"):
        store.read(path)
    path.write_text(json.dumps({"schema_version": 99}))
    with pytest.raises(DataError, match="schema version 1"):
        store.read(path)


def test_frame_has_one_row_per_record(tmp_path: Path) -> None:
    for fold in ("fold1", "fold2"):
        rec = {**record(), "fold": fold}
        store.write(store.record_path(tmp_path, "p", "m", "c0ffee", fold, 0), rec, {"outputs": np.zeros(1)})
    df = store.frame(tmp_path)
    assert list(df["fold"]) == ["fold1", "fold2"]
    assert list(df["metric.war"]) == [0.75, 0.75]


def test_atomic_writes_get_the_umask_mode_not_mkstemps_private_one(tmp_path: Path) -> None:
    import os
    import stat

    import numpy as np

    from bench.data.media import write_video
    from bench.files.io import write_json

    before = os.umask(0o022)
    try:
        write_json(tmp_path / "a.json", {"x": 1})
        write_video(tmp_path / "v.mp4", np.zeros((2, 16, 16, 3), np.uint8), 8.0)
        os.umask(0o077)
        write_json(tmp_path / "private.json", {"x": 1})
    finally:
        os.umask(before)
    assert stat.S_IMODE((tmp_path / "a.json").stat().st_mode) == 0o644
    assert stat.S_IMODE((tmp_path / "v.mp4").stat().st_mode) == 0o644
    assert stat.S_IMODE((tmp_path / "private.json").stat().st_mode) == 0o600


def test_a_record_set_aside_takes_its_predictions_and_kept_weights_along(tmp_path: Path) -> None:
    path = store.record_path(tmp_path, "p", "m", "h", "fold1", 0)
    store.write(path, record(), {"ids": np.array(["a"])})
    store.weights_path(path).write_bytes(b"weights")
    aside = store.set_aside(path, "changed")
    assert aside.name == "fold1-seed0.json.changed" and not path.exists()
    assert (path.parent / "fold1-seed0.predictions.npz.changed").is_file()
    assert (path.parent / "fold1-seed0.safetensors.changed").read_bytes() == b"weights"
    assert not store.weights_path(path).exists()
