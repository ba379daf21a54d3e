"""pydantic v2 against msgspec for the schema of protocol files: validation time and error messages.

Both validate the same parsed data (every shipped protocol, parsed once by ``bench.files.loader.read``)
against the same top-level schema: its keys, their types, the nested ``regime`` and ``selection``
mappings, unknown keys refused. Timed: validating all protocols, repeated; the median per
repeat with min and max, interleaved. Then both are given three bad files (an unknown key, a
misspelled nested key, a mistyped value) and their raw messages are printed, and bench's own
(pydantic's error location and context turned into ``FILE:LINE: KEY: message`` by
``bench.files.loader.describe``). The pydantic model is bench's own, so its time includes bench's
cross-key checks (metric names of the task...); the msgspec struct checks types and keys only.

    pip install msgspec   # not a bench dependency; only this comparison uses it
    python benchmarks/loader_libraries.py [--repeats 7]
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any

import msgspec
import pydantic

from bench import protocols
from bench.errors import ProtocolError
from bench.files import loader
from bench.protocols import schema


class _Regime(msgspec.Struct, forbid_unknown_fields=True):
    kind: str
    pretrain: bool | None = None
    pretrain_on: dict[str, Any] | None = None


class _Selection(msgspec.Struct, forbid_unknown_fields=True):
    rule: str
    metric: str | None = None
    allow_on_test: bool = False
    patience: int | None = None


class _ProtocolStruct(msgspec.Struct, forbid_unknown_fields=True):
    name: str
    dataset: str
    task: str
    modalities: list[str]
    split: dict[str, Any]
    regime: _Regime
    selection: _Selection
    metrics: list[str]
    primary: str
    include: str | None = None
    version: int = 1
    description: Any = ""
    notes: Any = None
    serves: list[str] = []
    seeds: list[int] = msgspec.field(default_factory=lambda: [0])
    leaky: bool = False
    assumptions: list[str] = []
    dataset_options: dict[str, Any] = {}


class _StockRegime(pydantic.BaseModel, extra="forbid", strict=True):
    kind: str
    pretrain: bool | None = None
    pretrain_on: dict[str, Any] | None = None


class _StockProtocol(pydantic.BaseModel, extra="allow", strict=True):
    """pydantic's own messages, without bench's field types (only the parts the bad files touch)."""

    regime: _StockRegime
    seeds: list[int] = [0]


def _documents() -> list[loader.Document]:
    return [schema._resolve_includes(path, ()) for path in protocols.available().values()]


def _time(validate: Any, docs: list[loader.Document]) -> float:
    start = time.perf_counter()
    for doc in docs:
        validate(doc)
    return time.perf_counter() - start


def _pydantic(doc: loader.Document) -> Any:
    return schema._ProtocolFile.model_validate(doc.data)


def _msgspec(doc: loader.Document) -> Any:
    return msgspec.convert(doc.data, _ProtocolStruct, strict=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    docs = _documents()
    times: dict[str, list[float]] = {"pydantic": [], "msgspec": []}
    for _ in range(args.repeats):  # interleaved, so drifting load hits both alike
        times["pydantic"].append(_time(_pydantic, docs))
        times["msgspec"].append(_time(_msgspec, docs))
    parse = [_time(lambda d: loader.read(d.path, ProtocolError), docs) for _ in range(args.repeats)]
    print(f"{len(docs)} protocols, {args.repeats} repeats (median, min-max, ms for all of them)")
    print(f"  parse (bench.files.loader.read, libyaml): {statistics.median(parse) * 1e3:.2f} "
          f"({min(parse) * 1e3:.2f}-{max(parse) * 1e3:.2f})")
    for name, values in times.items():
        print(f"  validate with {name:8s}: {statistics.median(values) * 1e3:.2f} "
              f"({min(values) * 1e3:.2f}-{max(values) * 1e3:.2f})")
    ratios = [p / m for p, m in zip(times["pydantic"], times["msgspec"], strict=True)]
    print(f"  pydantic / msgspec: median {statistics.median(ratios):.1f}x (min {min(ratios):.1f}, max {max(ratios):.1f})")

    good = next(d for d in docs if d.path.stem == "synthetic_5fold")
    bad = {
        "unknown key": {**good.data, "splt": 3},
        "misspelled nested key": {**good.data, "regime": {"knd": "supervised"}},
        "mistyped value": {**good.data, "seeds": [0, "one"]},
    }
    for what, data in bad.items():
        print(f"\n{what}:")
        try:
            msgspec.convert(data, _ProtocolStruct, strict=True)
        except msgspec.ValidationError as exc:
            print(f"  msgspec : {exc}")
        try:
            _StockProtocol.model_validate({**data, "splt": None} if what == "unknown key" else data)
            print("  pydantic, stock types: (no error: the stock model allows extra top-level keys here)")
        except pydantic.ValidationError as exc:
            print(f"  pydantic, stock types: {exc.errors()[0]['msg']} at {exc.errors()[0]['loc']}")
        try:
            schema._ProtocolFile.model_validate(data)
        except pydantic.ValidationError as exc:
            print(f"  bench (pydantic + bench.files.loader): {loader.describe(good, exc.errors()[0])}")


if __name__ == "__main__":
    main()
