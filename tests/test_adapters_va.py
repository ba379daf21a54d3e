"""AFEW-VA, Aff-Wild and Aff-Wild2 adapters on fixture trees of real image files in each layout.

AFEW-VA's fixtures use the real annotation ``../shared/data/afew_va/001/001.json``; Aff-Wild
and Aff-Wild2 annotations are not in ../shared, so their files are written here in the
documented formats.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from shared_data import shared_path

from bench import protocols
from bench.api import Split
from bench.data.adapters.afew_va import AFEWVA
from bench.data.adapters.affwild import AffWild
from bench.data.adapters.affwild2 import AffWild2
from bench.errors import ConfigError, DataError, LeakageError, ProtocolError
from bench.files import roots
from bench.protocols import splits

REAL_JSON = shared_path("afew_va", "001", "001.json")
needs_real_json = pytest.mark.skipif(not REAL_JSON.is_file(), reason="../shared/data/afew_va is absent")


def _image(path: Path, value: int = 0) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.full((8, 8, 3), value % 256, dtype=np.uint8)
    Image.fromarray(pixels).save(path)


# ------------------------------------------------------------------------------ AFEW-VA


def _real() -> dict:
    return json.loads(REAL_JSON.read_text(encoding="utf-8"))


def _afew_clip(root: Path, clip: str, data: dict, frames: int | None = None) -> Path:
    """Write ``data`` as clip ``clip`` (first ``frames`` frames) with one PNG per annotated frame."""
    data = copy.deepcopy(data)
    data["video_id"] = clip
    if frames is not None:
        data["frames"] = dict(sorted(data["frames"].items())[:frames])
    folder = root / clip
    folder.mkdir(parents=True)
    (folder / f"{clip}.json").write_text(json.dumps(data), encoding="utf-8")
    for i, frame in enumerate(data["frames"]):
        _image(folder / f"{frame}.png", i)
    return folder


@needs_real_json
def test_afew_va_real_clip_becomes_42_frame_samples(tmp_path: Path) -> None:
    data = _real()
    _afew_clip(tmp_path, "001", data)
    samples = AFEWVA(tmp_path).samples()
    assert [s.id for s in samples] == [f"001/{i:05d}" for i in range(42)]
    for sample in samples:
        entry = data["frames"][sample.meta["frame"]]
        assert sample.label == (entry["valence"] / 10, entry["arousal"] / 10) == (0.0, 0.5)
        assert (sample.group, sample.subject, sample.meta["clip"]) == ("001", "Bruce Campbell", "001")
        np.testing.assert_allclose(sample.meta["landmarks"], np.asarray(entry["landmarks"]), rtol=1e-6)
        assert sample.meta["landmarks"].shape == (68, 2) and not sample.meta["landmarks"].flags.writeable
        assert set(sample.sources) == {"video"}
        with Image.open(sample.sources["video"]) as image:
            assert image.size == (8, 8)
    adapter = AFEWVA(tmp_path)
    assert adapter.task_spec().label_names == ("valence", "arousal") and adapter.task == "regression"
    report = adapter.check()
    assert report.counts == {"clips": 1, "frames": 42, "actors": 1}
    assert report.problems == (f"{tmp_path}: 1 clips found, AFEW-VA has 600",)


@needs_real_json
@pytest.mark.parametrize("value", [11, -10.5, "high", None])
def test_afew_va_label_out_of_range_names_file_and_frame(tmp_path: Path, value: object) -> None:
    data = _real()
    data["frames"]["00003"]["arousal"] = value
    folder = _afew_clip(tmp_path, "001", data)
    with pytest.raises(DataError, match=r"frame 00003: arousal") as error:
        AFEWVA(tmp_path).samples()
    assert str(folder / "001.json") in str(error.value)
    assert AFEWVA(tmp_path).check().problems[0] == str(error.value)


@needs_real_json
def test_afew_va_labels_at_the_range_ends_are_accepted(tmp_path: Path) -> None:
    data = _real()
    data["frames"]["00000"].update(valence=-10, arousal=10)
    _afew_clip(tmp_path, "001", data, frames=1)
    [sample] = AFEWVA(tmp_path).samples()
    assert sample.label == (-1.0, 1.0)


@needs_real_json
def test_afew_va_frame_count_mismatch_names_both_counts(tmp_path: Path) -> None:
    folder = _afew_clip(tmp_path, "001", _real())
    (folder / "00017.png").unlink()
    with pytest.raises(DataError, match="has 41 frame images .* but 001.json annotates 42 frames"):
        AFEWVA(tmp_path).samples()


@needs_real_json
def test_afew_va_image_names_must_match_the_annotated_frames(tmp_path: Path) -> None:
    folder = _afew_clip(tmp_path, "001", _real(), frames=3)
    (folder / "00002.png").rename(folder / "00099.png")
    with pytest.raises(DataError, match="frame 00002 has no image"):
        AFEWVA(tmp_path).samples()


@needs_real_json
def test_afew_va_malformed_annotation_files(tmp_path: Path) -> None:
    folder = _afew_clip(tmp_path, "001", _real(), frames=2)
    (folder / "001.json").write_text('{"actor": "x", "frames": {', encoding="utf-8")
    with pytest.raises(DataError, match="cannot read AFEW-VA annotation JSON"):
        AFEWVA(tmp_path).samples()
    data = _real()
    data["frames"]["00001"]["landmarks"] = data["frames"]["00001"]["landmarks"][:60]
    (folder / "001.json").write_text(json.dumps(data | {"frames": dict(list(data["frames"].items())[:2])}))
    with pytest.raises(DataError, match="frame 00001: landmarks must be 68"):
        AFEWVA(tmp_path).samples()
    (folder / "001.json").write_text(json.dumps({"actor": "x", "video_id": "002", "frames": {"00000": {}}}))
    with pytest.raises(DataError, match="video_id '002' is not its folder's clip '001'"):
        AFEWVA(tmp_path).samples()


@needs_real_json
def test_afew_va_ratio_cv_never_splits_the_frames_of_one_clip(tmp_path: Path) -> None:
    data = _real()
    actors = ["A", "B", "C", "D"]
    for i in range(12):
        _afew_clip(tmp_path / f"part{i % 3 + 1:02d}", f"{i + 1:03d}", data | {"actor": actors[i % 4]}, frames=5)
    adapter = AFEWVA(tmp_path)
    samples = adapter.samples()
    assert len(samples) == 60 and len({s.group for s in samples}) == 12
    protocol = protocols.load("afewva_cv")
    folds = splits.make_splits(protocol.split, samples, adapter)
    assert len(folds) == 5
    clip_of = {s.id: s.group for s in samples}
    for fold in folds:
        test_clips = {clip_of[i] for i in fold.test}
        train_clips = {clip_of[i] for i in fold.train}
        assert len(test_clips) == 2 and len(train_clips) == 10 and not test_clips & train_clips  # 12 * 1/6
        assert len(fold.test) == 10 and len(fold.train) == 50  # whole clips of 5 frames
    # and the leakage assertion refuses a split that moves one frame of a clip across
    fold = folds[0]
    moved = fold.test[0]
    leaky = Split("leaky", train=fold.train + (moved,), test=fold.test[1:])
    with pytest.raises(LeakageError, match="groups on both train and test"):
        splits.assert_no_leakage(leaky, {s.id: s for s in samples}, "shared")


@needs_real_json
def test_afew_va_same_clip_in_two_folders_is_refused(tmp_path: Path) -> None:
    _afew_clip(tmp_path / "a", "001", _real(), frames=1)
    _afew_clip(tmp_path / "b", "001", _real(), frames=1)
    with pytest.raises(DataError, match="clip\\(s\\) 001 found in more than one folder"):
        AFEWVA(tmp_path).samples()


def test_afew_va_empty_root_shows_the_layout(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no AFEW-VA clip folder"):
        AFEWVA(tmp_path).samples()


# ------------------------------------------------------------------------------ Aff-Wild


def _affwild_video(root: Path, partition: str, video: str, values: list[tuple[float, float]], first: int = 1) -> None:
    for axis, column in (("valence", 0), ("arousal", 1)):
        path = root / "annotations" / partition / axis / f"{video}.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(f"{v[column]}\n" for v in values), encoding="utf-8")
    for i in range(len(values)):
        _image(root / "frames" / video / f"{first + i:05d}.png", i)


def _affwild_tree(root: Path) -> None:
    _affwild_video(root, "train", "105", [(0.1, -0.2), (0.15, -0.25), (1.0, -1.0)])
    _affwild_video(root, "train", "120-30-1280x720", [(-0.5, 0.5), (-0.4, 0.6)], first=0)
    _affwild_video(root, "test", "271", [(0.0, 0.3), (0.05, 0.35)])


def test_affwild_frames_labels_and_official_split(tmp_path: Path) -> None:
    _affwild_tree(tmp_path)
    adapter = AffWild(tmp_path)
    samples = adapter.samples()
    assert [s.id for s in samples] == ["105/00001", "105/00002", "105/00003",
                                       "120-30-1280x720/00000", "120-30-1280x720/00001", "271/00001", "271/00002"]
    assert [s.label for s in samples[:3]] == [(0.1, -0.2), (0.15, -0.25), (1.0, -1.0)]
    assert [s.group for s in samples] == ["105"] * 3 + ["120-30-1280x720"] * 2 + ["271"] * 2
    assert all(s.subject is None for s in samples)
    assert samples[4].meta == {"video": "120-30-1280x720", "frame": 1, "partition": "train"}
    assert samples[4].sources["video"] == tmp_path / "frames" / "120-30-1280x720" / "00001.png"
    split = adapter.official_split()
    assert split.test == ("271/00001", "271/00002") and len(split.train) == 5 and not split.val
    [official] = splits.make_splits(protocols.load("affwild_official").split, samples, adapter)
    assert official.test == split.test
    report = adapter.check()
    assert report.counts == {"train_videos": 2, "train_frames": 5, "test_videos": 1, "test_frames": 2}
    assert report.problems == (
        f"{tmp_path / 'annotations' / 'train'}: 2 videos, Aff-Wild's train set has 252",
        f"{tmp_path / 'annotations' / 'test'}: 1 videos, Aff-Wild's test set has 46",
    )


def test_affwild_value_outside_range_names_file_and_line(tmp_path: Path) -> None:
    _affwild_tree(tmp_path)
    path = tmp_path / "annotations" / "train" / "arousal" / "105.txt"
    path.write_text("-0.2\n1.5\n-1.0\n", encoding="utf-8")
    with pytest.raises(DataError, match=f"^{path}:2: arousal of frame 2 1.5 is outside \\[-1, 1\\]$"):
        AffWild(tmp_path).samples()
    path.write_text("-0.2\n\n-1.0\n", encoding="utf-8")
    with pytest.raises(DataError, match=f"^{path}:2: arousal of frame 2 '' is not a number$"):
        AffWild(tmp_path).samples()


def test_affwild_frame_count_mismatch_names_both_counts(tmp_path: Path) -> None:
    _affwild_tree(tmp_path)
    _image(tmp_path / "frames" / "105" / "00004.png")
    with pytest.raises(DataError, match="video 105 has 4 frame images but its annotation .*105.txt has 3 frame lines"):
        AffWild(tmp_path).samples()
    problems = AffWild(tmp_path).check().problems
    assert any("has 4 frame images" in p for p in problems)


def test_affwild_valence_and_arousal_must_agree(tmp_path: Path) -> None:
    _affwild_tree(tmp_path)
    arousal = tmp_path / "annotations" / "test" / "arousal" / "271.txt"
    arousal.write_text("0.3\n", encoding="utf-8")
    with pytest.raises(DataError, match="271.txt has 2 lines but .*271.txt has 1"):
        AffWild(tmp_path).samples()
    arousal.unlink()
    with pytest.raises(DataError, match="271.txt: missing; .* has no arousal counterpart"):
        AffWild(tmp_path).samples()


def test_affwild_layout_errors(tmp_path: Path) -> None:
    _affwild_tree(tmp_path)
    _affwild_video(tmp_path, "test", "105", [(0.1, 0.1)] * 3)
    with pytest.raises(DataError, match="video\\(s\\) 105 are annotated in both train and test"):
        AffWild(tmp_path).samples()


def test_affwild_frame_numbering_gap_and_missing_test_labels(tmp_path: Path) -> None:
    _affwild_video(tmp_path, "train", "105", [(0.1, 0.1)] * 3)
    (tmp_path / "frames" / "105" / "00002.png").rename(tmp_path / "frames" / "105" / "00007.png")
    with pytest.raises(DataError, match="numbered consecutively; frame 2 is missing"):
        AffWild(tmp_path).samples()
    (tmp_path / "frames" / "105" / "00007.png").rename(tmp_path / "frames" / "105" / "00002.png")
    assert len(AffWild(tmp_path).samples()) == 3
    with pytest.raises(DataError, match="no test annotations"):
        AffWild(tmp_path).official_split()
    with pytest.raises(DataError, match="no Aff-Wild annotation files"):
        AffWild(tmp_path / "elsewhere").samples()


def test_affwild_partitions_option_keeps_only_the_training_videos(tmp_path: Path) -> None:
    _affwild_tree(tmp_path)
    protocol = protocols.load("affwild_sampled_train")
    adapter = roots.open_adapter("affwild", tmp_path, protocol.dataset_options)
    assert isinstance(adapter, AffWild) and adapter.partitions == ("train",)
    samples = adapter.samples()
    assert [s.id for s in samples] == ["105/00001", "105/00002", "105/00003",
                                       "120-30-1280x720/00000", "120-30-1280x720/00001"]
    assert {s.meta["partition"] for s in samples} == {"train"}
    assert AffWild(tmp_path, partitions=["test"]).samples()[0].id == "271/00001"
    assert AffWild(tmp_path, partitions=["test", "train"]).partitions == ("train", "test")  # the release's order
    with pytest.raises(DataError, match="official split needs both partitions"):
        adapter.official_split()
    report = adapter.check()  # only the chosen partition is counted and compared with 252
    assert report.counts == {"train_videos": 2, "train_frames": 5}
    assert report.problems == (f"{tmp_path / 'annotations' / 'train'}: 2 videos, Aff-Wild's train set has 252",)
    # a video annotated in both partitions is still refused when one partition is chosen
    _affwild_video(tmp_path, "test", "105", [(0.1, 0.1)] * 3)
    with pytest.raises(DataError, match="annotated in both train and test"):
        adapter.samples()


def test_affwild_sampled_train_folds_hold_out_whole_training_videos(tmp_path: Path) -> None:
    for number in range(12):
        _affwild_video(tmp_path, "train", f"{100 + number}", [(0.1, 0.2)] * (2 + number % 3))
    _affwild_video(tmp_path, "test", "271", [(0.0, 0.3), (0.05, 0.35)])
    protocol = protocols.load("affwild_sampled_train")
    adapter = roots.open_adapter("affwild", tmp_path, protocol.dataset_options)
    samples = adapter.samples()
    [fold] = splits.make_splits(protocol.split, samples, adapter)
    video = {s.id: s.group for s in samples}
    test_videos = {video[i] for i in fold.test}
    assert len(test_videos) == 2 and not test_videos & {video[i] for i in fold.train}  # 12 videos at 5:1
    assert "271" not in set(video.values())  # the official test partition is never used


@pytest.mark.parametrize(("partitions", "message"), [
    ("train", "must be a non-empty list"), ([], "must be a non-empty list"),
    (["validation"], r"partitions \['validation'\] unknown; the official partitions are train, test"),
    (["train", "train"], "lists a partition twice"),
])
def test_affwild_bad_partitions_are_config_errors(tmp_path: Path, partitions: object, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        AffWild(tmp_path, partitions=partitions)


def test_affwild_unknown_option_names_the_valid_one(tmp_path: Path) -> None:
    with pytest.raises(ProtocolError, match=r"no option 'partition'.*partitions \(default \('train', 'test'\)\)"):
        roots.open_adapter("affwild", tmp_path, {"partition": ["train"]})


# ------------------------------------------------------------------------------ Aff-Wild2


def _affwild2_video(root: Path, partition: str, name: str, lines: list[str], images: list[int],
                    folder: str = "VA_Estimation_Challenge") -> Path:
    path = root / "annotations" / folder / partition / f"{name}.txt"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("valence,arousal\n" + "".join(f"{line}\n" for line in lines), encoding="utf-8")
    for number in images:
        _image(root / "cropped_aligned" / name / f"{number:05d}.jpg", number)
    return path


def _affwild2_tree(root: Path, folder: str = "VA_Estimation_Challenge") -> None:
    _affwild2_video(root, "Train_Set", "1-30-1280x720", ["0.2,0.3", "-5,-5", "0.25,0.35", "-1,1"], [1, 2, 3, 4], folder)
    _affwild2_video(root, "Train_Set", "10-60-1280x720_left", ["0.5,0.5", "0.4,0.4"], [1, 2], folder)
    _affwild2_video(root, "Train_Set", "10-60-1280x720_right", ["-0.5,-0.5"], [1], folder)
    _affwild2_video(root, "Validation_Set", "video7", ["0.1,0.1", "0.0,-0.1", "0.3,0.2"], [1, 3], folder)


def test_affwild2_frames_skip_unannotated_and_imageless_lines(tmp_path: Path) -> None:
    _affwild2_tree(tmp_path)
    adapter = AffWild2(tmp_path)
    samples = adapter.samples()
    assert [s.id for s in samples] == [
        "1-30-1280x720/00001", "1-30-1280x720/00003", "1-30-1280x720/00004",
        "10-60-1280x720_left/00001", "10-60-1280x720_left/00002", "10-60-1280x720_right/00001",
        "video7/00001", "video7/00003",
    ]
    assert [s.label for s in samples[:3]] == [(0.2, 0.3), (0.25, 0.35), (-1.0, 1.0)]
    assert samples[7].label == (0.3, 0.2)  # line 4 is frame 3: the image-less frame 2 shifts nothing
    assert [s.group for s in samples[3:6]] == ["10-60-1280x720"] * 3  # both people of one video
    assert samples[1].meta == {"video": "1-30-1280x720", "frame": 3, "partition": "train"}
    assert samples[1].sources["video"] == tmp_path / "cropped_aligned" / "1-30-1280x720" / "00003.jpg"
    split = adapter.official_split()
    assert split.test == ("video7/00001", "video7/00003") and len(split.train) == 6
    report = adapter.check()
    assert report.ok, report.problems
    assert report.counts == {"unannotated_frames": 1, "annotated_frames_without_image": 1, "train_videos": 3,
                             "train_frames": 6, "validation_videos": 1, "validation_frames": 2}


def test_affwild2_partitions_option(tmp_path: Path) -> None:
    _affwild2_tree(tmp_path)
    train = AffWild2(tmp_path, partitions=["train"])
    assert [s.meta["partition"] for s in train.samples()] == ["train"] * 6
    assert [s.id for s in AffWild2(tmp_path, partitions=["validation"]).samples()] == ["video7/00001", "video7/00003"]
    with pytest.raises(DataError, match="official split needs both partitions"):
        train.official_split()
    assert train.check().counts == {"unannotated_frames": 1, "annotated_frames_without_image": 0,
                                    "train_videos": 3, "train_frames": 6}
    with pytest.raises(ConfigError, match=r"partitions \['test'\] unknown; the official partitions are train, validation"):
        AffWild2(tmp_path, partitions=["test"])


def test_affwild2_abaw2021_folder_name_is_accepted(tmp_path: Path) -> None:
    _affwild2_tree(tmp_path, folder="VA_Set")
    assert len(AffWild2(tmp_path).samples()) == 8


def test_affwild2_value_outside_range_names_file_and_line(tmp_path: Path) -> None:
    _affwild2_tree(tmp_path)
    path = _affwild2_video(tmp_path, "Validation_Set", "video7", ["0.1,0.1", "0.0,-1.2", "0.3,0.2"], [])
    with pytest.raises(DataError, match=f"^{path}:3: arousal of frame 00002 -1.2 is outside \\[-1, 1\\]$"):
        AffWild2(tmp_path).samples()
    path.write_text("valence,arousal\n0.1;0.1\n0,0\n0,0\n", encoding="utf-8")
    with pytest.raises(DataError, match=f"^{path}:2: expected 'valence,arousal'"):
        AffWild2(tmp_path).samples()
    path.write_text("arousal,valence\n0.1,0.1\n0,0\n0,0\n", encoding="utf-8")
    with pytest.raises(DataError, match=f"^{path}:1: expected the header 'valence,arousal'"):
        AffWild2(tmp_path).samples()


def test_affwild2_images_beyond_the_annotation_name_both_counts(tmp_path: Path) -> None:
    _affwild2_tree(tmp_path)
    _image(tmp_path / "cropped_aligned" / "video7" / "00004.jpg")
    with pytest.raises(DataError, match="3 frame images, numbered up to 00004, but .*video7.txt annotates 3 frames"):
        AffWild2(tmp_path).samples()
    report = AffWild2(tmp_path).check()
    assert len(report.problems) == 1 and "annotates 3 frames" in report.problems[0]


def test_affwild2_layout_errors(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no VA_Estimation_Challenge or VA_Set folder"):
        AffWild2(tmp_path).samples()
    _affwild2_tree(tmp_path)
    _affwild2_video(tmp_path, "Validation_Set", "10-60-1280x720_left", ["0.5,0.5", "0.4,0.4"], [])
    with pytest.raises(DataError, match="10-60-1280x720_left are annotated in both Train_Set and Validation_Set"):
        AffWild2(tmp_path).samples()
    (tmp_path / "annotations" / "VA_Estimation_Challenge" / "Validation_Set" / "10-60-1280x720_left.txt").unlink()
    (tmp_path / "cropped_aligned" / "video7" / "00001.jpg").rename(tmp_path / "cropped_aligned" / "video7" / "x.jpg")
    with pytest.raises(DataError, match="x.jpg: frame image name is not a frame number"):
        AffWild2(tmp_path).samples()
