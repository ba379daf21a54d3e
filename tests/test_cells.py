"""Typed cell identity and run record, read from a record of today's schema as ``bench run`` wrote it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.errors import DataError
from bench.records.cells import CellKey, RunRecord, run_command

# Written by `bench run --method late_fusion --protocol synthetic_5fold --fold 1 --seed 0 --preset tiny`
# at the commit in its "code" entry (schema version 1), copied unchanged.
FIXTURE = Path(__file__).parent / "fixtures" / "record_schema1.json"


def test_a_record_of_schema_1_loads_into_typed_fields() -> None:
    data = json.loads(FIXTURE.read_text(encoding="utf-8"))
    record = RunRecord.from_dict(data)
    assert record.key == CellKey("late_fusion", "synthetic_5fold", "cc9a794d2831", "tiny", "64ed7051b771", "fold1", 0)
    assert record.key.name() == "synthetic_5fold/late_fusion/64ed7051b771/fold1-seed0"
    assert record.modalities == ("video", "audio", "text", "landmarks")
    assert record.selection.rule == "last_epoch" and record.selection.epoch == 11 and not record.selection.on_test
    assert record.selection.epochs_trained == {"supervised": 12}
    assert record.protocol.version == 1 and record.protocol.leaky is False
    assert record.metrics["uar"] == pytest.approx(0.7708333333333334)
    assert record.predictions == "fold1-seed0.predictions.npz" and record.extra == {}


def test_a_record_comes_back_key_for_key() -> None:
    data = json.loads(FIXTURE.read_text(encoding="utf-8"))
    assert RunRecord.from_dict(data).to_dict() == data
    data["added_later"] = {"by": "a newer bench"}
    assert RunRecord.from_dict(data).to_dict() == data


def test_a_record_without_an_identity_key_or_of_another_schema_is_refused() -> None:
    data = json.loads(FIXTURE.read_text(encoding="utf-8"))
    with pytest.raises(DataError, match="x.json: run record without fold"):
        RunRecord.from_dict({k: v for k, v in data.items() if k != "fold"}, where="x.json")
    with pytest.raises(DataError, match="x.json: not a bench run record of schema version 1"):
        RunRecord.from_dict({**data, "schema_version": 2}, where="x.json")


def test_the_run_command_is_the_one_the_record_holds() -> None:
    data = json.loads(FIXTURE.read_text(encoding="utf-8"))
    assert run_command("late_fusion", "synthetic_5fold", folds=["fold1"], seeds=[0], preset="tiny",
                       out=Path("/tmp/mx/r")) == data["command"]


def test_override_values_are_written_as_set_parses_them() -> None:
    command = run_command("m", "p", overrides={"lr": 0.001, "tag": "a b", "dims": [1, 2], "flag": True,
                                               "weights": None})
    assert command == "bench run --method m --protocol p --set lr=0.001 --set 'tag=a b' --set 'dims=[1, 2]' " \
                      "--set flag=true --set weights=null"
