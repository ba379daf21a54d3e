"""Split schemes, val carving, leakage assertions and fingerprints (bench.protocols.splits)."""

from __future__ import annotations

import hashlib
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sklearn.model_selection import GroupKFold, StratifiedGroupKFold

from bench.api import DatasetAdapter, Sample, Split
from bench.errors import DataError, LeakageError, ProtocolError
from bench.protocols.splits import assert_no_leakage, make_splits, split_fingerprint
from bench.protocols.splitspec import SCHEMES, validate_scheme

ACTORS = [f"{a:02d}" for a in range(1, 25)]


def ravdess_like(actors: list[str] = ACTORS) -> list[Sample]:
    """RAVDESS speech: 60 recordings per actor (neutral 4, seven emotions 8 each), each as two samples."""
    samples = []
    for actor in actors:
        for rec in range(60):
            label = 0 if rec < 4 else 1 + (rec - 4) // 8
            group = f"{actor}-{rec:02d}"
            for copy in ("a", "av"):
                samples.append(Sample(f"{group}-{copy}", label, {}, subject=actor, group=group))
    return samples


SAMPLES = ravdess_like()
BY_ID = {s.id: s for s in SAMPLES}


class Ravdess(DatasetAdapter):
    """A classification adapter over given samples, with optional official folds and split."""

    name = "ravdess_test"
    task = "classification"
    label_names = tuple(f"c{i}" for i in range(8))
    label_names_source = "test"
    modalities = ("audio", "video")
    layout = "test"

    def __init__(self, samples: list[Sample], folds: list[Split] | None = None, split: Split | None = None) -> None:
        super().__init__("/nonexistent")
        self._samples, self._folds, self._split = samples, folds, split

    def samples(self) -> list[Sample]:
        return self._samples

    def official_folds(self) -> list[Split]:
        return self._folds if self._folds is not None else super().official_folds()

    def official_split(self) -> Split:
        return self._split if self._split is not None else super().official_split()


class Regression(Ravdess):
    task = "regression"


ADAPTER = Ravdess(SAMPLES)


def subjects_of(ids: tuple[str, ...]) -> set[str]:
    return {BY_ID[i].subject for i in ids}


def groups_of(ids: tuple[str, ...]) -> set[str]:
    return {BY_ID[i].group_key for i in ids}


def in_sample_order(ids: tuple[str, ...], samples: list[Sample] = SAMPLES) -> bool:
    position = {s.id: n for n, s in enumerate(samples)}
    return list(ids) == sorted(ids, key=position.__getitem__)


# ------------------------------------------------------------------------------ schemes


def test_scheme_names() -> None:
    assert set(SCHEMES) == {"official_folds", "official", "stratified_kfold", "subject_kfold", "subject_holdout", "ratio_cv",
                            "stratified_holdout"}


def test_subject_kfold_ten_folds_partition_subjects() -> None:
    splits = make_splits({"scheme": "subject_kfold", "k": 10, "seed": 0}, SAMPLES, ADAPTER)
    assert [s.name for s in splits] == [f"fold{i}" for i in range(1, 11)]
    # 24 subjects in 10 chunks: np.array_split gives four chunks of 3, six of 2
    assert [len(subjects_of(s.test)) for s in splits] == [3, 3, 3, 3, 2, 2, 2, 2, 2, 2]
    tested = Counter(subject for s in splits for subject in subjects_of(s.test))
    assert set(tested) == set(ACTORS) and set(tested.values()) == {1}
    for s in splits:
        assert not subjects_of(s.train) & subjects_of(s.test)
        assert len(s.train) + len(s.test) == len(SAMPLES)
        assert len(s.test) == 120 * len(subjects_of(s.test))
        assert s.val == ()
        assert in_sample_order(s.train) and in_sample_order(s.test)


def test_subject_kfold_unseeded_uses_natural_order() -> None:
    # subjects "1".."24", one sample each: plain string sorting would put "10" right after "1"
    samples = [Sample(f"s{a}", 0, {}, subject=str(a)) for a in range(24, 0, -1)]
    splits = make_splits({"scheme": "subject_kfold", "k": 12}, samples, Ravdess(samples))
    assert splits[0].test == ("s2", "s1")  # in the order of the samples
    assert splits[4].test == ("s10", "s9")
    assert splits[11].test == ("s24", "s23")


def test_subject_kfold_seed_follows_documented_shuffle() -> None:
    splits = make_splits({"scheme": "subject_kfold", "k": 6, "seed": 3}, SAMPLES, ADAPTER)
    order = np.random.default_rng(3).permutation(len(ACTORS))
    expected = [{ACTORS[j] for j in chunk} for chunk in np.array_split(order, 6)]
    assert [subjects_of(s.test) for s in splits] == expected


def test_subject_kfold_deterministic_and_seed_sensitive() -> None:
    cfg = {"scheme": "subject_kfold", "k": 6, "seed": 7}
    assert make_splits(cfg, SAMPLES, ADAPTER) == make_splits(dict(cfg), SAMPLES, ADAPTER)
    other = make_splits({**cfg, "seed": 8}, SAMPLES, ADAPTER)
    assert [subjects_of(s.test) for s in other] != [subjects_of(s.test) for s in make_splits(cfg, SAMPLES, ADAPTER)]


def test_subject_kfold_explicit_folds_accept_ints_and_padded_strings() -> None:
    folds = [[1, 2, 3, 4], ["5", "06", 7, 8], [9, 10, 11, 12], [13, 14, 15, 16], [17, 18, 19, 20], [21, 22, 23, 24]]
    splits = make_splits({"scheme": "subject_kfold", "folds": folds}, SAMPLES, ADAPTER)
    assert len(splits) == 6
    assert subjects_of(splits[1].test) == {"05", "06", "07", "08"}
    assert subjects_of(splits[1].train) == set(ACTORS) - {"05", "06", "07", "08"}


def test_subject_kfold_explicit_folds_must_cover_the_data() -> None:
    with pytest.raises(ProtocolError, match=r"2 dataset subjects are in no fold: 23, 24"):
        make_splits({"scheme": "subject_kfold", "folds": [list(range(1, 12)), list(range(12, 23))]}, SAMPLES, ADAPTER)
    with pytest.raises(DataError, match=r"split.folds\[1\]: the dataset has no subject 99"):
        make_splits({"scheme": "subject_kfold", "folds": [list(range(1, 13)), list(range(13, 25)) + [99]]}, SAMPLES, ADAPTER)


def test_subject_holdout_mpuc_code_split() -> None:
    (split,) = make_splits({"scheme": "subject_holdout", "test": [1, 4, 21], "val": [8, 9, 20]}, SAMPLES, ADAPTER)
    assert split.name == "holdout"
    assert subjects_of(split.test) == {"01", "04", "21"}
    assert subjects_of(split.val) == {"08", "09", "20"}
    assert subjects_of(split.train) == set(ACTORS) - {"01", "04", "21", "08", "09", "20"}
    # 1080 / 180 / 180 recordings, two samples each
    assert (len(groups_of(split.train)), len(groups_of(split.val)), len(groups_of(split.test))) == (1080, 180, 180)
    assert (len(split.train), len(split.val), len(split.test)) == (2160, 360, 360)
    assert in_sample_order(split.train) and in_sample_order(split.val) and in_sample_order(split.test)


def test_subject_holdout_counts_seeded() -> None:
    cfg = {"scheme": "subject_holdout", "test_count": 3, "val_count": 2, "seed": 5}
    (split,) = make_splits(cfg, SAMPLES, ADAPTER)
    assert (len(subjects_of(split.test)), len(subjects_of(split.val)), len(subjects_of(split.train))) == (3, 2, 19)
    assert (len(split.test), len(split.val), len(split.train)) == (360, 240, 2280)
    assert make_splits(cfg, SAMPLES, ADAPTER) == [split]
    (other,) = make_splits({**cfg, "seed": 6}, SAMPLES, ADAPTER)
    assert subjects_of(other.test) != subjects_of(split.test)


def test_subject_holdout_counts_must_leave_training_subjects() -> None:
    with pytest.raises(DataError, match="leaves no training subject"):
        make_splits({"scheme": "subject_holdout", "test_count": 20, "val_count": 4}, SAMPLES, ADAPTER)


def test_stratified_kfold_keeps_class_proportions_and_groups() -> None:
    splits = make_splits({"scheme": "stratified_kfold", "k": 5, "seed": 0}, SAMPLES, ADAPTER)
    assert len(splits) == 5
    whole = np.bincount([s.label for s in SAMPLES], minlength=8) / len(SAMPLES)
    tested = Counter()
    for split in splits:
        assert not groups_of(split.train) & groups_of(split.test)
        test_labels = np.bincount([BY_ID[i].label for i in split.test], minlength=8) / len(split.test)
        assert np.abs(test_labels - whole).max() < 0.01
        assert 560 <= len(split.test) <= 592  # 2880 / 5 = 576, in whole pairs
        assert subjects_of(split.train) & subjects_of(split.test)  # actors shared by design
        tested.update(split.test)
    assert set(tested) == set(BY_ID) and set(tested.values()) == {1}


def test_stratified_kfold_matches_sklearn() -> None:
    splits = make_splits({"scheme": "stratified_kfold", "k": 4, "seed": 11}, SAMPLES, ADAPTER)
    ids = np.array([s.id for s in SAMPLES])
    reference = StratifiedGroupKFold(n_splits=4, shuffle=True, random_state=11).split(
        np.zeros(len(SAMPLES)), [s.label for s in SAMPLES], [s.group_key for s in SAMPLES]
    )
    for split, (train, test) in zip(splits, reference, strict=True):
        assert split.train == tuple(ids[train]) and split.test == tuple(ids[test])


def test_stratified_kfold_seed_default_and_sensitivity() -> None:
    samples = ravdess_like(ACTORS[:4])
    base = make_splits({"scheme": "stratified_kfold", "k": 3}, samples, ADAPTER)
    assert base == make_splits({"scheme": "stratified_kfold", "k": 3, "seed": 0}, samples, ADAPTER)
    assert base != make_splits({"scheme": "stratified_kfold", "k": 3, "seed": 1}, samples, ADAPTER)


def test_stratified_kfold_regression_uses_shuffled_group_kfold() -> None:
    samples = [Sample(s.id, (float(s.label), -float(s.label)), {}, s.subject, s.group) for s in SAMPLES]
    adapter = Regression(samples)
    splits = make_splits({"scheme": "stratified_kfold", "k": 5, "seed": 2}, samples, adapter)
    ids = np.array([s.id for s in samples])
    reference = GroupKFold(n_splits=5, shuffle=True, random_state=2).split(
        np.zeros(len(samples)), groups=[s.group_key for s in samples]
    )
    for split, (train, test) in zip(splits, reference, strict=True):
        assert split.train == tuple(ids[train]) and split.test == tuple(ids[test])
        assert not groups_of(split.train) & groups_of(split.test)
    assert splits != make_splits({"scheme": "stratified_kfold", "k": 5, "seed": 3}, samples, adapter)


def test_stratified_kfold_needs_labels_and_enough_groups() -> None:
    unlabelled = [Sample("x", None, {}, "1"), *SAMPLES[:10]]
    with pytest.raises(DataError, match="1 samples have none: x"):
        make_splits({"scheme": "stratified_kfold", "k": 2}, unlabelled, ADAPTER)
    with pytest.raises(DataError, match="needs at least 5 groups; the samples have 3"):
        make_splits({"scheme": "stratified_kfold", "k": 5}, SAMPLES[:6], ADAPTER)


def test_ratio_cv_five_to_one_by_group() -> None:
    splits = make_splits({"scheme": "ratio_cv", "ratio": [5, 1], "folds": 3, "seed": 0}, SAMPLES, ADAPTER)
    assert [s.name for s in splits] == ["fold1", "fold2", "fold3"]
    for split in splits:
        assert len(groups_of(split.test)) == 240 and len(groups_of(split.train)) == 1200  # 1440 groups at 5:1
        assert (len(split.train), len(split.test)) == (2400, 480)
        assert not groups_of(split.train) & groups_of(split.test)
    assert len({s.test for s in splits}) == 3  # independent partitions
    # a fold does not depend on how many are asked for
    assert make_splits({"scheme": "ratio_cv", "ratio": [5, 1], "folds": 1, "seed": 0}, SAMPLES, ADAPTER) == splits[:1]
    assert splits != make_splits({"scheme": "ratio_cv", "ratio": [5, 1], "folds": 3, "seed": 1}, SAMPLES, ADAPTER)


def test_ratio_cv_by_subject_is_subject_disjoint() -> None:
    splits = make_splits({"scheme": "ratio_cv", "ratio": [5, 1], "folds": 2, "by": "subject"}, SAMPLES, ADAPTER)
    for split in splits:
        assert len(subjects_of(split.test)) == 4  # 24 * 1/6
        assert not subjects_of(split.train) & subjects_of(split.test)


@pytest.mark.parametrize(("n_groups", "n_test"), [(3, 1), (9, 2), (15, 2), (10, 2)])
def test_ratio_cv_test_count_rounding(n_groups: int, n_test: int) -> None:
    # max(1, round(n / 6)): 0.5 -> 1 (by the floor of 1), 1.5 -> 2, 2.5 -> 2 (half to even), 1.67 -> 2
    samples = [Sample(f"s{i}", 0, {}, group=f"g{i}") for i in range(n_groups)]
    (split,) = make_splits({"scheme": "ratio_cv", "ratio": [5, 1], "folds": 1}, samples, ADAPTER)
    assert len(split.test) == n_test and len(split.train) == n_groups - n_test


def official_folds(samples: list[Sample], k: int) -> list[Split]:
    """k folds by actor, ids listed in reverse so that reordering is visible."""
    chunks = np.array_split(np.array(ACTORS), k)
    folds = []
    for i, chunk in enumerate(chunks):
        test = tuple(s.id for s in reversed(samples) if s.subject in chunk)
        train = tuple(s.id for s in reversed(samples) if s.subject not in chunk)
        folds.append(Split(f"set_{i}", train, test))
    return folds


def test_official_folds() -> None:
    adapter = Ravdess(SAMPLES, folds=official_folds(SAMPLES, 5))
    splits = make_splits({"scheme": "official_folds", "folds": 5}, SAMPLES, adapter)
    assert [s.name for s in splits] == [f"fold{i}" for i in range(1, 6)]
    for split, official in zip(splits, adapter.official_folds(), strict=True):
        assert set(split.test) == set(official.test) and set(split.train) == set(official.train)
        assert in_sample_order(split.train) and in_sample_order(split.test)


def test_official_folds_count_mismatch_names_both_counts() -> None:
    adapter = Ravdess(SAMPLES, folds=official_folds(SAMPLES, 4))
    with pytest.raises(ProtocolError, match=r"expects 5 official folds but dataset 'ravdess_test' defines 4"):
        make_splits({"scheme": "official_folds", "folds": 5}, SAMPLES, adapter)


def test_official_split_and_missing_official_split() -> None:
    split = Split("whatever", tuple(s.id for s in SAMPLES[240:]), tuple(s.id for s in SAMPLES[:120]),
                  tuple(s.id for s in SAMPLES[120:240]))
    (made,) = make_splits({"scheme": "official"}, SAMPLES, Ravdess(SAMPLES, split=split))
    assert made == Split("official", split.train, split.test, split.val)
    with pytest.raises(ProtocolError, match="already has a validation side"):
        make_splits({"scheme": "official", "val": {"fraction": 0.1}}, SAMPLES, Ravdess(SAMPLES, split=split))
    with pytest.raises(ProtocolError, match="defines no official train/val/test split"):
        make_splits({"scheme": "official"}, SAMPLES, ADAPTER)


def test_official_split_with_unknown_id_is_a_data_error() -> None:
    split = Split("x", tuple(s.id for s in SAMPLES[120:]) + ("ghost",), tuple(s.id for s in SAMPLES[:120]))
    with pytest.raises(DataError, match=r"split 'official': 1 train ids are not among the samples: ghost"):
        make_splits({"scheme": "official"}, SAMPLES, Ravdess(SAMPLES, split=split))


def test_duplicate_sample_ids_are_refused() -> None:
    with pytest.raises(DataError, match="occurs twice"):
        make_splits({"scheme": "subject_kfold", "k": 2}, SAMPLES + SAMPLES[:1], ADAPTER)


# ---------------------------------------------------------------------------- val carving


def test_val_carving_takes_whole_subjects_from_train_only() -> None:
    cfg = {"scheme": "subject_kfold", "k": 6, "seed": 1}
    plain = make_splits(cfg, SAMPLES, ADAPTER)
    carved = make_splits({**cfg, "val": {"fraction": 0.2, "seed": 4}}, SAMPLES, ADAPTER)
    for before, after in zip(plain, carved, strict=True):
        assert after.test == before.test
        assert len(subjects_of(after.val)) == 4  # round(20 * 0.2)
        assert set(after.train) | set(after.val) == set(before.train)
        assert not subjects_of(after.val) & (subjects_of(after.train) | subjects_of(after.test))
        assert in_sample_order(after.val) and in_sample_order(after.train)
    assert carved == make_splits({**cfg, "val": {"fraction": 0.2, "seed": 4}}, SAMPLES, ADAPTER)
    assert carved != make_splits({**cfg, "val": {"fraction": 0.2, "seed": 5}}, SAMPLES, ADAPTER)


def test_val_carving_by_group_on_shared_subjects() -> None:
    splits = make_splits({"scheme": "stratified_kfold", "k": 5, "val": {"fraction": 0.1}}, SAMPLES, ADAPTER)
    for split in splits:
        assert not set(split.val) & set(split.test)
        assert not groups_of(split.val) & (groups_of(split.train) | groups_of(split.test))
        n_train_groups = len(groups_of(split.train)) + len(groups_of(split.val))
        assert len(groups_of(split.val)) == round(n_train_groups * 0.1)


def test_val_carving_needs_a_subject_left_for_training() -> None:
    samples = ravdess_like(ACTORS[:3])
    with pytest.raises(DataError, match="cannot move 1 of the 1 subjects"):
        make_splits({"scheme": "subject_holdout", "test": [1, 2], "val": {"fraction": 0.5}}, samples, Ravdess(samples))


# ------------------------------------------------------------------------------- leakage


TINY = {
    s.id: s
    for s in [
        Sample("a1", 0, {}, "1", "g1"),
        Sample("a2", 0, {}, "1", "g1"),
        Sample("b1", 1, {}, "2", "g2"),
        Sample("c1", 1, {}, "3", "g3"),
        Sample("d1", 0, {}, "4", "g4"),
        Sample("n1", 0, {}),
    ]
}


def test_clean_split_passes() -> None:
    assert_no_leakage(Split("ok", ("a1", "a2", "b1"), ("c1",), ("d1",)), TINY, "disjoint")


@pytest.mark.parametrize(
    ("split", "subjects", "error", "message"),
    [
        (Split("f", ("a1", "zz"), ("c1",)), "shared", DataError, r"split 'f': 1 train ids are not among the samples: zz"),
        (Split("f", ("a1", "a1"), ("c1",)), "shared", LeakageError, r"1 ids occur twice or more on the train side: a1"),
        (Split("f", (), ("c1",)), "shared", LeakageError, r"split 'f': the train side is empty"),
        (Split("f", ("a1",), ()), "shared", LeakageError, r"split 'f': the test side is empty"),
        (Split("f", ("a1",), ("c1", "d1"), ("d1", "c1")), "shared", LeakageError,
         r"split 'f': the validation split equals the test split \(2 ids\)"),
        (Split("f", ("a1", "c1"), ("c1",)), "shared", LeakageError, r"split 'f': 1 ids on both train and test: c1"),
        (Split("f", ("a1", "b1"), ("c1",), ("b1",)), "shared", LeakageError, r"1 ids on both train and val: b1"),
        (Split("f", ("a1",), ("a2",)), "shared", LeakageError, r"split 'f': 1 groups on both train and test: g1"),
        (Split("f", ("b1",), ("c1", "a2"), ("a1",)), "shared", LeakageError, r"1 groups on both val and test: g1"),
        (Split("f", ("a1", "n1"), ("c1",)), "disjoint", DataError, r"split 'f': 1 samples have no subject.*: n1"),
    ],
)
def test_each_leakage_assertion_fires(split: Split, subjects: str, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        assert_no_leakage(split, TINY, subjects)


def test_subject_on_two_sides_only_matters_when_disjoint() -> None:
    samples = {s.id: s for s in [Sample("x", 0, {}, "7", "gx"), Sample("y", 0, {}, "7", "gy"), *TINY.values()]}
    split = Split("f", ("x", "b1"), ("y", "c1"))
    assert_no_leakage(split, samples, "shared")
    assert_no_leakage(split, samples, "unknown")
    with pytest.raises(LeakageError, match=r"split 'f': 1 subjects on both train and test: 7"):
        assert_no_leakage(split, samples, "disjoint")
    with pytest.raises(ValueError, match="did you mean 'disjoint'"):
        assert_no_leakage(split, samples, "disjiont")


def test_leakage_message_names_at_most_five() -> None:
    ids = tuple(f"x{i}" for i in range(8))
    samples = {i: Sample(i, 0, {}, i) for i in ids}
    with pytest.raises(LeakageError, match=r"8 ids on both train and test: x0, x1, x2, x3, x4, \.\.\. \(3 more\)$"):
        assert_no_leakage(Split("f", ids, ids), samples, "shared")


def test_make_splits_checks_subjects_when_disjoint_is_declared() -> None:
    with pytest.raises(LeakageError, match=r"split 'fold1': \d+ subjects on both train and test"):
        make_splits({"scheme": "stratified_kfold", "k": 5, "subjects": "disjoint"}, SAMPLES, ADAPTER)


# ------------------------------------------------------------------------------ validation


@pytest.mark.parametrize(
    "cfg",
    [
        {"scheme": "official_folds", "folds": 5},
        {"scheme": "official", "subjects": "unknown"},
        {"scheme": "stratified_kfold", "k": 5, "seed": 3, "val": {"fraction": 0.1, "by": "group", "seed": 2}},
        {"scheme": "subject_kfold", "k": 10, "seed": None},
        {"scheme": "subject_kfold", "folds": [[1, 2], ["03", "4"]]},
        {"scheme": "subject_holdout", "test": [1, 4, 21], "val": [8, 9, 20]},
        {"scheme": "subject_holdout", "test": [1], "val": {"fraction": 0.1}},
        {"scheme": "subject_holdout", "test_count": 3, "val_count": 3, "seed": 0},
        {"scheme": "ratio_cv", "ratio": [5, 1], "folds": 5, "seed": 0, "by": "subject"},
    ],
)
def test_valid_configs_pass(cfg: dict) -> None:
    validate_scheme(cfg, "p.yaml")


@pytest.mark.parametrize(
    ("cfg", "message"),
    [
        ({"scheme": "subject_kfodl", "k": 5},
         r"p.yaml: split.scheme: unknown split scheme 'subject_kfodl' \(did you mean 'subject_kfold'\?\); "
         r"valid: official, official_folds, ratio_cv, stratified_holdout, stratified_kfold, subject_holdout, subject_kfold"),
        ({"k": 5}, r"p.yaml: split.scheme: missing"),
        ({"scheme": "stratified_kfold", "k": 5, "sed": 1},
         r"p.yaml: split.sed: unknown stratified_kfold key 'sed' \(did you mean 'seed'\?\); "
         r"valid: k, scheme, seed, subjects, val"),
        ({"scheme": "stratified_kfold"}, r"p.yaml: split.k: missing"),
        ({"scheme": "stratified_kfold", "k": 1}, r"split.k: must be an integer >= 2, got 1"),
        ({"scheme": "stratified_kfold", "k": "5"}, r"split.k: must be an integer >= 2, got '5'"),
        ({"scheme": "stratified_kfold", "k": True}, r"split.k: must be an integer >= 2, got True"),
        ({"scheme": "stratified_kfold", "k": 5, "seed": -1}, r"split.seed: must be an integer in \[0, 2\*\*32\)"),
        ({"scheme": "official_folds"}, r"split.folds: missing"),
        ({"scheme": "official", "folds": 5}, r"split.folds: unknown official key 'folds'"),
        ({"scheme": "subject_kfold", "seed": 1}, r"split.k: give exactly one of split.k and split.folds \(missing\)"),
        ({"scheme": "subject_kfold", "k": 2, "folds": [[1], [2]]}, r"exactly one of split.k and split.folds \(both given\)"),
        ({"scheme": "subject_kfold", "folds": [[1, 2], [2, 3]]}, r"split.folds: subjects tested in more than one fold: 2"),
        ({"scheme": "subject_kfold", "folds": [[1], ["01"]]}, r"subjects tested in more than one fold: 1"),
        ({"scheme": "subject_kfold", "folds": [[1], []]}, r"split.folds\[1\]: must be a non-empty list"),
        ({"scheme": "subject_kfold", "folds": [[1], [2]], "seed": 0}, r"split.seed: only applies with split.k"),
        ({"scheme": "subject_holdout", "test": [1, 4], "val": [4, 5]}, r"split.val: subjects also listed in split.test: 4"),
        ({"scheme": "subject_holdout", "test": [1.5]}, r"split.test: subject 1.5 is not an integer or a non-empty string"),
        ({"scheme": "subject_holdout", "test": [1], "seed": 0}, r"split.seed: only applies with split.test_count"),
        ({"scheme": "subject_holdout", "test_count": 2, "val": [3]}, r"split.val: a list of val subjects only goes"),
        ({"scheme": "subject_holdout", "test_count": 2, "val_count": 1, "val": {"fraction": 0.1}},
         r"either split.val_count or a split.val mapping"),
        ({"scheme": "ratio_cv", "folds": 5}, r"split.ratio: missing"),
        ({"scheme": "ratio_cv", "ratio": [5, 0], "folds": 5}, r"split.ratio: must be \[train, test\]"),
        ({"scheme": "ratio_cv", "ratio": [5, 1]}, r"split.folds: missing"),
        ({"scheme": "ratio_cv", "ratio": [5, 1], "folds": 5, "by": "actor"}, r"split.by: must be 'group' or 'subject'"),
        ({"scheme": "official", "subjects": "disjiont"}, r"split.subjects: unknown subjects setting 'disjiont' \(did you"),
        ({"scheme": "official", "val": 0.1}, r"split.val: must be a mapping"),
        ({"scheme": "official", "val": {"fraction": 0.1, "frac": 1}}, r"split.val.frac: unknown val key 'frac'"),
        ({"scheme": "official", "val": {"by": "group"}}, r"split.val.fraction: missing"),
        ({"scheme": "official", "val": {"fraction": 1.0}}, r"split.val.fraction: must be a number in \(0, 1\), got 1.0"),
        ({"scheme": "official", "val": {"fraction": 0.1, "by": "actor"}}, r"split.val.by: must be 'subject' or 'group'"),
        ({"scheme": "subject_kfold", "k": 5, "val": {"fraction": 0.1, "by": "group"}},
         r"split.val.by: 'group' can put one subject on train and val, but split.subjects is 'disjoint'"),
        ([("scheme", "official")], r"p.yaml: split: must be a mapping"),
    ],
)
def test_validate_scheme_errors(cfg: dict, message: str) -> None:
    with pytest.raises(ProtocolError, match=message):
        validate_scheme(cfg, "p.yaml")


# ---------------------------------------------------------------------------- fingerprint


def test_fingerprint_is_sha256_of_sorted_ids_and_order_independent() -> None:
    empty = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"  # sha256 of b""
    fp = split_fingerprint(Split("f", ("b", "a"), ("c",)))
    assert fp == {"train": hashlib.sha256(b"a\nb").hexdigest(), "val": empty, "test": hashlib.sha256(b"c").hexdigest()}
    assert split_fingerprint(Split("other name", ("a", "b"), ("c",))) == fp
    assert split_fingerprint(Split("f", ("a", "c"), ("b",))) != fp


def test_fingerprint_of_made_splits_is_stable() -> None:
    cfg = {"scheme": "subject_kfold", "k": 4, "seed": 9}
    first = [split_fingerprint(s) for s in make_splits(cfg, SAMPLES, ADAPTER)]
    again = [split_fingerprint(s) for s in make_splits(cfg, list(reversed(SAMPLES)), ADAPTER)]
    assert first == again  # same folds whatever order the samples come in
    assert len({fp["test"] for fp in first}) == 4


def test_split_file_of_the_synthetic_folds_round_trips_and_refuses_other_files(tmp_path: Path) -> None:
    from bench.protocols import drawn_splits

    out = tmp_path / "synthetic_5fold.json"
    document = drawn_splits.write("synthetic_5fold", None, out)
    assert [f["sizes"] for f in document["folds"]] == [{"train": 192, "val": 0, "test": 48}] * 5
    tested = sorted(s for f in document["folds"] for s in f["subjects"]["test"])
    assert len(tested) == 10 and len(set(tested)) == 10  # subject-disjoint folds: each subject tested once
    assert drawn_splits.verify("synthetic_5fold", None, out) == []
    out.write_text('{"schema": 1, "folds": []}', encoding="utf-8")
    with pytest.raises(DataError, match=r"synthetic_5fold.json: not a split file of schema 2"):
        drawn_splits.verify("synthetic_5fold", None, out)


def test_split_file_verify_names_file_line_fold_and_group(tmp_path: Path) -> None:
    import json

    from bench.protocols import drawn_splits

    out = tmp_path / "synthetic_5fold.json"
    document = drawn_splits.write("synthetic_5fold", None, out)
    fold = document["folds"][0]
    first_group = fold["groups"]["test"][0]
    trained = fold["subjects"]["train"][0]

    def tampered(edit: Any) -> list[str]:
        copy = json.loads(json.dumps(document))
        edit(copy["folds"][0])
        path = tmp_path / "tampered.json"
        path.write_text(json.dumps(copy, indent=2, sort_keys=True))
        lines = path.read_text().splitlines()
        problems = drawn_splits.verify("synthetic_5fold", None, path)
        for problem in problems:  # every problem names the file and a line holding what it is about
            line = int(problem.split(":")[1])
            assert problem.startswith(f"{path}:") and 1 <= line <= len(lines)
        return problems

    (dup,) = tampered(lambda f: f["groups"]["test"].append(first_group))
    assert dup.endswith(f": fold1: group {first_group!r} is listed twice on the test side")
    assert json.dumps(first_group) in (tmp_path / "tampered.json").read_text().splitlines()[int(dup.split(":")[1]) - 1]
    (both,) = tampered(lambda f: f["subjects"]["test"].append(trained))
    assert both.endswith(f": fold1: subject {trained!r} is on both train and test in the file; "
                         "the folds drawn now put it on train")
    (ghost,) = tampered(lambda f: f["subjects"]["test"].append("99"))
    assert ghost.endswith(": fold1: subject '99' on the test side is not a subject of the data")
    (moved,) = tampered(lambda f: f["groups"]["test"].remove(first_group))
    assert f"fold1: the test side differs: 1 group(s) drawn there now are not in the file: {first_group} " \
           "(47 groups in the file, 48 now)" in moved


def test_a_split_naming_an_absent_subject_names_the_protocol_file(tmp_path: Path) -> None:
    from bench.protocols import drawn_splits

    protocol = tmp_path / "ghost_subject.yaml"
    protocol.write_text("name: ghost_subject\ndataset: synthetic\ntask: classification\nmodalities: [audio]\n"
                        "split: {scheme: subject_holdout, test: [99]}\nregime: {kind: supervised}\n"
                        "selection: {rule: last_epoch}\nmetrics: [uar]\nprimary: uar\n")
    with pytest.raises(DataError) as info:
        drawn_splits.write(str(protocol), None, tmp_path / "out.json")
    assert str(info.value).startswith(f"{protocol}:5: split.test: the dataset has no subject 99; it has ")
