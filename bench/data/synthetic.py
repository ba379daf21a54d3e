"""The embedded default benchmark's adapters: the three variants of the synthetic dataset.

Each reads a root written by :func:`bench.data.synthetic_generator.generate` exactly like a
real dataset (manifest, media files, split lists), generating the default root on first use.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import ClassVar

from bench.api import CheckReport, DatasetAdapter, Label, Sample, Split, TaskKind
from bench.data.synthetic_generator import LAYOUT, _label_counts, _read_info, generate
from bench.data.synthetic_spec import (
    CLASS_NAMES,
    GENERATOR_VERSION,
    MULTILABEL_NAMES,
    NUM_FOLDS,
    VA_NAMES,
    SyntheticSpec,
    Variant,
    label_columns,
)
from bench.errors import DataError, did_you_mean
from bench.files.paths import cache_root


def _layout_error(root: Path, missing: str) -> DataError:
    return DataError(
        f"{root}: not a complete synthetic dataset ({missing}); expected the layout\n{LAYOUT}\n"
        "(generate it with bench.data.synthetic_generator.generate, or omit the root to use the default one)"
    )


def _read_id_list(path: Path, known: set[str]) -> tuple[str, ...]:
    """The ids of a split file, one per line (blank lines ignored), each known and listed once."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise DataError(f"{path}: split file missing") from None
    except (OSError, UnicodeDecodeError) as error:
        raise DataError(f"{path}: cannot read split file ({error})") from None
    seen: dict[str, int] = {}
    for number, line in enumerate(lines, start=1):
        item = line.strip()
        if not item:
            continue
        if item not in known:
            raise DataError(f"{path}:{number}: unknown sample id {item!r}{did_you_mean(item, known)}")
        if item in seen:
            raise DataError(f"{path}:{number}: sample id {item!r} repeats line {seen[item]}")
        seen[item] = number
    if not seen:
        raise DataError(f"{path}: split file lists no sample ids")
    return tuple(seen)


class _SyntheticAdapter(DatasetAdapter):
    """Reads a root written by :func:`generate` for one variant."""

    variant: ClassVar[Variant]
    modalities = ("video", "audio", "text", "landmarks")
    layout = LAYOUT
    label_names_source = "bench.data.synthetic_generator (the generator defines the names and their order)"

    def _info(self) -> dict:
        if not self.root.is_dir():
            raise _layout_error(self.root, "the folder does not exist")
        info = _read_info(self.root)
        if info is None:
            raise _layout_error(self.root, "SYNTHETIC.json missing")
        if info["spec"].get("variant") != self.variant:
            raise DataError(
                f"{self.root}: holds the {info['spec'].get('variant')!r} synthetic variant, "
                f"not {self.variant!r} (dataset {self.name!r})"
            )
        return info

    def _parse_label(self, path: Path, line: int, row: dict[str, str]) -> Label:
        if self.variant == "classification":
            name = row["label"].strip()
            if name not in CLASS_NAMES:
                raise DataError(
                    f"{path}:{line}: unknown class {name!r}{did_you_mean(name, CLASS_NAMES)}; "
                    f"valid: {', '.join(CLASS_NAMES)}"
                )
            return CLASS_NAMES.index(name)
        values = []
        for column in self.label_names:
            cell = row[column].strip()
            try:
                value = float(cell)
            except ValueError:
                value = math.nan
            if not math.isfinite(value) or (self.variant == "multilabel" and value not in (0.0, 1.0)):
                expected = "0 or 1" if self.variant == "multilabel" else "a finite number"
                raise DataError(f"{path}:{line}: column {column!r} is {cell!r}, expected {expected}")
            values.append(value)
        return tuple(values)

    def samples(self) -> list[Sample]:
        """Every clip in manifest order; labels as class index, 0/1 tuple or (valence, arousal)."""
        self._info()
        path = self.root / "manifest.csv"
        if not path.is_file():
            raise _layout_error(self.root, "manifest.csv missing")
        required = ["id", "subject", *label_columns(self.variant), "text"]
        out: list[Sample] = []
        seen: dict[str, int] = {}
        try:
            with path.open(newline="", encoding="utf-8") as handle:
                reader = csv.DictReader(handle)
                missing = [c for c in required if c not in (reader.fieldnames or [])]
                if missing:
                    raise DataError(
                        f"{path}:1: header lacks column(s) {', '.join(missing)}; expected {','.join(required)}"
                    )
                for row in reader:
                    line = reader.line_num
                    if None in row or any(v is None for v in row.values()):
                        raise DataError(f"{path}:{line}: expected {len(reader.fieldnames or [])} fields")
                    sample, subject = row["id"].strip(), row["subject"].strip()
                    if not sample or not subject:
                        raise DataError(f"{path}:{line}: empty id or subject")
                    if sample in seen:
                        raise DataError(f"{path}:{line}: id {sample!r} repeats line {seen[sample]}")
                    seen[sample] = line
                    out.append(Sample(
                        id=sample,
                        label=self._parse_label(path, line, row),
                        sources={
                            "video": self.root / "video" / f"{sample}.mp4",
                            "audio": self.root / "audio" / f"{sample}.wav",
                            "text": row["text"],
                            "landmarks": self.root / "landmarks" / f"{sample}.csv",
                        },
                        subject=subject,
                        group=sample,
                    ))
        except (OSError, UnicodeDecodeError, csv.Error) as error:
            raise DataError(f"{path}: cannot read manifest ({error})") from None
        if not out:
            raise DataError(f"{path}: manifest lists no samples")
        return out

    def _known_ids(self) -> set[str]:
        return {s.id for s in self.samples()}

    def official_folds(self) -> list[Split]:
        """The five subject-disjoint folds of ``splits/fold{k}_{train,test}.txt``."""
        known = self._known_ids()
        folder = self.root / "splits"
        return [
            Split(
                name=f"fold{k}",
                train=_read_id_list(folder / f"fold{k}_train.txt", known),
                test=_read_id_list(folder / f"fold{k}_test.txt", known),
            )
            for k in range(1, NUM_FOLDS + 1)
        ]

    def official_split(self) -> Split:
        """The subject-disjoint partition of ``splits/{train,val,test}.txt``."""
        known = self._known_ids()
        folder = self.root / "splits"
        return Split(
            name="official",
            train=_read_id_list(folder / "train.txt", known),
            val=_read_id_list(folder / "val.txt", known),
            test=_read_id_list(folder / "test.txt", known),
        )

    def check(self) -> CheckReport:
        """The base check (every file present and non-empty) plus counts against SYNTHETIC.json and the splits."""
        info = self._info()
        base = super().check()
        samples = self.samples()
        problems = list(base.problems)
        expected = info["counts"]
        subjects = {s.subject for s in samples}
        manifest = self.root / "manifest.csv"
        if len(samples) != expected.get("clips"):
            problems.append(f"{manifest}: {len(samples)} samples, SYNTHETIC.json says {expected.get('clips')}")
        if len(subjects) != expected.get("subjects"):
            problems.append(f"{manifest}: {len(subjects)} subjects, SYNTHETIC.json says {expected.get('subjects')}")
        if _label_counts(self.variant, [s.label for s in samples]) != expected.get("labels"):
            problems.append(f"{manifest}: label counts differ from SYNTHETIC.json's {expected.get('labels')}")
        for load in (self.official_folds, self.official_split):
            try:
                load()
            except DataError as error:
                problems.append(str(error))
        counts = {"samples": len(samples), "subjects": len(subjects), "folds": NUM_FOLDS}
        return CheckReport(self.name, self.root, counts, tuple(problems))

    @classmethod
    def default_spec(cls) -> SyntheticSpec:
        """The spec of the built-in benchmark for this variant."""
        return SyntheticSpec(variant=cls.variant)

    @classmethod
    def default_root(cls) -> Path:
        """``cache_root()/synthetic/<variant>-v<version>-<spec hash>``, generated there when missing."""
        spec = cls.default_spec()
        root = cache_root() / "synthetic" / f"{spec.variant}-v{GENERATOR_VERSION}-{spec.digest()}"
        return generate(root, spec)


class SyntheticClassification(_SyntheticAdapter):
    """Synthetic 4-class emotion classification (neutral, happy, sad, angry)."""

    name = "synthetic"
    task: ClassVar[TaskKind] = "classification"
    variant = "classification"
    label_names = CLASS_NAMES


class SyntheticMultilabel(_SyntheticAdapter):
    """Synthetic 6-label emotion presence in CMU-MOSEI's label order."""

    name = "synthetic_multilabel"
    task: ClassVar[TaskKind] = "multilabel"
    variant = "multilabel"
    label_names = MULTILABEL_NAMES


class SyntheticValenceArousal(_SyntheticAdapter):
    """Synthetic valence/arousal regression, both in [-1, 1]."""

    name = "synthetic_va"
    task: ClassVar[TaskKind] = "regression"
    variant = "va"
    label_names = VA_NAMES
