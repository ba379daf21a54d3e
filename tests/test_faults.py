"""Faults of the file system and of signals, made for real: one line naming the path and what failed.

* a symbolic link loop and an unreadable media file in the data (exit 2: the input is wrong);
* a read-only store or cell folder, a full disk (a small tmpfs: ENOSPC, which torch's zip writer
  reports as "inline_container.cc ... unexpected pos") and a file-size limit (``RLIMIT_FSIZE``:
  EFBIG) while checkpointing, caching or rewriting records (exit 1: the work failed);
* SIGTERM during training (exit 143 and the Ctrl-C line: cell, epochs, checkpoint, resume
  command; the resume then names the same epoch count) and inside a submitit job (submitit's
  own handling stays: the job logs the signal and finishes its cell).

Every case checks that no record, prediction, checkpoint or temporary file was half-written and
that what was there before is unchanged. Permissions are enforced for the root user too: the
test thread drops its effective ``CAP_DAC_OVERRIDE`` and ``CAP_DAC_READ_SEARCH`` while the
command runs (real kernel checks, restored afterwards). The tmpfs cases need the right to mount
(root) and skip without it.
"""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import json
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench import cli

pytestmark = pytest.mark.usefixtures("one_thread")

RUN = ["run", "--method", "late_fusion", "--preset", "tiny", "--no-progress"]


@pytest.fixture(scope="module")
def finished(data_root: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A store holding one finished cell (synthetic_holdout, 1 epoch) and the cache that made it."""
    folder = tmp_path_factory.mktemp("finished")
    argv = [*RUN, "--protocol", "synthetic_holdout", "--set", "epochs=1", "--data-root", str(data_root),
            "--out", str(folder / "store"), "--cache-dir", str(folder / "cache")]
    assert cli.main(argv) == 0
    return folder / "store", folder / "cache"


def bench(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, list[str]]:
    """Exit code and the non-empty stderr lines of ``bench argv`` run in-process."""
    capsys.readouterr()
    code = cli.main(list(argv))
    err = capsys.readouterr().err
    assert "Traceback" not in err, err
    return code, [line for line in err.splitlines() if line.strip()]


def one_error(lines: list[str], pattern: str) -> None:
    errors = [line for line in lines if line.startswith("error: ")]
    assert len(errors) == 1 and lines[-1] == errors[0] and re.search(pattern, errors[0]), lines


def leftovers(folder: Path) -> list[Path]:
    """Records, predictions, checkpoints and temporary files under ``folder``."""
    return sorted(p for p in folder.rglob("*") if p.suffix in (".json", ".npz", ".ckpt", ".png") or
                  p.name.endswith(".tmp"))


def snapshot(folder: Path) -> dict[str, str]:
    """sha256 of every file under ``folder``: what must not change."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def copy_of(data_root: Path, tmp: Path) -> Path:
    target = tmp / "data"
    shutil.copytree(data_root, target)
    return target


# ------------------------------------------------------------------------------------------ permissions

_CAP_DAC_OVERRIDE, _CAP_DAC_READ_SEARCH = 1, 2


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]


@contextlib.contextmanager
def permissions_enforced() -> Iterator[None]:
    """File permissions apply to this thread, also as root: its effective DAC-override capabilities are
    dropped for the block (capset(2); the permitted set is kept, so they are raised again after)."""
    if os.geteuid() != 0:
        yield
        return
    libc = ctypes.CDLL(None, use_errno=True)
    header, data = _CapHeader(0x20080522, 0), (_CapData * 2)()  # _LINUX_CAPABILITY_VERSION_3
    if libc.capget(ctypes.byref(header), data) != 0:
        pytest.skip("capget failed: cannot make root obey file permissions here")
    before = data[0].effective
    data[0].effective &= ~((1 << _CAP_DAC_OVERRIDE) | (1 << _CAP_DAC_READ_SEARCH))
    if libc.capset(ctypes.byref(header), data) != 0:
        pytest.skip("capset failed: cannot make root obey file permissions here")
    try:
        yield
    finally:
        data[0].effective = before
        assert libc.capset(ctypes.byref(header), data) == 0


@contextlib.contextmanager
def tiny_disk(folder: Path, size: str) -> Iterator[Path]:
    """A tmpfs of ``size`` mounted on ``folder``: a disk that fills up (ENOSPC); skips where mount is refused."""
    folder.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a small tmpfs needs root")
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


@contextlib.contextmanager
def file_size_limit(limit: int) -> Iterator[None]:
    """No file of this process may grow past ``limit`` bytes (RLIMIT_FSIZE; SIGXFSZ ignored, so writes fail EFBIG)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, handler)


# ------------------------------------------------------------------------------------------ the data


def test_a_symlink_loop_in_the_data_is_named_before_any_work(data_root: Path, tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    data = copy_of(data_root, tmp_path)
    looped = data / "audio" / "s01_c001.wav"
    looped.unlink()
    looped.symlink_to(looped.name)  # the link points at itself
    code, lines = bench(capsys, *RUN, "--protocol", "synthetic_holdout", "--data-root", str(data),
                        "--out", str(tmp_path / "out"), "--cache-dir", str(tmp_path / "cache"))
    assert code == 2
    one_error(lines, r"audio/s01_c001.wav: cannot be read: its symbolic links form a loop")
    assert not (tmp_path / "out").exists() and not (tmp_path / "cache").exists()


def test_the_media_check_lists_a_symlink_loop(data_root: Path, tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    data = copy_of(data_root, tmp_path)
    looped = data / "video" / "s02_c003.mp4"
    looped.unlink()
    looped.symlink_to(looped.name)
    capsys.readouterr()
    assert cli.main(["prepare", "synthetic", "--check", "--workers", "1", "--no-progress",
                     "--data-root", str(data)]) == 1
    out = capsys.readouterr().out
    assert re.search(r"s02_c003.mp4: video file of sample s02_c003 is a symbolic link that leads nowhere or loops", out), out
    assert out.rstrip().endswith("1 problem(s) found")


def test_an_unreadable_media_file_is_named(data_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = copy_of(data_root, tmp_path)
    os.chmod(data / "audio" / "s03_c002.wav", 0)
    with permissions_enforced():
        code, lines = bench(capsys, *RUN, "--protocol", "synthetic_holdout", "--data-root", str(data),
                            "--out", str(tmp_path / "out"), "--cache-dir", str(tmp_path / "cache"))
    assert code == 2
    one_error(lines, r"audio/s03_c002.wav: cannot be read \(Permission denied; expected an audio file")
    assert not leftovers(tmp_path / "out") and not list((tmp_path / "cache").rglob("*.tmp"))


def test_the_media_check_lists_an_unreadable_file(data_root: Path, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    data = copy_of(data_root, tmp_path)
    os.chmod(data / "landmarks" / "s04_c001.csv", 0)
    capsys.readouterr()
    with permissions_enforced():
        code = cli.main(["prepare", "synthetic", "--check", "--workers", "1", "--no-progress", "--data-root", str(data)])
    out = capsys.readouterr().out
    assert code == 1 and re.search(r"s04_c001.csv: landmarks of sample s04_c001 cannot be read \(Permission denied\)",
                                   out), out


# ------------------------------------------------------------------------------------------ the store


def test_a_read_only_cell_folder_stops_the_cell_before_training(data_root: Path, finished: tuple[Path, Path],
                                                               tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    store, cache = finished
    (record,) = store.rglob("*.json")
    folder = tmp_path / "out" / record.parent.relative_to(store)
    folder.mkdir(parents=True)
    os.chmod(folder, 0o555)
    with permissions_enforced():
        code, lines = bench(capsys, *RUN, "--protocol", "synthetic_holdout", "--set", "epochs=1",
                            "--data-root", str(data_root), "--out", str(tmp_path / "out"), "--cache-dir", str(cache))
    assert code == 1
    one_error(lines, r"official-seed0.lock: cannot create the lock of late_fusion × synthetic_holdout official "
                     r"seed 0 \(Permission denied\); the cell's folder must be writable .*nothing was trained")
    assert not any(folder.iterdir())


def test_a_read_only_store_is_refused_and_a_finished_cell_in_it_still_reads(
        data_root: Path, finished: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store, cache = finished
    copy = tmp_path / "store"
    shutil.copytree(store, copy)
    before = snapshot(copy)
    argv = [*RUN, "--protocol", "synthetic_holdout", "--set", "epochs=1", "--data-root", str(data_root),
            "--cache-dir", str(cache)]
    (record,) = copy.rglob("*.json")
    os.chmod(record.parent, 0o555)
    with permissions_enforced():
        assert bench(capsys, *argv, "--out", str(copy))[0] == 0  # skipped: finished, nothing to write
        os.chmod(copy, 0o555)
        code, lines = bench(capsys, *argv, "--out", str(copy))
    os.chmod(copy, 0o755)
    assert code == 2
    one_error(lines, r"--out .*/store: the folder is not writable")
    assert snapshot(copy) == before


def test_rescore_into_a_read_only_store_changes_nothing(finished: tuple[Path, Path], tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    store, _ = finished
    copy = tmp_path / "store"
    shutil.copytree(store, copy)
    before = snapshot(copy)
    (record,) = copy.rglob("*.json")
    os.chmod(record.parent, 0o555)
    with permissions_enforced():
        code, lines = bench(capsys, "rescore", "--out", str(copy), "--metric", "macro_f1")
    assert code == 1
    one_error(lines, rf"{re.escape(str(record))}: cannot write the file \(Permission denied, EACCES\); nothing was "
                     "half-written")
    assert snapshot(copy) == before


def test_a_full_disk_while_checkpointing_is_one_line_and_leaves_nothing(
        data_root: Path, finished: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _, cache = finished
    with tiny_disk(tmp_path / "disk", "64k") as disk:
        code, lines = bench(capsys, *RUN, "--protocol", "synthetic_holdout", "--set", "epochs=2",
                            "--data-root", str(data_root), "--out", str(disk / "out"), "--cache-dir", str(cache))
        assert code == 1
        one_error(lines, r"official-seed0.ckpt: cannot write the checkpoint \(No space left on device, ENOSPC\); "
                         "nothing was half-written")
        assert not leftovers(disk)


def test_a_full_cache_disk_is_one_line_naming_the_entry(data_root: Path, tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    with tiny_disk(tmp_path / "disk", "32k") as disk:
        code, lines = bench(capsys, *RUN, "--protocol", "synthetic_holdout", "--data-root", str(data_root),
                            "--out", str(tmp_path / "out"), "--cache-dir", str(disk / "cache"))
        assert code == 1
        one_error(lines, rf"{re.escape(str(disk))}/cache/\S+\.npz: cannot write the file \(No space left on device, "
                         "ENOSPC\\)")
        assert not list(disk.rglob("*.tmp"))
    assert not leftovers(tmp_path / "out")


def test_a_file_size_limit_while_checkpointing(data_root: Path, finished: tuple[Path, Path], tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    _, cache = finished  # every input is cached: the checkpoint is the first file written
    with file_size_limit(12 * 1024):
        code, lines = bench(capsys, *RUN, "--protocol", "synthetic_holdout", "--set", "epochs=2",
                            "--data-root", str(data_root), "--out", str(tmp_path / "out"), "--cache-dir", str(cache))
    assert code == 1
    one_error(lines, r"official-seed0.ckpt: cannot write the checkpoint \(File too large, EFBIG\)")
    assert not leftovers(tmp_path / "out")


# ------------------------------------------------------------------------------------------ cells and filters


def test_repeated_folds_and_seeds_are_one_cell(data_root: Path, finished: tuple[Path, Path], tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    _, cache = finished
    capsys.readouterr()
    assert cli.main([*RUN, "--protocol", "synthetic_5fold", "--set", "epochs=1", "--fold", "1", "--fold", "fold1",
                     "--seed", "0", "--seed", "0", "--data-root", str(data_root), "--out", str(tmp_path / "out"),
                     "--cache-dir", str(cache)]) == 0
    out = capsys.readouterr().out
    assert "1 fold(s) × 1 seed(s)" in out and "(n=1)" in out and "(n=2)" not in out and "(n=4)" not in out
    assert [p.name for p in (tmp_path / "out").rglob("*.json")] == ["fold1-seed0.json"]


@pytest.mark.parametrize(("flag", "name", "pattern"), [
    ("--method", "late_fusoin", r"--method late_fusoin: no records of it in .* \(did you mean 'late_fusion'\?\); "
                                r"records there: late_fusion$"),
    ("--protocol", "synthetic_holdot", r"--protocol synthetic_holdot: no records of it in .*\(did you mean "
                                       r"'synthetic_holdout'\?\)"),
])
def test_a_plot_filter_naming_nothing_in_the_store_is_refused(finished: tuple[Path, Path], tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str], flag: str, name: str,
                                                              pattern: str) -> None:
    copy = tmp_path / "store"
    shutil.copytree(finished[0], copy)
    before = snapshot(copy)
    code, lines = bench(capsys, "plot", "--out", str(copy), flag, name)
    assert code == 2
    one_error(lines, pattern)
    assert snapshot(copy) == before


# ------------------------------------------------------------------------------------------ signals


def _command(data_root: Path, out: Path, cache: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "bench.cli", *RUN, "--protocol", "synthetic_holdout", "--data-root", str(data_root),
            "--out", str(out), "--cache-dir", str(cache), *extra]


def _until(condition: object, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:  # type: ignore[operator]
        time.sleep(0.1)


EPOCHS = 80
"""Long enough for SIGTERM to arrive mid-training, short enough to resume to the end."""


@pytest.mark.slow
def test_sigterm_stops_training_like_ctrl_c_and_the_resume_counts_the_same_epochs(
        data_root: Path, finished: tuple[Path, Path], tmp_path: Path) -> None:
    _, cache = finished
    out = tmp_path / "out"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(_command(data_root, out, cache, "--set", f"epochs={EPOCHS}"), env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        _until(lambda: list(out.rglob("*.ckpt")) or proc.poll() is not None)
        assert proc.poll() is None, "the run ended before its first epoch did"
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    text = err.decode()
    assert proc.returncode == 143, text[-2000:]
    last = text.strip().splitlines()[-1]
    match = re.match(r"^terminated \(SIGTERM\): late_fusion × synthetic_holdout official seed 0 stopped after (\d+) "
                     r"finished epoch\(s\) of stage supervised; its checkpoint (\S+official-seed0\.ckpt) is kept; "
                     r"resume with: bench run --method late_fusion --protocol synthetic_holdout --fold official "
                     r"--seed 0 .*--out \S+$", last)
    assert match and "Traceback" not in text, text[-2000:]
    assert Path(match.group(2)).is_file() and not list(out.rglob("*.json")) and not list(out.rglob("*.tmp"))
    # the resume names the same count of finished epochs (it once said "after epoch N-1")
    epochs = int(match.group(1))
    assert epochs < EPOCHS
    resumed = subprocess.run(_command(data_root, out, cache, "--set", f"epochs={EPOCHS}"), env=env,
                             capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert f"resuming stage supervised after {epochs} finished epoch(s)" in resumed.stderr
    (record,) = out.rglob("*.json")
    assert json.loads(record.read_text())["timings"]["resumed"] == 1


@pytest.mark.slow
def test_sigterm_in_a_submitit_job_keeps_submitits_handling(data_root: Path, tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    """In a job, SIGTERM belongs to submitit (it logs it and goes on; USR2 checkpoints and requeues):
    the cell trains to its end. Lightning's own SIGTERM flag once ended the job without a result."""
    grid = tmp_path / "g.yaml"
    grid.write_text("methods: [late_fusion]\nprotocols: [synthetic_holdout]\npreset: tiny\n"
                    "overrides: [{epochs: 60}]\nprofile: debug\n")
    out = tmp_path / "out"
    sent: list[int] = []

    def signal_the_job() -> None:
        _until(lambda: list(out.rglob("*.ckpt")) or list(out.rglob("*.predictions.npz")), timeout=300)
        index = out / "grids" / "g" / "jobs.json"
        if index.is_file() and list(out.rglob("*.ckpt")):
            (entry,) = json.loads(index.read_text())["cells"].values()
            os.kill(int(entry["job_id"]), signal.SIGTERM)  # the local job's controller forwards it to the task
            sent.append(int(entry["job_id"]))

    watcher = threading.Thread(target=signal_the_job)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("BENCH_DATA_SYNTHETIC", str(data_root))
        watcher.start()
        code, _ = bench(capsys, "grid", str(grid), "--launcher", "local", "--out", str(out))
        watcher.join()
    assert sent, "the job finished before a checkpoint was seen"
    assert code == 0
    (record,) = (out / "runs").rglob("*.json")
    assert json.loads(record.read_text())["timings"]["resumed"] == 0
    (entry,) = json.loads((out / "grids" / "g" / "jobs.json").read_text())["cells"].values()
    assert "Bypassing signal SIGTERM" in Path(entry["stderr"]).read_text()
