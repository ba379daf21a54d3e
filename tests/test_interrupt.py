"""Ctrl-C and SIGKILL of a real ``bench run`` process.

Ctrl-C ends with exit 130 and one last line naming the cell, the epoch it stopped after, the
checkpoint kept and the command that resumes it — through a pipe with ``--no-progress`` and on
a terminal with progress bars (Lightning turns the KeyboardInterrupt of a fit into ``exit(1)``,
which is why the message never appeared before). A run killed with SIGKILL at random epochs
leaves no record, and its resume ends with exactly the record of an uninterrupted run.
"""

from __future__ import annotations

import os
import pty
import re
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest


def command(data_root: Path, out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "bench.cli", "run", "--method", "late_fusion", "--protocol", "synthetic_5fold",
            "--fold", "1", "--seed", "0", "--preset", "tiny", "--data-root", str(data_root), "--out", str(out),
            "--cache-dir", str(out.parent / "cache"), *extra]


def checkpoint_of(out: Path) -> Path:
    found = list(out.rglob("fold1-seed0.ckpt"))
    return found[0] if found else out / "none.ckpt"


def start(cmd: list[str], **kw: object) -> subprocess.Popen[bytes]:
    # SIGINT back to its default in the child: a test session started in the background inherits
    # SIGINT ignored, and Python then never raises KeyboardInterrupt
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.Popen(cmd, env=env, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL), **kw)


def interrupt_after_first_checkpoint(proc: subprocess.Popen[bytes], out: Path) -> None:
    deadline = time.monotonic() + 180
    while not checkpoint_of(out).is_file() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.2)
    assert checkpoint_of(out).is_file() and proc.poll() is None, "no epoch finished"
    proc.send_signal(signal.SIGINT)


LINE = (r"^interrupted: late_fusion × synthetic_5fold fold1 seed 0 stopped after (\d+) finished epoch\(s\) of stage \w+; "
        r"its checkpoint (\S+fold1-seed0\.ckpt) is kept; resume with: bench run --method late_fusion "
        r"--protocol synthetic_5fold --fold fold1 --seed 0 .*--out \S+$")


def assert_interrupt_line(text: str, out: Path) -> None:
    plain = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", text).replace("\r", "\n")  # a terminal's colours and cursor
    last = [line for line in plain.splitlines() if line.strip()][-1]
    match = re.match(LINE, last)
    assert match, text[-3000:]
    assert int(match.group(1)) >= 1 and Path(match.group(2)) == checkpoint_of(out) and checkpoint_of(out).is_file()
    assert "Traceback" not in text
    assert not list(out.rglob("*.json")) and not list(out.rglob("*.npz"))


@pytest.mark.slow
def test_ctrl_c_through_a_pipe_names_the_cell_and_exits_130(data_root: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    proc = start(command(data_root, out, "--set", "epochs=100000", "--no-progress"),
                 stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        interrupt_after_first_checkpoint(proc, out)
        _, err = proc.communicate(timeout=180)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err.decode()[-3000:]
    assert_interrupt_line(err.decode(), out)


@pytest.mark.slow
def test_ctrl_c_on_a_terminal_with_progress_bars(data_root: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    leader, follower = pty.openpty()
    proc = start(command(data_root, out, "--set", "epochs=100000"), stdin=follower, stdout=follower, stderr=follower)
    os.close(follower)
    seen = bytearray()

    def drain(until: float) -> None:
        while time.monotonic() < until:
            ready, _, _ = select.select([leader], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(leader, 65536)
                except OSError:  # the terminal closed: the process is gone
                    return
                if not chunk:
                    return
                seen.extend(chunk)
            elif proc.poll() is not None:
                return
    try:
        deadline = time.monotonic() + 180
        while not checkpoint_of(out).is_file() and time.monotonic() < deadline and proc.poll() is None:
            drain(time.monotonic() + 0.5)
        interrupt_after_first_checkpoint(proc, out)
        proc.wait(timeout=180)
        drain(time.monotonic() + 2)
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(leader)
    assert proc.returncode == 130, seen.decode(errors="replace")[-3000:]
    assert_interrupt_line(seen.decode(errors="replace"), out)


@pytest.mark.slow
def test_sigkill_at_random_epochs_leaves_no_record_and_the_resume_matches(data_root: Path, tmp_path: Path) -> None:
    """Killed twice (SIGKILL: no handler runs) at epochs drawn at random, then resumed: the record equals an
    uninterrupted run's, metrics and predictions."""
    import torch

    # the killed runs are one-thread processes (`start`); the reference and the resume run here
    # with one thread too, since a reduction split over more threads rounds differently
    threads_before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        _sigkill_and_resume(data_root, tmp_path)
    finally:
        torch.set_num_threads(threads_before)


def _sigkill_and_resume(data_root: Path, tmp_path: Path) -> None:
    import random

    import numpy as np

    from bench.records import store
    from bench.running import run, training

    epochs = 12
    request = dict(method="late_fusion", protocol="synthetic_5fold", folds=["1"], seeds=[0], preset="tiny",
                   overrides={"epochs": epochs}, data_root=data_root, progress=False,
                   cache_root=tmp_path / "cache")
    [reference] = run.execute(run.make_plan(run.RunRequest(**request, out=tmp_path / "reference")))
    draw = random.Random()
    seed = draw.randrange(2**16)
    kills = sorted(random.Random(seed).sample(range(1, epochs - 3), 2))
    out = tmp_path / "out"
    for number, kill_after in enumerate(kills):
        proc = start(command(data_root, out, "--set", f"epochs={epochs}", "--no-progress"),
                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 180
            while time.monotonic() < deadline and proc.poll() is None:
                state = training.checkpoint_state(checkpoint_of(out)) if checkpoint_of(out).is_file() else None
                # a checkpoint of this process (resumed `number` times), past the drawn epoch
                if state is not None and state["resumes"] == number and state["epoch"] + 1 >= kill_after:
                    break
                time.sleep(0.05)
            assert proc.poll() is None, f"the run ended before epoch {kill_after} (random seed {seed})"
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
        assert not list(out.rglob("*.json")) and not list(out.rglob("*.npz")), f"random seed {seed}"
    [resumed] = run.execute(run.make_plan(run.RunRequest(**request, out=out)))
    assert resumed.record["timings"]["resumed"] == 2, f"random seed {seed}, kills after epochs {kills}"
    assert resumed.record["metrics"] == reference.record["metrics"], f"random seed {seed}"
    assert resumed.record["history"] == reference.record["history"], f"random seed {seed}"
    ours = np.load(store.predictions_path(resumed.path))
    theirs = np.load(store.predictions_path(reference.path))
    assert np.array_equal(ours["outputs"], theirs["outputs"]), f"random seed {seed}"
