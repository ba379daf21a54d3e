"""The contracts between the harness and its plugins.

Three things plug into bench: a :class:`Method` (a model family and how it trains), a
:class:`DatasetAdapter` (a dataset as it ships on disk) and a protocol (YAML data, see
:mod:`bench.protocols`). The harness never imports a method by name and a method never
parses YAML, opens the test split or writes records: the runner (:mod:`bench.running.run`) does.

Batches given to a method's LightningModule are dicts: one float32 tensor per modality
(shapes announced in ``shapes`` at build time), ``"label"`` (absent while labels are hidden
in a pretraining stage) and ``"index"`` (the sample's position in its split).
``predict_step`` must return one row per sample: class logits (classification), label
logits (multilabel, a logit > 0 means present) or values (regression, one column per axis).

Where preprocessing and metrics live — one rule: in the harness. Every input a method reads
is a named, versioned transform of :mod:`bench.data` (``Method.inputs`` names it with its
parameters) and every number a protocol reports is a named metric of :mod:`bench.metrics`,
even when one paper introduced it (``audio_logmel_mpuc``, ``audio_fbank_audiomae``,
``ccc_avce``): the cross-paper matrix runs every method under every protocol, so each must
be reachable without importing another method. A transform that still lives in a method
package is declared in ``Method.transforms`` and registered when the method is resolved,
never by importing a module for its side effect.
"""

from __future__ import annotations

import abc
import dataclasses
import hashlib
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar, Literal

TaskKind = Literal["classification", "multilabel", "regression"]
TASK_KINDS: tuple[str, ...] = ("classification", "multilabel", "regression")
MODALITIES: tuple[str, ...] = ("video", "audio", "text", "landmarks")
REGIMES: tuple[str, ...] = ("supervised", "pretrain", "linear_eval", "finetune")

Label = int | tuple[float, ...]


@dataclasses.dataclass(frozen=True)
class TaskSpec:
    """What is predicted: the kind, the label names in their source order, and weights.

    ``label_names`` are the class names (classification), the label names (multilabel)
    or the axis names (regression, e.g. ``("valence", "arousal")``), in the index order of
    the dataset's labels. ``class_weights`` are per-class loss weights (CE ``weight`` or
    BCE ``pos_weight``) when a protocol or paper fixes them.
    """

    kind: TaskKind
    label_names: tuple[str, ...]
    class_weights: tuple[float, ...] | None = None
    default_metrics: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.kind not in TASK_KINDS:
            raise ValueError(f"task kind {self.kind!r} is not one of {TASK_KINDS}")
        if not self.label_names:
            raise ValueError("a task needs at least one label name")
        if self.class_weights is not None and len(self.class_weights) != len(self.label_names):
            raise ValueError("class_weights must have one entry per label name")

    @property
    def num_outputs(self) -> int:
        """Width of a model's output row."""
        return len(self.label_names)

    @property
    def label_shape(self) -> tuple[int, ...]:
        """Shape of one sample's label: ``()`` for a class index, ``(L,)`` otherwise."""
        return () if self.kind == "classification" else (len(self.label_names),)


@dataclasses.dataclass(frozen=True)
class Sample:
    """One labelled (or unlabelled) item of a dataset.

    ``sources`` maps a modality to a :class:`~pathlib.Path` of the file it is read from,
    or to a ``str`` holding the content itself (an utterance for ``text``).
    ``group`` names the unit that must never straddle a split (a recording whose
    audio-only and audio-visual copies are two samples, the video of frame-level samples);
    it defaults to the sample id. ``subject`` is the person, where known.
    """

    id: str
    label: Label | None
    sources: Mapping[str, Path | str]
    subject: str | None = None
    group: str | None = None
    meta: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def group_key(self) -> str:
        """The group this sample belongs to (its own id when no group is set)."""
        return self.group if self.group is not None else self.id


@dataclasses.dataclass(frozen=True)
class Split:
    """One fold of a protocol: sample ids on each side, in a stable order."""

    name: str
    train: tuple[str, ...]
    test: tuple[str, ...]
    val: tuple[str, ...] = ()


def ids_fingerprint(ids: Iterable[str]) -> str:
    """The sha256 hex digest of the ids, sorted and joined by newlines: one side of a split as run
    records store it (independent of order; no ids hash the empty string)."""
    return hashlib.sha256("\n".join(sorted(ids)).encode()).hexdigest()


@dataclasses.dataclass(frozen=True)
class CheckReport:
    """What ``bench prepare DATASET --check`` found: counts and every problem, by file."""

    dataset: str
    root: Path
    counts: Mapping[str, int]
    problems: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.problems


class DatasetAdapter(abc.ABC):
    """A dataset in the layout it ships in.

    Subclasses set the class attributes and implement :meth:`samples`; they override
    :meth:`official_folds` / :meth:`official_split` where the dataset defines them.
    """

    name: ClassVar[str]
    task: ClassVar[TaskKind]
    label_names: ClassVar[tuple[str, ...]]
    label_names_source: ClassVar[str]
    modalities: ClassVar[tuple[str, ...]]
    layout: ClassVar[str]

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    @abc.abstractmethod
    def samples(self) -> list[Sample]:
        """Every sample of the dataset, in a stable order."""

    video_face_crops: ClassVar[bool] = False
    """True when the dataset's video sources are face crops (DFEW's face-frame folders): ``bench
    predict`` then finds the faces of a raw video with MTCNN before a frame transform reads it."""

    def official_folds(self) -> list[Split]:
        """The dataset's own k folds (train/test), where it defines them."""
        from bench.errors import ProtocolError

        raise ProtocolError(f"dataset {self.name!r} defines no official folds")

    def official_split(self) -> Split:
        """The dataset's own train/val/test partition, where it defines one."""
        from bench.errors import ProtocolError

        raise ProtocolError(f"dataset {self.name!r} defines no official train/val/test split")

    def expected_samples(self) -> list[Sample] | None:
        """The samples of the complete dataset (ids, labels, subjects; no sources), where it is defined.

        A run compares the copy with them and refuses an incomplete one (:mod:`bench.running.completeness`);
        None (the default) when the adapter cannot tell.
        """
        return None

    def task_spec(self) -> TaskSpec:
        """The task this dataset's labels define."""
        return TaskSpec(kind=self.task, label_names=self.label_names)

    def check(self) -> CheckReport:
        """Verify that every listed source file exists and is non-empty."""
        problems = []
        samples = self.samples()
        for sample in samples:
            for modality, source in sample.sources.items():
                if isinstance(source, Path) and source.is_symlink() and not source.exists():
                    problems.append(f"{source}: {modality} file of sample {sample.id} is a symbolic link that leads "
                                    "nowhere or loops back to itself")
                elif isinstance(source, Path) and (not source.is_file() or source.stat().st_size == 0):
                    problems.append(f"{source}: missing or empty {modality} file of sample {sample.id}")
        return CheckReport(self.name, self.root, {"samples": len(samples)}, tuple(problems))

    @classmethod
    def default_root(cls) -> Path | None:
        """A root to use when the user gives none (only the built-in synthetic data has one)."""
        return None


@dataclasses.dataclass(frozen=True)
class TransformSpec:
    """A preprocessing variant a method asks for: a registered transform name and its parameters."""

    name: str
    params: Mapping[str, Any] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class Stage:
    """One ``Trainer.fit`` of a regime: its name, length, batch size, whether labels are seen,
    whether the last, smaller training batch of an epoch is dropped (``drop_last``) and how the
    training set is drawn.

    ``sampler``: ``shuffle`` = each epoch a permutation of the training set; ``class_balanced``
    = as many draws with replacement, each sample weighted by 1 / (its class's count), so every
    class is drawn equally often on average (a labelled stage only; multilabel: the sum of
    1 / count over the sample's labels, a sample without any counted under one more label).

    ``patience`` (last stage only): the method's own early-stopping patience in place of the
    protocol's ``selection.patience`` (a protocol that selects by best_val or best_test; the
    record's ``selection.patience`` says which was used); None keeps the protocol's.
    """

    name: str
    epochs: int
    batch_size: int
    labels: bool = True
    drop_last: bool = False
    sampler: Literal["shuffle", "class_balanced"] = "shuffle"
    patience: int | None = None


@dataclasses.dataclass(frozen=True)
class ResourceHints:
    """What one cell of this method needs on a cluster (merged into SLURM profiles)."""

    gpus: int = 0
    cpus: int = 2
    mem_gb: int = 8
    time_min: int = 60


class Method(abc.ABC):
    """A method family: what it consumes, its configuration and how to build its model.

    ``Config`` is a frozen dataclass whose defaults are the paper's values; ``presets`` maps
    a preset name to overrides of those defaults (``paper`` is always the empty override;
    ``code`` by convention takes the official code's side of every switch) or, as a string, to
    the name of another preset it is an alias of (:func:`bench.config.preset_name`).
    Paper-vs-official-code differences are Config fields, documented on both sides.
    """

    name: ClassVar[str]
    paper: ClassVar[str]
    modalities: ClassVar[tuple[str, ...]]
    min_modalities: ClassVar[int] = 1
    tasks: ClassVar[tuple[str, ...]]
    regimes: ClassVar[tuple[str, ...]]
    Config: ClassVar[type]
    presets: ClassVar[Mapping[str, Mapping[str, Any] | str]] = {"paper": {}}
    resources: ClassVar[ResourceHints] = ResourceHints()
    transforms: ClassVar[tuple[type, ...]] = ()
    """Transform classes (:class:`bench.data.transforms.Transform`) this method brings and
    :meth:`inputs` names, registered when the method is resolved (see the rule above: the
    harness is their place; this is for those not moved there yet)."""

    @abc.abstractmethod
    def inputs(self, cfg: Any, modalities: Sequence[str]) -> dict[str, TransformSpec]:
        """The preprocessing each used modality needs under ``cfg``."""

    def stages(self, cfg: Any, regime: str, pretrain: bool) -> list[Stage]:
        """The fits a regime consists of, in order; the default is one labelled fit.

        Methods with a ``pretrain`` regime override this to return the unlabelled pretraining
        stage first (``labels=False``) and then the ``linear_eval`` or ``finetune`` stage.
        """
        return [Stage(regime, int(cfg.epochs), int(cfg.batch_size), labels=True)]

    def selector(self, cfg: Any, task: TaskSpec, validation: Any) -> Any:
        """The method's own model selection for the last stage, in place of the protocol's rule, or
        None (the default: the protocol's). It is a Lightning callback with ``restore(module) ->
        int`` (leave the chosen weights in the module, return the chosen 0-based epoch) and
        ``describe() -> dict`` (the record's ``selection``: rule, metric, on_test, patience);
        ``validation(module)`` returns the validation side's outputs and targets (None: no
        validation side)."""
        return None

    @abc.abstractmethod
    def build(self, task: TaskSpec, cfg: Any, shapes: Mapping[str, tuple[int, ...]]) -> Any:
        """Return a ``lightning.LightningModule`` for ``task`` on inputs of ``shapes``.

        Besides Lightning's ``training_step``/``configure_optimizers`` and ``predict_step``
        (one output row per sample, see above), the module may define the members declared
        in :class:`ModuleHooks`; the runner uses their defaults otherwise.
        """

    def load_released(self, module: Any, path: Path) -> str:
        """Load a checkpoint in the official released layout of this method into ``module`` (built
        by :meth:`build`; every tensor of the model) and return the file's sha256; a file of
        another layout is a ``DataError`` of one line naming the first tensor that does not fit.
        Overridden only by methods whose authors release checkpoints (``--regime evaluate``)."""
        raise NotImplementedError(f"method {self.name!r} has no released-checkpoint layout")


class ModuleHooks:
    """The optional members of a method's module that the runner uses, with their defaults.

    A module need not inherit from this class: the runner reads every member through
    :func:`module_hook`, which falls back to the default declared here. These are all the
    runner asks of a module beyond Lightning's own hooks.
    """

    wants_unlabelled: bool = False
    """True for a transductive method: before the first fit, the runner hands it the
    validation and test inputs without their labels (:meth:`attach_unlabelled`), and the
    record's ``data.transductive`` says so."""

    weights_provenance: Mapping[str, str] = {"all": "random-init"}
    """Per backbone, where its initial weights came from (``random-init``, or the sha256 of the
    file read); read once training is over, into the record's ``weights``."""

    pretrained_tensors: frozenset[str] = frozenset()
    """The ``state_dict`` keys whose values were read from a pretrained file (named by sha256 in
    ``weights_provenance``) and never trained: left out of the cell's kept weights, which the
    same configuration rebuilds from those files."""

    def attach_unlabelled(self, loaders: Sequence[Any]) -> None:
        """Receive ``[validation loader, test loader]``, both without labels; called only
        when :attr:`wants_unlabelled` is true, so a module that sets it must define this."""
        raise NotImplementedError("a module with wants_unlabelled = True must define attach_unlabelled(loaders)")

    evaluates_by_iteration: bool = False
    """True for a module with its own evaluation cadence (AVCE's code: every 250 iterations and at
    iteration 50): the protocol's best_val / best_test rule then evaluates after exactly the
    training steps for which :meth:`evaluation_due` is true, never at an epoch's end."""

    def evaluation_due(self) -> bool:
        """Whether the training step just taken ends an iteration the selection rule evaluates after
        (read only when :attr:`evaluates_by_iteration` is true)."""
        return False

    def start_stage(self, name: str) -> None:
        """Called before each stage's fit with the stage's name (see :meth:`Method.stages`)."""


_HOOK_DEFAULTS = ModuleHooks()


def module_hook(module: Any, name: str) -> Any:
    """The module's member ``name`` (one of :class:`ModuleHooks`'), or its declared default."""
    if not hasattr(ModuleHooks, name) or name.startswith("_"):
        raise AttributeError(f"{name!r} is not a member of the module contract (bench.api.ModuleHooks)")
    return getattr(module, name) if hasattr(module, name) else getattr(_HOOK_DEFAULTS, name)
