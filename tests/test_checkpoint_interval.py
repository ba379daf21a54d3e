"""How often a training cell is checkpointed: ``$BENCH_CHECKPOINT_EVERY_S`` seconds at least between two
saves (30 by default, 0 after every epoch), a bad value refused in one line before any data is read."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import lightning as L
import pytest

from bench import cli
from bench.data.cache import Cache
from bench.data.prepare import prepare
from bench.errors import ConfigError
from bench.running import training, values
from bench.running.planning import RunRequest, make_plan

pytestmark = pytest.mark.usefixtures("one_thread")

EPOCHS = 3


@pytest.mark.parametrize(("text", "seconds"), [(None, 30.0), ("", 30.0), ("0", 0.0), ("12.5", 12.5), (" 60 ", 60.0)])
def test_the_interval_is_read_from_the_environment(text: str | None, seconds: float,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    if text is None:
        monkeypatch.delenv(values.CHECKPOINT_EVERY_VARIABLE, raising=False)
    else:
        monkeypatch.setenv(values.CHECKPOINT_EVERY_VARIABLE, text)
    assert values.checkpoint_every_s() == seconds


@pytest.mark.parametrize("text", ["-1", "soon", "nan", "inf", "1e400"])
def test_a_bad_interval_is_one_line_before_any_data_is_read(text: str, monkeypatch: pytest.MonkeyPatch,
                                                            tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                                            ) -> None:
    monkeypatch.setenv(values.CHECKPOINT_EVERY_VARIABLE, text)
    with pytest.raises(ConfigError, match=r"^BENCH_CHECKPOINT_EVERY_S=.*: expected a number of seconds >= 0"):
        values.checkpoint_every_s()
    code = cli.main(["run", "--method", "late_fusion", "--protocol", "synthetic_5fold", "--preset", "tiny",
                     "--data-root", str(tmp_path / "no-data"), "--out", str(tmp_path / "out"),
                     "--cache-dir", str(tmp_path / "cache"), "--no-progress"])
    lines = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith(f"error: BENCH_CHECKPOINT_EVERY_S={text!r}"), lines
    assert not (tmp_path / "out").exists() and not (tmp_path / "cache").exists()


@pytest.fixture(scope="module")
def train(tmp_path_factory: pytest.TempPathFactory) -> Callable[[Path], None]:
    """A 3-epoch late_fusion (tiny) training of fold 1 of synthetic_5fold, checkpointing to the path given."""
    cache = tmp_path_factory.mktemp("cache")
    plan = make_plan(RunRequest("late_fusion", "synthetic_5fold", folds=["1"], seeds=[0], preset="tiny",
                                overrides={"epochs": EPOCHS}, progress=False, cache_root=cache))
    split = plan.folds[0]
    used = [s for s in plan.samples if s.id in {*split.train, *split.val, *split.test}]
    prepared = prepare(used, plan.method.inputs(plan.cfg, plan.modalities), Cache(cache), progress=False)
    by_id = {s.id: s for s in used}
    position = {sid: i for i, sid in enumerate(prepared.ids)}
    index = {side: [position[i] for i in getattr(split, side)] for side in ("train", "val", "test")}

    def fit(checkpoint: Path) -> None:
        L.seed_everything(0, verbose=False)
        module = plan.method.build(plan.task, plan.cfg, prepared.shapes)
        test = training.TestSplit(prepared, index["test"], split.name, [by_id[i] for i in split.test], plan.task)
        training.fit(plan, plan.cell_key(split.name, 0), module, prepared,
                     training.CellLabels.of(by_id, split.train, split.val, plan.task), index, test, None, checkpoint)

    return fit


@pytest.mark.parametrize(("seconds", "saved_after"), [("0", list(range(EPOCHS))), ("3600", [])])
def test_zero_saves_after_every_epoch_and_a_long_interval_saves_none(
        seconds: str, saved_after: list[int], train: Callable[[Path], None], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    saved: list[int] = []
    save = L.Trainer.save_checkpoint

    def counted(trainer: L.Trainer, *args: object, **kwargs: object) -> None:
        saved.append(trainer.current_epoch)
        save(trainer, *args, **kwargs)

    monkeypatch.setattr(L.Trainer, "save_checkpoint", counted)
    monkeypatch.setenv(values.CHECKPOINT_EVERY_VARIABLE, seconds)  # 3600: the cell trains for a second or two
    train(tmp_path / "cell.ckpt")
    assert saved == saved_after
    state = training.checkpoint_state(tmp_path / "cell.ckpt")
    assert (state is None) == (not saved_after)
    assert state is None or state["epoch"] == EPOCHS - 1
