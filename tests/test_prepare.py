"""From samples on disk to stacked arrays (through the cache) and to Dataset items."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch

from bench.api import Sample, TaskSpec, TransformSpec
from bench.data.cache import Cache
from bench.data.media import write_video, write_wav
from bench.data.prepare import ArrayDataset, LazyArrays, Prepared, labels_array, prepare
from bench.data.catalog import get_transform
from bench.errors import ConfigError, DataError

SR = 16000
SPECS = {
    "video": TransformSpec("video_frames", {"num_frames": 4, "size": 8}),
    "audio": TransformSpec("audio_logmel", {"num_mel_bins": 16, "max_frames": 20}),
    "text": TransformSpec("text_hash", {"max_tokens": 5}),
    "landmarks": TransformSpec("landmarks_csv", {"num_frames": 4, "num_points": 2}),
}


def _write_sample(root: Path, k: int) -> Sample:
    frames = np.stack([np.full((16, 16, 3), (10 * k + j) % 256, dtype=np.uint8) for j in range(6)])
    t = np.arange(SR // 2) / SR
    audio = (0.3 * np.sin(2 * np.pi * (300 + 200 * k) * t)).astype(np.float32)
    video = root / f"clip{k}.mp4"
    write_video(video, frames, fps=12.0, audio=audio, sample_rate=SR)
    landmarks = root / f"clip{k}.csv"
    rows = [f"{j},{j + k},{2 * j},{5 - j},{j * j}" for j in range(5)]
    landmarks.write_text("frame,x_0,x_1,y_0,y_1\n" + "\n".join(rows) + "\n")
    sources = {"video": video, "audio": video, "text": f"utterance number {k}", "landmarks": landmarks}
    return Sample(id=f"s{k}", label=k % 3, sources=sources, subject=f"p{k % 2}")


@pytest.fixture(scope="module")
def samples(tmp_path_factory: pytest.TempPathFactory) -> list[Sample]:
    root = tmp_path_factory.mktemp("media")
    return [_write_sample(root, k) for k in range(4)]


def test_arrays_stacked_in_sample_order(samples: list[Sample], tmp_path: Path) -> None:
    prepared = prepare(samples, SPECS, Cache(tmp_path))
    assert prepared.ids == ("s0", "s1", "s2", "s3")
    assert len(prepared.arrays["video"]) == 4  # variable length: one memory-mapped clip per sample
    assert all(clip.shape == (6, 8, 8, 3) for clip in prepared.arrays["video"])
    assert prepared.arrays["audio"].shape == (4, 20, 16)
    assert prepared.arrays["text"].shape == (4, 5) and prepared.arrays["text"].dtype == np.int64
    assert prepared.arrays["landmarks"].shape == (4, 4, 4)
    for modality, spec in SPECS.items():
        transform = get_transform(spec)
        assert prepared.variants[modality] == transform.describe()
        for i, sample in enumerate(samples):
            np.testing.assert_array_equal(prepared.arrays[modality][i], transform.apply(sample.sources[modality]))
    assert (prepared.cache_hits, prepared.cache_misses) == (0, 16)
    assert prepared.seconds > 0
    assert prepared.shapes == {"video": (4, 3, 8, 8), "audio": (20, 16), "text": (5,), "landmarks": (4, 4)}


def test_second_prepare_does_no_transform_work(samples: list[Sample], tmp_path: Path) -> None:
    cache = Cache(tmp_path)
    first = prepare(samples, SPECS, cache)
    # Make every source file undecodable while keeping its size and mtime (its identity): a
    # second prepare can only succeed if it reads nothing but the cache.
    originals = {}
    for sample in samples:
        for modality in ("video", "landmarks"):
            path = sample.sources[modality]
            stat = path.stat()
            originals[path] = (path.read_bytes(), stat)
            path.write_bytes(b"\x00" * stat.st_size)
            os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    try:
        second = prepare(samples, SPECS, cache)
    finally:
        for path, (data, stat) in originals.items():
            path.write_bytes(data)
            os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert (second.cache_hits, second.cache_misses) == (16, 0)
    assert (cache.hits, cache.misses) == (16, 16)
    for modality in SPECS:
        np.testing.assert_array_equal(first.arrays[modality], second.arrays[modality])
    # A different variant of one modality is new work for that modality only.
    third = prepare(samples, {**SPECS, "text": TransformSpec("text_hash", {"max_tokens": 6})}, cache)
    assert (third.cache_hits, third.cache_misses) == (12, 4)


def test_missing_modality_source_names_sample(samples: list[Sample], tmp_path: Path) -> None:
    lacking = Sample(id="mute", label=0, sources={"video": samples[0].sources["video"]})
    cache = Cache(tmp_path)
    with pytest.raises(DataError, match="sample 'mute' has no audio source"):
        prepare([samples[0], lacking], {"video": SPECS["video"], "audio": SPECS["audio"]}, cache)
    assert cache.misses == 0  # checked before any work


def test_transform_error_names_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("frame,x_0\n1,2\n")
    sample = Sample(id="b", label=0, sources={"landmarks": bad})
    with pytest.raises(DataError, match="bad.csv"):
        prepare([sample], {"landmarks": TransformSpec("landmarks_csv", {"num_points": 1})}, Cache(tmp_path / "c"))
    assert Cache(tmp_path / "c").info()["entries"] == 0


def test_spec_for_the_wrong_modality(samples: list[Sample], tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="'audio_logmel' produces 'audio'.*modality 'video'"):
        prepare(samples, {"video": SPECS["audio"]}, Cache(tmp_path))
    with pytest.raises(DataError, match="empty"):
        prepare([], SPECS, Cache(tmp_path))


def test_labels_array_kinds() -> None:
    classes = TaskSpec("classification", ("a", "b", "c"))
    labelled = [Sample(id=f"s{k}", label=k, sources={}) for k in (2, 0, 1)]
    out = labels_array(labelled, classes)
    assert out.dtype == np.int64 and out.tolist() == [2, 0, 1]

    multi = TaskSpec("multilabel", ("x", "y"))
    out = labels_array([Sample("m0", (1.0, 0.0), {}), Sample("m1", (1, 1), {})], multi)
    assert out.dtype == np.float32 and out.tolist() == [[1.0, 0.0], [1.0, 1.0]]

    va = TaskSpec("regression", ("valence", "arousal"))
    out = labels_array([Sample("r0", (0.5, -0.25), {})], va)
    assert out.dtype == np.float32 and out.shape == (1, 2)
    assert labels_array([], va).shape == (0, 2)


@pytest.mark.parametrize(
    ("task", "label", "pattern"),
    [
        (TaskSpec("classification", ("a", "b")), None, "sample 'bad' has no label"),
        (TaskSpec("classification", ("a", "b")), 2, "sample 'bad': class 2 is out of range for 2"),
        (TaskSpec("classification", ("a", "b")), -1, "sample 'bad': class -1 is out of range"),
        (TaskSpec("classification", ("a", "b")), (1.0,), "sample 'bad': class label must be an int"),
        (TaskSpec("classification", ("a", "b")), True, "sample 'bad': class label must be an int"),
        (TaskSpec("regression", ("v", "a")), (0.1,), "sample 'bad': regression label must have 2"),
        (TaskSpec("multilabel", ("x", "y")), 1, "sample 'bad': multilabel label must have 2"),
        (TaskSpec("regression", ("v", "a")), (0.1, float("nan")), "sample 'bad'.*not finite"),
    ],
)
def test_labels_array_errors(task: TaskSpec, label: object, pattern: str) -> None:
    good = Sample("good", 0 if task.kind == "classification" else (0.0, 0.0), {})
    with pytest.raises(DataError, match=pattern):
        labels_array([good, Sample("bad", label, {})], task)  # type: ignore[arg-type]


def test_array_dataset_items_match_shapes(samples: list[Sample], tmp_path: Path) -> None:
    prepared = prepare(samples, SPECS, Cache(tmp_path))
    labels = labels_array(samples, TaskSpec("classification", ("a", "b", "c")))
    dataset = ArrayDataset(prepared, labels[[3, 1]], indices=[3, 1])
    assert dataset.labels.tolist() == [0, 1]  # its own rows' labels, no others
    assert len(dataset) == 2
    item = dataset[0]
    assert set(item) == {"video", "audio", "text", "landmarks", "label", "index"}
    for modality, shape in prepared.shapes.items():
        assert tuple(item[modality].shape) == shape
    assert item["video"].dtype == torch.float32
    assert 0.0 <= float(item["video"].min()) and float(item["video"].max()) <= 1.0
    # [T, 3, H, W] is the same pixels as the stored [T, H, W, 3] at the TSN centres, scaled.
    centre = prepared.arrays["video"][3][[0, 2, 3, 5]]  # int(1.5 * (k + 1/2)), k < 4
    np.testing.assert_allclose(item["video"].permute(0, 2, 3, 1).numpy(), centre / 255.0, atol=1e-6)
    assert item["audio"].dtype == torch.float32 and item["landmarks"].dtype == torch.float32
    assert item["text"].dtype == torch.int64
    assert item["label"].dtype == torch.int64 and int(item["label"]) == 0  # s3's label is 3 % 3
    assert item["index"] == 0 and dataset[1]["index"] == 1

    batch = next(iter(dataset.loader(batch_size=2, shuffle=False, seed=0)))
    assert tuple(batch["video"].shape) == (2, *prepared.shapes["video"])
    assert batch["index"].tolist() == [0, 1] and batch["label"].tolist() == [0, 1]


def test_array_dataset_without_labels_and_bad_input(samples: list[Sample], tmp_path: Path) -> None:
    prepared: Prepared = prepare(samples[:2], {"text": SPECS["text"]}, Cache(tmp_path))
    dataset = ArrayDataset(prepared, None, range(2))
    assert set(dataset[1]) == {"text", "index"}
    with pytest.raises(IndexError, match="outside the 2 prepared"):
        ArrayDataset(prepared, None, [2])
    with pytest.raises(ValueError, match="3 rows for 1 items"):
        ArrayDataset(prepared, np.zeros(3, dtype=np.int64), [0])


def test_progress_goes_to_stderr(samples: list[Sample], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    prepare(samples[:2], {"text": SPECS["text"]}, Cache(tmp_path), progress=True)
    captured = capsys.readouterr()
    assert "prepare text: 2/2" in captured.err and captured.out == ""


@pytest.mark.parametrize("train", [False, True])  # train: the batch's generators are built together (BatchRngs)
def test_batched_fetch_equals_stacked_items(samples: list[Sample], tmp_path: Path, train: bool) -> None:
    # 2 segments of 6 frames: a train item draws one of 3 frames per segment from its item_rng
    specs = {**SPECS, "video": TransformSpec("video_frames", {"num_frames": 2, "size": 8})}
    prepared = prepare(samples, specs, Cache(tmp_path))
    labels = labels_array(samples, TaskSpec("classification", ("a", "b", "c")))
    dataset = ArrayDataset(prepared, labels[[3, 0, 2]], [3, 0, 2], train=train)
    drawn = set()
    for pass_index in range(6):
        dataset.start_pass(seed=5, pass_index=pass_index)
        drawn.add(dataset.__getitems__([2, 0])["video"].numpy().tobytes())
    assert (len(drawn) > 1) == train  # train items are drawn anew each pass (81 outcomes: some passes agree)
    batch = dataset.__getitems__([2, 0])
    for key in ("video", "audio", "text", "landmarks", "label"):
        assert torch.equal(batch[key], torch.stack([torch.as_tensor(dataset[p][key]) for p in (2, 0)])), key
    assert batch["index"].tolist() == [2, 0]


LAZY_SPECS = {
    "video": TransformSpec("video_frames", {"num_frames": 4, "size": 8, "test_clips": 2}),
    "landmarks": TransformSpec("landmarks_csv", {"num_frames": 4, "num_points": 2}),
}


def test_lazy_loading_equals_eager_loading(samples: list[Sample], tmp_path: Path) -> None:
    cache = Cache(tmp_path)
    lazy = prepare(samples, LAZY_SPECS, cache)
    eager = prepare(samples, LAZY_SPECS, cache, in_memory=True)
    assert isinstance(lazy.arrays["video"], LazyArrays) and isinstance(eager.arrays["video"], list)
    unkept = LazyArrays(lazy.arrays["video"].entries, memo_bytes=0)
    assert isinstance(unkept[0], np.memmap)  # past the memo's budget: read from disk page by page
    assert not isinstance(lazy.arrays["video"][0], np.memmap)  # within it: read once, kept in memory
    assert not lazy.arrays["video"][0].flags.writeable  # a kept array is read-only, as a memory map is
    assert isinstance(lazy.arrays["landmarks"], np.ndarray)  # fixed-size inputs stay stacked
    assert (lazy.shapes, lazy.eval_shapes) == (eager.shapes, eager.eval_shapes)
    assert eager.eval_shapes["video"] == (2, 4, 3, 8, 8)
    for train in (True, False):
        batches = [
            list(ArrayDataset(p, None, [3, 0, 2, 1], train=train).loader(batch_size=2, shuffle=True, seed=4))
            for p in (lazy, eager)
        ]
        for a, b in zip(*batches):
            assert a.keys() == b.keys()
            for key in a:
                assert torch.equal(a[key], b[key]), key


def test_corrupt_video_names_the_file_and_caches_nothing(samples: list[Sample], tmp_path: Path) -> None:
    good = samples[0].sources["video"]
    truncated = tmp_path / "truncated.mp4"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    cache = Cache(tmp_path / "cache")
    for path, pattern in ((truncated, "truncated.mp4: cannot decode video"), (empty, "empty.mp4: file is empty")):
        with pytest.raises(DataError, match=pattern):
            prepare([samples[1], Sample("bad", 0, {"video": path})], {"video": LAZY_SPECS["video"]}, cache)
    assert (cache.misses, cache.hits, cache.info()["entries"]) == (1, 1, 1)  # the good clip only
    assert not [p for p in (tmp_path / "cache").rglob("*") if p.name.startswith(".")]


def test_prepared_reports_no_fallbacks_when_none_taken(samples: list[Sample], tmp_path: Path) -> None:
    prepared = prepare(samples, SPECS, Cache(tmp_path))
    assert prepared.fallbacks == {m: {} for m in SPECS}


def test_whole_clip_items_of_different_lengths_batch_one_at_a_time(tmp_path: Path) -> None:
    t = np.arange(SR) / SR
    samples = []
    for k, seconds in enumerate((0.5, 1.0)):
        path = tmp_path / f"a{k}.wav"
        write_wav(path, 0.3 * np.sin(2 * np.pi * 440 * t[: int(SR * seconds)]), SR)
        samples.append(Sample(f"a{k}", 0, {"audio": path}))
    prepared = prepare(samples, {"audio": TransformSpec("audio_mel_conclugen")}, Cache(tmp_path / "c"))
    dataset = ArrayDataset(prepared, None, [0, 1])
    assert [tuple(b["audio"].shape) for b in dataset.loader(1, shuffle=False, seed=0)] == [(1, 128, 51), (1, 128, 101)]
    with pytest.raises(DataError, match=r"'audio' \(audio_mel_conclugen\) gives items of different shapes"):
        next(iter(dataset.loader(2, shuffle=False, seed=0)))


def test_float_video_arrays_are_features_not_frames() -> None:
    from bench.data.prepare import to_model_input

    features = np.array([[0.5, -2.0, 300.0]], np.float32)
    assert torch.equal(to_model_input("video", features), torch.from_numpy(features))
    frames = np.full((2, 4, 4, 3), 255, np.uint8)
    assert to_model_input("video", frames).shape == (2, 3, 4, 4) and float(to_model_input("video", frames).max()) == 1.0
