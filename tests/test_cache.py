"""The content-addressed cache: keys, counters, corruption, atomicity, source identity."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from bench.data.cache import Cache, default_cache, source_identity
from bench.files.io import write_npz


def _builder(value: float, calls: list[int]):
    def build() -> np.ndarray:
        calls.append(1)
        return np.full((3, 4), value, dtype=np.float32)

    return build


def test_key_is_stable_and_order_free() -> None:
    a = Cache.key({"transform": {"name": "t", "params": {"a": 1, "b": 2}}, "source": "x"})
    b = Cache.key({"source": "x", "transform": {"params": {"b": 2, "a": 1}, "name": "t"}})
    assert a == b
    assert len(a) == 64 and int(a, 16) >= 0


def test_key_is_sensitive_to_every_part() -> None:
    base = {"transform": {"name": "t", "version": 1, "params": {"a": 1}}, "source": "x"}
    changed = [
        {**base, "source": "y"},
        {**base, "transform": {"name": "t", "version": 2, "params": {"a": 1}}},
        {**base, "transform": {"name": "t", "version": 1, "params": {"a": 2}}},
        {**base, "transform": {"name": "t", "version": 1, "params": {"a": 1.5}}},
    ]
    keys = {Cache.key(base)} | {Cache.key(c) for c in changed}
    assert len(keys) == 1 + len(changed)


def test_key_rejects_non_json_parts() -> None:
    with pytest.raises(ValueError, match="plain JSON"):
        Cache.key({"source": Path("x")})


def test_hit_and_miss_counting(tmp_path: Path) -> None:
    cache = Cache(tmp_path)
    calls: list[int] = []
    first, hit1 = cache.get_or_build({"k": 1}, _builder(1.0, calls))
    second, hit2 = cache.get_or_build({"k": 1}, _builder(9.0, calls))
    other, hit3 = cache.get_or_build({"k": 2}, _builder(2.0, calls))
    assert (hit1, hit2, hit3) == (False, True, False)
    assert len(calls) == 2
    np.testing.assert_array_equal(first, second)
    assert second.dtype == np.float32 and second.shape == (3, 4)
    assert float(other[0, 0]) == 2.0
    assert (cache.hits, cache.misses, cache.rebuilt) == (1, 2, 0)
    key = Cache.key({"k": 1})
    assert cache.path(key) == tmp_path / key[:2] / f"{key}.npz"
    assert cache.path(key).is_file()
    # A fresh Cache on the same root (another process) sees the entry.
    assert Cache(tmp_path).get_or_build({"k": 1}, _builder(9.0, calls))[1] is True


@pytest.mark.parametrize("damage", ["truncate", "flip", "garbage", "checksum"])
def test_corrupt_entry_is_rebuilt(tmp_path: Path, damage: str) -> None:
    cache = Cache(tmp_path)
    calls: list[int] = []
    cache.get_or_build({"k": 1}, _builder(1.0, calls))
    path = cache.path(Cache.key({"k": 1}))
    data = bytearray(path.read_bytes())
    if damage == "truncate":
        data = data[: len(data) // 2]
    elif damage == "flip":
        # Flip bytes inside the stored array's payload (uncompressed npz: find it by value).
        payload = np.full((3, 4), 1.0, dtype=np.float32).tobytes()
        at = bytes(data).index(payload)
        data[at + 5] ^= 0xFF
        data[at + 20] ^= 0xFF
    elif damage == "garbage":
        data = bytearray(b"not an npz at all")
    if damage == "checksum":
        # A well-formed npz whose array no longer matches its stored sha256.
        with np.load(path) as entry:
            stored = {name: entry[name] for name in entry.files}
        stored["array"] = stored["array"] + 1
        write_npz(path, stored)
    else:
        path.write_bytes(bytes(data))

    array, hit = cache.get_or_build({"k": 1}, _builder(1.0, calls))
    assert hit is False and len(calls) == 2
    np.testing.assert_array_equal(array, np.full((3, 4), 1.0, dtype=np.float32))
    assert (cache.misses, cache.rebuilt) == (2, 1)
    # The overwritten entry is sound again.
    assert cache.get_or_build({"k": 1}, _builder(7.0, calls))[1] is True
    assert len(calls) == 2


def test_failed_build_leaves_nothing(tmp_path: Path) -> None:
    cache = Cache(tmp_path)

    def broken() -> np.ndarray:
        raise RuntimeError("decoder exploded")

    with pytest.raises(RuntimeError, match="decoder exploded"):
        cache.get_or_build({"k": 1}, broken)
    assert not cache.path(Cache.key({"k": 1})).exists()
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []
    assert cache.info()["entries"] == 0


def test_write_is_atomic_no_temp_files(tmp_path: Path) -> None:
    cache = Cache(tmp_path)
    for k in range(3):
        cache.get_or_build({"k": k}, _builder(float(k), []))
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert len(files) == 3 and all(p.suffix == ".npz" and not p.name.startswith(".") for p in files)


def test_changed_source_file_is_a_miss(tmp_path: Path) -> None:
    source = tmp_path / "clip.txt"
    source.write_text("one")
    cache = Cache(tmp_path / "cache")
    calls: list[int] = []
    first = source_identity(source)
    assert first["path"] == str(source.resolve()) and first["size"] == 3
    cache.get_or_build({"source": first}, _builder(1.0, calls))
    assert cache.get_or_build({"source": source_identity(source)}, _builder(1.0, calls))[1]

    stat = source.stat()
    os.utime(source, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    touched = source_identity(source)
    assert touched["mtime_ns"] != first["mtime_ns"]
    assert not cache.get_or_build({"source": touched}, _builder(1.0, calls))[1]

    source.write_text("longer")
    os.utime(source, ns=(stat.st_atime_ns, touched["mtime_ns"]))  # same mtime, new size
    resized = source_identity(source)
    assert resized["size"] == 6
    assert not cache.get_or_build({"source": resized}, _builder(1.0, calls))[1]
    assert len(calls) == 3


def test_text_identity_and_missing_file(tmp_path: Path) -> None:
    from bench.errors import DataError

    assert source_identity("hello") == source_identity("hello")
    assert source_identity("hello") != source_identity("hello!")
    with pytest.raises(DataError, match="nope.wav"):
        source_identity(tmp_path / "nope.wav")


def test_info_and_clean(tmp_path: Path) -> None:
    cache = Cache(tmp_path / "c")
    assert cache.info()["entries"] == 0 and cache.clean() == 0
    for k in range(4):
        cache.get_or_build({"k": k}, _builder(float(k), []))
    info = cache.info()
    assert info["entries"] == 4
    assert info["bytes"] == sum(p.stat().st_size for p in (tmp_path / "c").rglob("*.npz"))
    leftover = cache.path(Cache.key({"k": 0})).parent / ".x.npz.abc.tmp"
    leftover.write_bytes(b"half")
    keep = tmp_path / "c" / "README"
    keep.write_text("not ours")
    assert cache.clean() == 4
    assert cache.info() == {"root": str(tmp_path / "c"), "entries": 0, "bytes": 0}
    assert not leftover.exists() and keep.exists()


def test_default_cache_lives_under_cache_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BENCH_CACHE", str(tmp_path))
    assert default_cache().root == tmp_path / "preprocessed"


def test_entry_meta_and_mapped_read(tmp_path: Path) -> None:
    import pickle

    cache = Cache(tmp_path)
    clip = np.arange(5 * 4 * 3, dtype=np.uint8).reshape(5, 4, 3)
    built, hit = cache.entry({"k": 1}, lambda: (clip, {"fallbacks": ["no_face"]}), mapped=True)
    assert hit is False and built.meta == {"fallbacks": ["no_face"]}
    assert isinstance(built.array, np.memmap) and not built.array.flags.writeable
    np.testing.assert_array_equal(built.array, clip)
    again, hit = Cache(tmp_path).entry({"k": 1}, lambda: (clip * 0, {}), mapped=True)
    assert hit is True and again.meta == {"fallbacks": ["no_face"]}
    np.testing.assert_array_equal(again.array, clip)
    # The location pickles without the data and reopens the same bytes (for DataLoader workers).
    where = pickle.loads(pickle.dumps(again.mapped))
    assert where.path == str(cache.path(Cache.key({"k": 1})))
    np.testing.assert_array_equal(where.open(), clip)
    # An entry written by get_or_build has empty meta; read unmapped it is a plain array.
    cache.get_or_build({"k": 2}, lambda: clip)
    plain, hit = cache.entry({"k": 2}, lambda: (clip, {}))
    assert hit and plain.meta == {} and plain.mapped is None and not isinstance(plain.array, np.memmap)


def test_corrupt_mapped_entry_is_rebuilt(tmp_path: Path) -> None:
    cache = Cache(tmp_path)
    clip = np.full((6, 8), 7, dtype=np.int16)
    cache.entry({"k": 1}, lambda: (clip, {}), mapped=True)
    path = cache.path(Cache.key({"k": 1}))
    data = bytearray(path.read_bytes())
    data[bytes(data).index(clip.tobytes()) + 3] ^= 0xFF
    path.write_bytes(bytes(data))
    rebuilt, hit = cache.entry({"k": 1}, lambda: (clip, {"fallbacks": []}), mapped=True)
    assert hit is False and cache.rebuilt == 1
    np.testing.assert_array_equal(rebuilt.array, clip)
