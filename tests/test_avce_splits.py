"""AVCE's frame-level protocols: splits of per-frame samples never put one video on two sides."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from bench import protocols
from bench.api import Sample, Split
from bench.data.adapters.afew_va import AFEWVA
from bench.errors import LeakageError
from bench.protocols import splits


def frame_samples(videos: int) -> list[Sample]:
    """Per-frame samples as the afew_va / affwild adapters give them: id <video>/<frame>, group = video."""
    return [Sample(id=f"{v:03d}/{f:05d}", label=(0.1 * (f % 7) - 0.3, 0.0),
                   sources={"video": Path(f"{v:03d}/{f:05d}.png")}, group=f"{v:03d}")
            for v in range(1, videos + 1) for f in range(3 + v % 11)]


@pytest.mark.parametrize("protocol", ["afewva_cv", "affwild_sampled_train"])
def test_frame_level_folds_keep_every_video_on_one_side(protocol: str, tmp_path: Path) -> None:
    samples = frame_samples(60)
    split_cfg = protocols.load(protocol).split
    folds = splits.make_splits(split_cfg, samples, AFEWVA(tmp_path))
    video = {s.id: s.group for s in samples}
    frames_per_video = Counter(video.values())
    for fold in folds:
        sides = {side: {video[i] for i in getattr(fold, side)} for side in ("train", "test")}
        assert not sides["train"] & sides["test"]
        assert len(sides["test"]) == 10 and len(sides["train"]) == 50  # 5:1 by video
        for side in ("train", "test"):  # whole videos: every frame of a side's video is on that side
            assert Counter(video[i] for i in getattr(fold, side)) == {v: frames_per_video[v] for v in sides[side]}
    assert len(folds) == {"afewva_cv": 5, "affwild_sampled_train": 1}[protocol]
    again = splits.make_splits(split_cfg, samples, AFEWVA(tmp_path))
    assert [f.test for f in again] == [f.test for f in folds]  # seeded


def test_a_frame_moved_across_is_refused(tmp_path: Path) -> None:
    samples = frame_samples(12)
    fold = splits.make_splits(protocols.load("afewva_cv").split, samples, AFEWVA(tmp_path))[0]
    leaky = Split("leaky", train=fold.train + fold.test[:1], test=fold.test[1:])
    with pytest.raises(LeakageError, match="groups on both train and test"):
        splits.assert_no_leakage(leaky, {s.id: s for s in samples}, "shared")


def test_sampled_train_protocol_is_labelled_non_standard() -> None:
    protocol = protocols.load("affwild_sampled_train")
    assert protocol.leaky is True and "NON-STANDARD" in protocol.description
    assert protocol.serves == ("avce:2", "avce:4") and protocol.seeds == (0, 1, 2, 3, 4)
    assert protocol.dataset_options == {"partitions": ["train"]}
    assert {"ccc", "ccc_avce", "rmse_batched", "sagr_avce"} <= set(protocol.metrics)


def afew_tree(root: Path, clips: int) -> None:
    """AFEW-VA clips in the shipped layout: <NNN>/<NNN>.json plus one .png per annotated frame."""
    import json

    from PIL import Image

    for clip in range(1, clips + 1):
        folder = root / f"{clip:03d}"
        folder.mkdir(parents=True)
        frames = {f"{f:05d}": {"valence": (clip + f) % 21 - 10, "arousal": 0, "landmarks": [[1.0, 2.0]] * 68}
                  for f in range(2 + clip % 3)}
        (folder / f"{clip:03d}.json").write_text(json.dumps({"actor": f"actor{clip % 4}", "video_id": f"{clip:03d}",
                                                             "frames": frames}), encoding="utf-8")
        for frame in frames:
            Image.new("RGB", (4, 4)).save(folder / f"{frame}.png")


def test_the_split_file_records_whole_videos_and_verifies(tmp_path: Path) -> None:
    import json

    from bench.cli import main
    from bench.protocols import drawn_splits

    afew_tree(tmp_path / "data", 18)
    out = tmp_path / "afewva_cv.splits.json"
    assert main(["splits", "afewva_cv", "--data-root", str(tmp_path / "data"), "--out", str(out)]) == 0
    document = json.loads(out.read_text(encoding="utf-8"))
    assert document["protocol"] == "afewva_cv" and len(document["folds"]) == 5
    samples = AFEWVA(tmp_path / "data").samples()
    folds = splits.make_splits(protocols.load("afewva_cv").split, samples, AFEWVA(tmp_path / "data"))
    videos = {s.group_key for s in samples}
    for fold, stored in zip(folds, document["folds"]):
        assert stored["fingerprint"] == splits.split_fingerprint(fold)  # what every run record stores
        assert len(stored["groups"]["test"]) == 3  # 18 clips at 5:1: 3 test videos, the other 15 train
        train_videos = {s.group_key for s in samples if s.id in set(fold.train)}
        assert train_videos == videos - set(stored["groups"]["test"])
        assert stored["sizes"]["test"] == len(fold.test)
    assert drawn_splits.verify("afewva_cv", tmp_path / "data", out) == []
    # another copy of the data with one clip fewer draws other folds: verify says so
    import shutil

    shutil.rmtree(tmp_path / "data" / "018")
    problems = drawn_splits.verify("afewva_cv", tmp_path / "data", out)
    assert problems and problems[0].startswith(f"{out}:") and ": samples: the file has 54, now 52" in problems[0]
    assert main(["splits", "afewva_cv", "--data-root", str(tmp_path / "data"), "--verify", str(out)]) == 1
