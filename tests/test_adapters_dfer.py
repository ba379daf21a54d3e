"""DFEW and MAFW adapters: the real fold lists (shared data) and fixture trees in the shipped layouts."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from shared_data import shared_data

from bench.data.adapters.dfew import DFEW
from bench.data.adapters.mafw import A_TO_B, MAFW, ORDER_A, ORDER_B
from bench.data.media import write_video, write_wav
from bench.errors import ConfigError, DataError
from bench.protocols import splits

# Typed from ../shared/data/README.md ("Verified counts"): (train, test, train per class, test per class).
DFEW_FACTS = [
    (9356, 2341, [1956, 1515, 2135, 1738, 1175, 116, 721], [489, 379, 534, 435, 294, 29, 181]),
    (9356, 2341, [1956, 1515, 2135, 1738, 1175, 116, 721], [489, 379, 534, 435, 294, 29, 181]),
    (9357, 2340, [1956, 1515, 2135, 1738, 1175, 116, 722], [489, 379, 534, 435, 294, 29, 180]),
    (9358, 2339, [1956, 1515, 2135, 1739, 1175, 116, 722], [489, 379, 534, 434, 294, 29, 180]),
    (9361, 2336, [1956, 1516, 2136, 1739, 1176, 116, 722], [489, 378, 533, 434, 293, 29, 180]),
]
# Per class in order B.
MAFW_FACTS = [
    (7333, 1839, [1112, 511, 500, 993, 910, 1176, 857, 188, 732, 209, 145],
     [278, 128, 125, 249, 228, 294, 215, 48, 184, 53, 37]),
    (7335, 1837, [1112, 511, 500, 993, 910, 1176, 857, 189, 733, 209, 145],
     [278, 128, 125, 249, 228, 294, 215, 47, 183, 53, 37]),
    (7339, 1833, [1112, 511, 500, 994, 910, 1176, 858, 189, 733, 210, 146],
     [278, 128, 125, 248, 228, 294, 214, 47, 183, 52, 36]),
    (7340, 1832, [1112, 511, 500, 994, 911, 1176, 858, 189, 733, 210, 146],
     [278, 128, 125, 248, 227, 294, 214, 47, 183, 52, 36]),
    (7341, 1831, [1112, 512, 500, 994, 911, 1176, 858, 189, 733, 210, 146],
     [278, 127, 125, 248, 227, 294, 214, 47, 183, 52, 36]),
]


def _link_lists(source: Path, root: Path) -> Path:
    """A data root whose annotation/ links to the real list files (the layout the adapters expect)."""
    (root / "annotation").mkdir(parents=True)
    for item in sorted(source.iterdir()):
        (root / "annotation" / item.name).symlink_to(item)
    return root


def _per_class(ids: tuple[str, ...], labels: dict[str, int], num_classes: int) -> list[int]:
    counts = Counter(labels[i] for i in ids)
    return [counts[c] for c in range(num_classes)]


# ------------------------------------------------------------------------------- DFEW, real lists


def test_dfew_real_lists_match_the_verified_fold_sizes_and_class_counts(tmp_path: Path) -> None:
    adapter = DFEW(_link_lists(shared_data("dfew", "dfer_clip_annotation"), tmp_path / "dfew"))
    samples = adapter.samples()
    labels = {s.id: s.label for s in samples}
    folds = adapter.official_folds()
    assert [f.name for f in folds] == ["fold1", "fold2", "fold3", "fold4", "fold5"]
    for fold, (n_train, n_test, train_pc, test_pc) in zip(folds, DFEW_FACTS):
        assert (len(fold.train), len(fold.test)) == (n_train, n_test)
        assert _per_class(fold.train, labels, 7) == train_pc
        assert _per_class(fold.test, labels, 7) == test_pc
        assert set(fold.train) | set(fold.test) == set(labels)
    assert len(samples) == 11697
    assert sum(len(f.test) for f in folds) == 11697
    assert _per_class(tuple(labels), labels, 7) == [2445, 1894, 2669, 2173, 1469, 145, 902]
    assert samples[0].id == "00001" and samples[-1].id == "16372"
    # The first line of DFEW_set_1_train.txt: ".../DFEW_Frame_Face/02522 66 5".
    first = next(s for s in samples if s.id == "02522")
    assert first.label == 5 and first.meta["num_frames"] == 66
    built = splits.make_splits({"scheme": "official_folds", "folds": 5}, samples, adapter)
    assert [len(f.test) for f in built] == [2341, 2341, 2340, 2339, 2336]


def test_dfew_check_on_real_lists_reports_only_the_missing_media(tmp_path: Path) -> None:
    adapter = DFEW(_link_lists(shared_data("dfew", "dfer_clip_annotation"), tmp_path / "dfew"))
    report = adapter.check()
    assert report.counts["fold3/train"] == 9357 and report.counts["fold5/test"] == 2336
    assert not [p for p in report.problems if "expected" in p or "no fold" in p]
    assert len(report.problems) == 2 * 11697  # no media in this root: video and audio of every clip
    assert all("is missing" in p for p in report.problems)


# -------------------------------------------------------------------------------- MAFW, real lists


def test_mafw_both_real_list_sources_match_the_facts_and_each_other(tmp_path: Path) -> None:
    a_root = _link_lists(shared_data("mafw", "dfer_clip_annotation"), tmp_path / "a")
    b_root = _link_lists(shared_data("mafw", "mae_dfer_single"), tmp_path / "b")
    from_a, from_b = MAFW(a_root, label_order="B"), MAFW(b_root, label_order="B")
    assert (from_a.list_source(), from_b.list_source()) == ("A", "B")
    assert from_b.label_names == ORDER_B
    labels_a = {s.id: s.label for s in from_a.samples()}
    labels_b = {s.id: s.label for s in from_b.samples()}
    assert labels_a == labels_b and len(labels_a) == 9172
    assert from_a.official_folds() == from_b.official_folds()
    for fold, (n_train, n_test, train_pc, test_pc) in zip(from_b.official_folds(), MAFW_FACTS):
        assert (len(fold.train), len(fold.test)) == (n_train, n_test)
        assert _per_class(fold.train, labels_b, 11) == train_pc
        assert _per_class(fold.test, labels_b, 11) == test_pc
    assert _per_class(tuple(labels_b), labels_b, 11) == [1390, 639, 625, 1242, 1138, 1470, 1072, 236, 916, 262, 182]
    # In order A (the default, MMA-DFER's), fold-1 test per class is [249, 294, 228, 278, ...] (REFERENCE 4.2).
    in_a = {s.id: s.label for s in MAFW(b_root).samples()}
    assert MAFW(a_root).label_names == ORDER_A
    assert in_a == {s.id: s.label for s in MAFW(a_root).samples()}
    fold1 = from_b.official_folds()[0]
    assert _per_class(fold1.test, in_a, 11) == [249, 294, 228, 278, 215, 128, 125, 48, 184, 53, 37]


def test_mafw_class_mapping_pairs_the_same_names() -> None:
    assert [ORDER_B[b] for b in A_TO_B] == list(ORDER_A)


def test_mafw_real_list_without_final_newline_keeps_its_last_clip(tmp_path: Path) -> None:
    source = shared_data("mafw", "dfer_clip_annotation") / "MAFW_set_1_test.txt"
    raw = source.read_bytes()
    assert not raw.endswith(b"\n")
    last_clip = raw.rsplit(b"\n", 1)[1].split()[0].rsplit(b"/", 1)[1].decode()
    adapter = MAFW(_link_lists(source.parent, tmp_path / "m"))
    assert adapter.official_folds()[0].test[-1] == last_clip
    assert len(adapter.official_folds()[0].test) == raw.count(b"\n") + 1


# --------------------------------------------------------------------------------- fixture trees

SR = 16000


def _frames(k: int, n: int = 4) -> np.ndarray:
    return np.stack([np.full((16, 16, 3), (40 * k + 10 * j) % 256, dtype=np.uint8) for j in range(n)])


def _tone(k: int) -> np.ndarray:
    t = np.arange(SR // 4) / SR
    return (0.2 * np.sin(2 * np.pi * (200 + 50 * k) * t)).astype(np.float32)


def _write_frame_dir(folder: Path, k: int, padded: bool) -> None:
    folder.mkdir(parents=True)
    for j, image in enumerate(_frames(k)):
        name = f"{j + 1:05d}.jpg" if padded else f"{j}.jpg"
        Image.fromarray(image).save(folder / name)


def _write_lists(annotation: Path, pattern: str, clips: list[str], labels: list[int], num_frames: bool,
                 prefix: str) -> None:
    """Fold k tests clip k and trains on the others, one '<dir> [<n>] <label>' line per clip."""
    annotation.mkdir(parents=True, exist_ok=True)
    for k in range(1, 6):
        for side in ("train", "test"):
            chosen = [i for i in range(len(clips)) if (i == k - 1) == (side == "test")]
            lines = [f"{prefix}/{clips[i]} {4} {labels[i]}" if num_frames else f"{prefix}/{clips[i]} {labels[i]}"
                     for i in chosen]
            path = annotation / pattern.format(k=k, side=side)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("\n".join(lines) + "\n")


DFEW_CLIPS = ["00007", "00012", "00130", "01001", "16372"]
DFEW_LABELS = [0, 3, 6, 2, 5]


def _dfew_tree(root: Path) -> Path:
    for k, clip in enumerate(DFEW_CLIPS):
        _write_frame_dir(root / "Clip" / "clip_224x224" / clip, k, padded=True)
        write_video(root / "Clip" / "original" / f"{clip}.mp4", _frames(k), 8.0, audio=_tone(k), sample_rate=SR)
        write_wav(root / "raw_wav" / f"{int(clip)}.wav", _tone(k), SR)
    _write_lists(root / "annotation", "DFEW_set_{k}_{side}.txt", DFEW_CLIPS, DFEW_LABELS, True, "/x/clip_224x224")
    return root


def test_dfew_fixture_samples_folds_and_sources(tmp_path: Path) -> None:
    root = _dfew_tree(tmp_path / "dfew")
    samples = DFEW(root).samples()
    assert [s.id for s in samples] == DFEW_CLIPS
    assert [s.label for s in samples] == DFEW_LABELS
    assert samples[2].sources == {"video": root / "Clip" / "clip_224x224" / "00130",
                                  "audio": root / "raw_wav" / "130.wav"}
    assert samples[0].subject is None and samples[0].group_key == "00007" and samples[0].meta["num_frames"] == 4
    folds = DFEW(root).official_folds()
    assert folds[1].test == ("00012",) and folds[1].train == ("00007", "00130", "01001", "16372")
    original = DFEW(root, video_from="original", audio_from="original").samples()[4]
    assert original.sources == {"video": root / "Clip" / "original" / "16372.mp4",
                                "audio": root / "Clip" / "original" / "16372.mp4"}
    with pytest.raises(ConfigError, match="video_from"):
        DFEW(root, video_from="jpg")  # type: ignore[arg-type]


def test_dfew_auto_falls_back_to_the_mp4_when_frames_and_wavs_are_absent(tmp_path: Path) -> None:
    root = _dfew_tree(tmp_path / "dfew")
    for folder in (root / "raw_wav", root / "Clip" / "clip_224x224"):
        for path in sorted(folder.rglob("*"), reverse=True):
            path.rmdir() if path.is_dir() else path.unlink()
        folder.rmdir()
    sample = DFEW(root).samples()[0]
    assert sample.sources["video"] == sample.sources["audio"] == root / "Clip" / "original" / "00007.mp4"
    sizes = {f"fold{k}/{s}": (1 if s == "test" else 4) for k in range(1, 6) for s in ("train", "test")}
    report = DFEW(root).check()
    assert {k: report.counts[k] for k in sizes} == sizes


def test_dfew_check_lists_unreadable_media_and_wrong_sizes(tmp_path: Path) -> None:
    root = _dfew_tree(tmp_path / "dfew")
    write_wav(root / "raw_wav" / "12.wav", np.zeros(0, np.float32), SR)  # zero-length audio
    (root / "Clip" / "clip_224x224" / "00130" / "00001.jpg").write_bytes(b"not a jpeg")
    for name in sorted((root / "Clip" / "clip_224x224" / "01001").iterdir()):
        name.unlink()
    report = DFEW(root).check()
    problems = "\n".join(report.problems)
    assert f"{root / 'raw_wav' / '12.wav'}: audio of sample 00012 has no audio samples" in problems
    assert f"{root / 'Clip' / 'clip_224x224' / '00130'}: video of sample 00130 first frame 00001.jpg" in problems
    assert "01001: video of sample 01001 frame folder holds no" in problems
    assert "fold1/train: 4 found, expected 9356 (DFEW official folds)" in problems
    assert len(report.problems) == 3 + 10

    corrupt = DFEW(root, video_from="original")
    (root / "Clip" / "original" / "00007.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 4)
    problems = "\n".join(corrupt.check().problems)
    assert f"{root / 'Clip' / 'original' / '00007.mp4'}: video of sample 00007 cannot be decoded" in problems


def test_dfew_check_passes_a_complete_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = _dfew_tree(tmp_path / "dfew")
    sizes = {f"fold{k}/{s}": (1 if s == "test" else 4) for k in range(1, 6) for s in ("train", "test")}
    monkeypatch.setattr(DFEW, "expected_counts", sizes)
    report = DFEW(root).check()
    assert report.ok, report.problems
    assert report.counts["clips"] == 5


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


@pytest.mark.parametrize(
    ("file", "old", "new", "message"),
    [
        ("DFEW_set_2_train.txt", "/x/clip_224x224/00007 4 0\n",
         "/x/clip_224x224/00007 4 0\n/x/clip_224x224/00007 4 0\n",
         r"DFEW_set_2_train.txt, line 2: clip 00007 is listed twice \(first on line 1\)"),
        ("DFEW_set_3_test.txt", "/x/clip_224x224/00130 4 6\n", "/x/clip_224x224/00130 4 6\n/x/clip_224x224/00012 4 3\n",
         r"DFEW_set_3_test.txt, line 2: clip 00012 is also on the train side of fold 3"),
        ("DFEW_set_4_test.txt", "/x/clip_224x224/01001 4 2", "/x/clip_224x224/01001 4 7",
         r"DFEW_set_4_test.txt, line 1: label 7 is out of range; expected 0..6"),
        ("DFEW_set_1_train.txt", "/x/clip_224x224/00012 4 3", "/x/clip_224x224/00012 3",
         r"DFEW_set_1_train.txt, line 1: expected '<frame-dir> <num_frames> <label>'"),
        ("DFEW_set_5_train.txt", "/x/clip_224x224/00130 4 6", "/x/clip_224x224/00130 4 1",
         r"DFEW_set_5_train.txt, line 3: clip 00130 has label 1, but 6 in .*DFEW_set_1_train.txt, line 2"),
        ("DFEW_set_1_train.txt", "/x/clip_224x224/00012 4 3", "/x/clip_224x224/12 4 3",
         r"DFEW_set_1_train.txt, line 1: clip id '12'"),
    ],
)
def test_dfew_bad_lists_name_the_file_and_line(tmp_path: Path, file: str, old: str, new: str, message: str) -> None:
    root = _dfew_tree(tmp_path / "dfew")
    _edit(root / "annotation" / file, old, new)
    with pytest.raises(DataError, match=message):
        DFEW(root).official_folds()


def test_dfew_clip_in_two_test_folds_is_refused(tmp_path: Path) -> None:
    root = _dfew_tree(tmp_path / "dfew")
    # Fold 2 tests 00012; list it in fold 1's test side as well (and drop it from fold 1's train side).
    _edit(root / "annotation" / "DFEW_set_1_train.txt", "/x/clip_224x224/00012 4 3\n", "")
    _edit(root / "annotation" / "DFEW_set_1_test.txt", "/x/clip_224x224/00007 4 0\n",
          "/x/clip_224x224/00007 4 0\n/x/clip_224x224/00012 4 3\n")
    with pytest.raises(DataError, match=r"DFEW_set_2_test.txt, line 1: clip 00012 is already in the test list of "
                                        r"fold 1 \(.*DFEW_set_1_test.txt, line 2\)"):
        DFEW(root).samples()


def test_dfew_missing_root_or_list_names_the_layout(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"dfew data root not found(.|\n)*annotation/DFEW_set_\{1..5\}"):
        DFEW(tmp_path / "absent").samples()
    root = _dfew_tree(tmp_path / "dfew")
    (root / "annotation" / "DFEW_set_4_test.txt").unlink()
    with pytest.raises(DataError, match=r"DFEW_set_4_test.txt: required file not found(.|\n)*clip_224x224"):
        DFEW(root).official_folds()


def test_dfew_clip_never_tested_is_a_check_problem(tmp_path: Path) -> None:
    root = _dfew_tree(tmp_path / "dfew")
    _edit(root / "annotation" / "DFEW_set_3_test.txt", "/x/clip_224x224/00130 4 6\n", "")
    problems = DFEW(root).check().problems
    assert "clip 00130 is in no fold's test list" in problems
    assert "fold3/test: 0 found, expected 2340 (DFEW official folds)" in problems


MAFW_CLIPS = ["00025", "00028", "03747", "09000", "10045"]
MAFW_LABELS_A = [0, 3, 10, 6, 7]  # happiness, anger, disappointment, fear, contempt


def _mafw_tree(root: Path, lists: str) -> Path:
    for k, clip in enumerate(MAFW_CLIPS):
        _write_frame_dir(root / "clips_faces" / clip, k, padded=False)
        write_video(root / "clips" / f"{clip}.mp4", _frames(k), 8.0, audio=_tone(k), sample_rate=SR)
        write_wav(root / "clips_wav" / f"{clip}.wav", _tone(k), SR)
    if lists == "A":
        _write_lists(root / "annotation", "MAFW_set_{k}_{side}.txt", MAFW_CLIPS, MAFW_LABELS_A, True, "/d/faces")
    else:
        labels_b = [A_TO_B[a] for a in MAFW_LABELS_A]
        _write_lists(root / "annotation", "split0{k}/{side}.csv", MAFW_CLIPS, labels_b, False, "/d/frames")
    return root


def test_mafw_fixture_sources_and_label_orders(tmp_path: Path) -> None:
    root_a = _mafw_tree(tmp_path / "a", "A")
    root_b = _mafw_tree(tmp_path / "b", "B")
    sample = MAFW(root_a).samples()[2]
    assert sample.id == "03747" and sample.label == 10 and sample.meta["num_frames"] == 4
    assert sample.sources == {"video": root_a / "clips_faces" / "03747", "audio": root_a / "clips_wav" / "03747.wav"}
    assert sorted(p.name for p in sample.sources["video"].iterdir()) == ["0.jpg", "1.jpg", "2.jpg", "3.jpg"]
    assert [s.label for s in MAFW(root_a).samples()] == MAFW_LABELS_A
    assert [s.label for s in MAFW(root_b).samples()] == MAFW_LABELS_A  # B lists exposed in order A
    assert [s.label for s in MAFW(root_a, label_order="B").samples()] == [3, 0, 10, 2, 7]
    assert MAFW(root_b).samples()[0].meta["num_frames"] is None
    original = MAFW(root_b, video_from="original", audio_from="original").samples()[1]
    assert original.sources["video"] == original.sources["audio"] == root_b / "clips" / "00028.mp4"
    with pytest.raises(DataError, match=r"MAFW_set_1_train.txt: required file not found"):
        MAFW(root_b, lists="A").samples()
    with pytest.raises(ConfigError, match="label_order"):
        MAFW(root_a, label_order="C")  # type: ignore[arg-type]


def test_mafw_reads_lists_a_under_mma_dfer_names(tmp_path: Path) -> None:
    """MMA-DFER's annotation/ names list set A MAFW_set_k_{train,test}_faces.txt; DFER-CLIP's name wins."""
    root = _mafw_tree(tmp_path / "m", "A")
    expected = [(s.id, s.label, s.meta["num_frames"]) for s in MAFW(root).samples()]
    for path in sorted((root / "annotation").glob("MAFW_set_*.txt")):
        path.rename(path.with_name(path.stem + "_faces.txt"))
    adapter = MAFW(root)
    assert adapter.list_source() == "A" and adapter.list_path("A", 2, "test").name == "MAFW_set_2_test_faces.txt"
    assert [(s.id, s.label, s.meta["num_frames"]) for s in adapter.samples()] == expected


def test_mafw_check_lists_a_corrupt_mp4_and_a_zero_length_wav(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = _mafw_tree(tmp_path / "m", "B")
    sizes = {f"fold{k}/{s}": (1 if s == "test" else 4) for k in range(1, 6) for s in ("train", "test")}
    monkeypatch.setattr(MAFW, "expected_counts", sizes)
    assert MAFW(root).check().ok
    clip = root / "clips" / "09000.mp4"
    clip.write_bytes(clip.read_bytes()[: clip.stat().st_size // 3])
    write_wav(root / "clips_wav" / "00028.wav", np.zeros(0, np.float32), SR)
    problems = MAFW(root, video_from="original").check().problems
    assert problems == (
        f"{root / 'clips_wav' / '00028.wav'}: audio of sample 00028 has no audio samples (zero-length)",
        f"{clip}: video of sample 09000 cannot be decoded (Invalid data found when processing input)",
    )


def test_mafw_b_list_with_three_fields_is_malformed(tmp_path: Path) -> None:
    root = _mafw_tree(tmp_path / "m", "B")
    _edit(root / "annotation" / "split03" / "test.csv", "/d/frames/03747 10", "/d/frames/03747 4 10")
    with pytest.raises(DataError, match=r"split03/test.csv, line 1: expected '<frame-dir> <label>'"):
        MAFW(root).samples()
