"""Two processes never train the same cell: the second refuses with one line naming the holder;
the lock of a killed process is taken over.

Before the lock, a second identical ``bench run`` into the same ``--out`` resumed from the
first one's live checkpoint and both trained the cell.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from bench.cli import main
from bench.records import store
from bench.running import celllock, run

pytestmark = pytest.mark.usefixtures("one_thread")


def argv(data_root: Path, out: Path) -> list[str]:
    return ["run", "--method", "late_fusion", "--protocol", "synthetic_5fold", "--fold", "1", "--seed", "0",
            "--preset", "tiny", "--set", "epochs=1", "--data-root", str(data_root), "--out", str(out),
            "--cache-dir", str(out.parent / "cache"), "--no-progress"]


def record_of(data_root: Path, out: Path) -> Path:
    plan = run.make_plan(run.RunRequest(method="late_fusion", protocol="synthetic_5fold", folds=["1"], seeds=[0],
                                        preset="tiny", overrides={"epochs": 1}, data_root=data_root, out=out,
                                        progress=False))
    return store.record_path(out, "synthetic_5fold", "late_fusion", plan.config_hash, "fold1", 0)


def holder(record: Path) -> subprocess.Popen[str]:
    """Another process holding the cell's lock until it is killed."""
    code = textwrap.dedent(f"""
        import time
        from pathlib import Path
        from bench.running import celllock
        with celllock.hold(Path({str(record)!r}), "the cell"):
            print("held", flush=True)
            time.sleep(600)
    """)
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
    return proc


@pytest.mark.slow
def test_a_second_process_refuses_then_takes_over_a_dead_holders_lock(
        data_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    record = record_of(data_root, out)
    other = holder(record)
    try:
        assert main(argv(data_root, out)) == 1
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith(
            f"error: late_fusion × synthetic_5fold fold1 seed 0 is being trained by process {other.pid} on ")
        assert f"(lock {celllock.lock_path(record)})" in err[0]
        assert not record.exists() and not run.checkpoint_path(record).exists()
    finally:
        other.send_signal(signal.SIGKILL)
        other.wait()
    assert celllock.lock_path(record).is_file()  # left behind by the killed holder: stale
    assert main(argv(data_root, out)) == 0
    assert store.read(record)["fold"] == "fold1" and not celllock.lock_path(record).exists()


def test_the_lock_is_released_and_its_file_removed(tmp_path: Path) -> None:
    record = tmp_path / "cell" / "fold1-seed0.json"
    with celllock.hold(record, "cell"):
        assert celllock.lock_path(record).is_file()
        assert str(os.getpid()) in celllock.lock_path(record).read_text(encoding="utf-8")
    assert not celllock.lock_path(record).exists()
    with celllock.hold(record, "cell"):  # and can be taken again
        pass
