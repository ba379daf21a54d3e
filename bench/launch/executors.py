"""``bench grid`` and ``bench status``: a grid's cells through submitit, on this machine or on SLURM.

Launchers (submitit's ``AutoExecutor``):

* ``debug`` runs every cell in this process, one after the other (breakpoints work);
* ``local`` runs every cell as a job on this machine, as many at once as its CPUs allow;
* ``slurm`` sends cells whose resources are equal as ONE job array (at most the profile's
  ``array_parallelism`` tasks at once) and returns; ``--wait`` follows the jobs to the end,
  ``bench status`` reports on them at any time.

A cell's resources are its method's :class:`~bench.api.ResourceHints`, overridden by each
resource the SLURM profile (``slurm/profiles/<name>.yaml``, or a ``.yaml`` path) sets. A
finished cell is skipped and a running one left alone, so the same ``bench grid`` command run
again submits only what failed or is missing; a failed cell never stops the others and is
reported with its log. A preempted or timed-out job requeues itself (:class:`bench.launch.grid.Cell`
is checkpointable) and resumes from the cell's last epoch checkpoint.

Bookkeeping lives in ``<out>/grids/<grid name>/``: ``jobs.json`` (written atomically) maps each
submitted cell to its job and log files; ``cells.json`` lists the grid's cells for ``bench status``
(:mod:`bench.launch.cell_list`); ``submitit/<submission>/`` holds submitit's pickles and
logs, a fresh folder per submission (SLURM job ids restart at 1 when a cluster's state is wiped,
and a reused folder would hand back an older job's result).
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import os
import shutil
import statistics
import subprocess
import time
import uuid
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Annotated, Any

import submitit
from pydantic import PlainValidator
from submitit.core.utils import pickle_load
from submitit.slurm.slurm import SlurmInfoWatcher
from tabulate import tabulate

from bench.errors import ConfigError, DataError, RunError, unknown
from bench.files import io, loader
from bench.launch import cell_list
from bench.launch.grid import Cell, Grid, expand, load
from bench.records import store
from bench.reporting import verify

PROFILE_DIR = Path(__file__).resolve().parents[2] / "slurm" / "profiles"
# sacct states of a job that is queued or still going (a requeued job passes through several)
_ACTIVE = {"PENDING", "RUNNING", "REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED", "CONFIGURING", "COMPLETING",
           "RESIZING", "SUSPENDED", "PREEMPTED", "SIGNALING", "STAGE_OUT", "UNKNOWN"}
_POLL_S = 0.5


@dataclasses.dataclass(frozen=True)
class Profile:
    """Where SLURM jobs go and what they get; a resource left unset comes from the method's hints."""

    name: str
    partition: str | None = None
    gpus: int | None = None
    cpus: int | None = None
    mem_gb: int | None = None
    time_min: int | None = None
    array_parallelism: int = 16
    sbatch: Mapping[str, str] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class Resources:
    """What one job of a cell asks for; cells with equal resources share a job array."""

    partition: str | None
    gpus: int
    cpus: int
    mem_gb: int
    time_min: int

    def __str__(self) -> str:
        return (f"partition {self.partition or '(default)'}, {self.gpus} GPU, {self.cpus} CPU, {self.mem_gb} GB, "
                f"{self.time_min} min")


@dataclasses.dataclass(frozen=True)
class CellStatus:
    """Where a cell stands: ``done``, ``running``, ``failed`` or ``missing``, with its job and log."""

    state: str
    job: str | None
    detail: str
    log: str | None


def grid_command(args: argparse.Namespace) -> int:
    """``bench grid GRID.yaml``: run or submit every cell that is neither finished nor running."""
    grid = load(args.grid_file)
    profile = load_profile(args.profile or grid.profile or "default")
    cells = expand(grid, args.out)
    entries = read_index(args.out, grid)
    statuses = statuses_of(cells, entries)
    todo = [c for c in cells if statuses[c.key].state in ("failed", "missing")]
    counts = {s: sum(st.state == s for st in statuses.values()) for s in ("done", "running")}
    print(f"grid {grid.name} ({grid.path}): {len(cells)} cells: {counts['done']} done (skipped), "
          f"{counts['running']} running (left alone), {len(todo)} to run; launcher {args.launcher}, "
          f"profile {profile.name}")
    if args.dry_run:
        print(dry_run(todo, profile, args.launcher, args.out))
        return 0
    cell_list.write(grid_dir(args.out, grid), grid, cells)
    if not todo:
        return 0
    if args.launcher == "slurm":
        jobs = submit_slurm(grid, todo, profile, args.out, entries)
        if not args.wait:
            print(f"follow with: bench status {grid.path} --out {args.out}")
            return 0
        finished = follow(jobs, entries)
    elif args.launcher == "local":
        finished = run_local(grid, todo, profile, args.out, entries)
    else:
        finished = run_debug(grid, todo, profile, args.out, entries)
    failed = [key for key, status in finished.items() if status.state != "done"]
    print(f"{len(finished) - len(failed)} done, {len(failed)} not done"
          + (f"; see bench status {grid.path} --out {args.out}" if failed else ""))
    return 1 if failed else 0


def status_command(args: argparse.Namespace) -> int:
    """``bench status GRID.yaml``: done / running / failed / missing per cell; exit 1 if any failed."""
    grid = load(args.grid_file)
    cells = cell_list.cells_of(grid, args.out, grid_dir(args.out, grid))
    statuses = statuses_of(cells, read_index(args.out, grid))
    print(status_report(grid, cells, statuses))
    return 1 if any(s.state == "failed" for s in statuses.values()) else 0


# ---------------------------------------------------------------------------------------------- profiles


def available_profiles() -> list[str]:
    """The profile names shipped in ``slurm/profiles/``."""
    return sorted(p.stem for p in PROFILE_DIR.glob("*.yaml"))


def load_profile(name: str) -> Profile:
    """A profile by name (``slurm/profiles/<name>.yaml``) or from a ``.yaml`` path, validated."""
    path = Path(name) if name.endswith((".yaml", ".yml")) else PROFILE_DIR / f"{name}.yaml"
    if not path.is_file():
        if name.endswith((".yaml", ".yml")):
            raise ConfigError(f"SLURM profile file {path} does not exist")
        raise ConfigError(unknown("SLURM profile", name, available_profiles()) + f" (profiles live in {PROFILE_DIR})")
    doc = loader.read(path, ConfigError)
    model = loader.validate(doc, _ProfileFile, ConfigError, data={} if doc.data is None else doc.data)
    return Profile(name=path.stem, partition=model.partition, gpus=model.gpus, cpus=model.cpus,
                   mem_gb=model.mem_gb, time_min=model.time_min,
                   array_parallelism=16 if model.array_parallelism is None else model.array_parallelism,
                   sbatch=model.sbatch)


def _sbatch(value: Any) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, (str, int)) and
                                              not isinstance(v, bool) for k, v in value.items()):
        raise loader.fail(f"expected a mapping of sbatch options to values (e.g. {{account: myproject, qos: normal}}), "
                          f"got {value!r}")
    return {k: str(v) for k, v in value.items()}


def _partition(value: Any) -> str | None:
    if value is not None and not (isinstance(value, str) and value):
        raise loader.fail(f"expected a partition name, got {value!r}")
    return value


class _ProfileFile(loader.Model):
    """The keys of a SLURM profile; an empty file is a profile that sets nothing."""

    description: Any = None
    partition: Annotated[str | None, PlainValidator(_partition)] = None
    gpus: loader.integer(0, optional=True) = None  # type: ignore[valid-type]
    cpus: loader.integer(1, optional=True) = None  # type: ignore[valid-type]
    mem_gb: loader.integer(1, optional=True) = None  # type: ignore[valid-type]
    time_min: loader.integer(1, optional=True) = None  # type: ignore[valid-type]
    array_parallelism: loader.integer(1, optional=True) = None  # type: ignore[valid-type]
    sbatch: Annotated[dict[str, str], PlainValidator(_sbatch)] = {}


def resources_for(cell: Cell, profile: Profile) -> Resources:
    """The cell's method hints, with every resource the profile sets taking their place."""
    def pick(name: str) -> int:
        value = getattr(profile, name)
        return getattr(cell.hints, name) if value is None else value

    return Resources(profile.partition, pick("gpus"), pick("cpus"), pick("mem_gb"), pick("time_min"))


def arrays(cells: Iterable[Cell], profile: Profile) -> list[tuple[Resources, list[Cell]]]:
    """Cells grouped by equal resources, in order of first appearance: one job array each."""
    groups: dict[Resources, list[Cell]] = {}
    for cell in cells:
        groups.setdefault(resources_for(cell, profile), []).append(cell)
    return list(groups.items())


# ---------------------------------------------------------------------------------------------- dry run


def dry_run(cells: list[Cell], profile: Profile, launcher: str, out: Path) -> str:
    """Jobs, array layout and estimated GPU-hours of the cells that would run."""
    groups = arrays(cells, profile)
    kind = "array" if launcher == "slurm" else "group"
    where = f"in {len(groups)} job array(s)" if launcher == "slurm" else f"on this machine ({launcher})"
    lines = [f"{len(cells)} job(s) {where}"]
    gpu_hours = job_hours = 0.0
    measured = 0
    for number, (res, group) in enumerate(groups, 1):
        lines.append(f"{kind} {number}: {len(group)} job(s); {res}; at most "
                     f"{min(len(group), profile.array_parallelism)} at once")
        for cell in group:
            hours, source = _estimate_hours(cell, res)
            measured += source.startswith("measured")
            gpu_hours += hours * res.gpus
            job_hours += hours
            lines.append(f"  {cell.key}  ~{hours:.3f} h ({source})")
    lines.append(f"estimated: {gpu_hours:.2f} GPU-hours, {job_hours:.2f} job-hours; {measured} job(s) timed from "
                 f"earlier run records (fit_s), {len(cells) - measured} at the time limit (no earlier record)")
    return "\n".join(lines)


def _estimate_hours(cell: Cell, res: Resources) -> tuple[float, str]:
    """Mean fit time of the earlier records of the same configuration, else the job's time limit."""
    folder = cell.record_path.parent
    times = []
    for path in sorted(folder.glob("*.json")):
        try:
            fit_s = store.read(path).get("timings", {}).get("fit_s")
        except DataError:
            continue
        if isinstance(fit_s, (int, float)):
            times.append(float(fit_s))
    if times:
        return statistics.fmean(times) / 3600, f"measured: mean fit_s of {len(times)} earlier record(s)"
    return res.time_min / 60, f"time limit: {res.time_min} min"


# ---------------------------------------------------------------------------------------------- launching


def submit_slurm(grid: Grid, cells: list[Cell], profile: Profile, out: Path,
                 entries: dict[str, dict[str, Any]]) -> list[tuple[Cell, Any]]:
    """Submit one job array per group of equal resources; every submitted job is in the index at once.

    An unreachable SLURM (no ``sbatch``, controller down) is a RunError saying what was and was
    not submitted; nothing is lost and the same command submits the rest later.
    """
    if shutil.which("sbatch") is None:
        raise RunError(f"cannot submit to SLURM: `sbatch` is not on PATH (is this a SLURM login node?). Nothing "
                       f"was submitted; {len(cells)} cell(s) remain. Run again where SLURM is, or use "
                       f"--launcher local.")
    folder = _submission_folder(out, grid)
    jobs: list[tuple[Cell, Any]] = []
    groups = arrays(cells, profile)
    for number, (res, group) in enumerate(groups, 1):
        executor = _executor("slurm", folder, res, profile, grid)
        try:
            with executor.batch():
                submitted = [executor.submit(cell) for cell in group]
        except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
            left = sum(len(g) for _, g in groups[number - 1:])
            reason = "; ".join(line.strip() for line in str(exc).splitlines() if line.strip()) or type(exc).__name__
            raise RunError(f"SLURM did not accept job array {number} of {len(groups)}: {reason}. "
                           f"{len(jobs)} cell(s) submitted before it are recorded in {index_path(out, grid)}; "
                           f"{left} cell(s) were not submitted and nothing was lost: run the same command again "
                           f"when SLURM is reachable (finished and running cells are skipped).") from exc
        for cell, job in zip(group, submitted, strict=True):
            entries[cell.key] = _entry("slurm", job, res)
            jobs.append((cell, job))
        _write_index(out, grid, entries)
        print(f"array {number}: SLURM job {submitted[0].job_id.split('_')[0]}, {len(group)} cell(s); {res}")
    return jobs


def follow(jobs: list[tuple[Cell, Any]], entries: Mapping[str, dict[str, Any]]) -> dict[str, CellStatus]:
    """Wait for submitted jobs, printing each cell's outcome as its job ends."""
    waiting = list(jobs)
    finished: dict[str, CellStatus] = {}
    while waiting:
        for cell, job in list(waiting):
            if job.done():
                waiting.remove((cell, job))
                finished[cell.key] = _report(cell, entries[cell.key], job)
        if waiting:
            time.sleep(_POLL_S)
    return finished


def run_local(grid: Grid, cells: list[Cell], profile: Profile, out: Path,
              entries: dict[str, dict[str, Any]]) -> dict[str, CellStatus]:
    """Run cells as local jobs, starting one whenever the CPUs they ask for are free."""
    folder = _submission_folder(out, grid)
    budget = os.cpu_count() or 1
    executors: dict[Resources, submitit.AutoExecutor] = {}
    pending, running = list(cells), []
    finished: dict[str, CellStatus] = {}
    while pending or running:
        while pending:
            res = resources_for(pending[0], profile)
            busy = sum(r.cpus for _, _, r in running)
            if running and (busy + res.cpus > budget or len(running) >= profile.array_parallelism):
                break
            cell = pending.pop(0)
            if res not in executors:
                executors[res] = _executor("local", folder, res, profile, grid)
            job = executors[res].submit(cell)
            entries[cell.key] = _entry("local", job, res)
            _write_index(out, grid, entries)
            running.append((cell, job, res))
        for item in list(running):
            if item[1].done():
                running.remove(item)
                finished[item[0].key] = _report(item[0], entries[item[0].key], item[1])
        if running:
            time.sleep(_POLL_S)
    return finished


def run_debug(grid: Grid, cells: list[Cell], profile: Profile, out: Path,
              entries: dict[str, dict[str, Any]]) -> dict[str, CellStatus]:
    """Run cells in this process, one after the other; a failing cell is recorded and the next one runs."""
    folder = _submission_folder(out, grid)
    finished: dict[str, CellStatus] = {}
    for cell in cells:
        res = resources_for(cell, profile)
        job = _executor("debug", folder, res, profile, grid).submit(cell)
        entries[cell.key] = _entry("debug", job, res)
        error = job.exception()  # runs the cell here; unlike result(), it never opens a debugger
        if error is not None:
            entries[cell.key]["error"] = _first_line(f"{type(error).__name__}: {error}")
        _write_index(out, grid, entries)
        finished[cell.key] = _report(cell, entries[cell.key], job)
    return finished


def _executor(launcher: str, folder: Path, res: Resources, profile: Profile, grid: Grid) -> submitit.AutoExecutor:
    executor = submitit.AutoExecutor(folder=folder / "%j", cluster=launcher)
    params: dict[str, Any] = {"name": f"bench-{grid.name}", "timeout_min": res.time_min, "cpus_per_task": res.cpus,
                              "mem_gb": res.mem_gb}
    if res.gpus:
        params["gpus_per_node"] = res.gpus
    if launcher == "slurm":
        params.update(slurm_partition=res.partition, slurm_array_parallelism=profile.array_parallelism,
                      slurm_additional_parameters=dict(profile.sbatch) or None)
    executor.update_parameters(**params)
    return executor


def _submission_folder(out: Path, grid: Grid) -> Path:
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    return grid_dir(out, grid) / "submitit" / f"{stamp}-{uuid.uuid4().hex[:6]}"


def _entry(launcher: str, job: Any, res: Resources) -> dict[str, Any]:
    logs = launcher != "debug"  # a debug job writes no log files and no result pickle
    return {"launcher": launcher, "job_id": job.job_id, "resources": dataclasses.asdict(res),
            "submitted": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "stdout": str(job.paths.stdout) if logs else None, "stderr": str(job.paths.stderr) if logs else None,
            "result": str(job.paths.result_pickle) if logs else None}


def _report(cell: Cell, entry: Mapping[str, Any], job: Any) -> CellStatus:
    status = cell_status(cell, entry, {entry["job_id"]: job.state} if entry["launcher"] == "slurm" else {})
    log = f"; log: {status.log}" if status.log and status.state != "done" else ""
    print(f"{cell.key}: {status.state} ({status.detail}){log}", flush=True)
    return status


# ---------------------------------------------------------------------------------------------- status


def grid_dir(out: Path, grid: Grid) -> Path:
    """The grid's bookkeeping folder."""
    return Path(out) / "grids" / grid.name


def index_path(out: Path, grid: Grid) -> Path:
    """The grid's job index: cell key -> launcher, job id, log and result paths."""
    return grid_dir(out, grid) / "jobs.json"


def read_index(out: Path, grid: Grid) -> dict[str, dict[str, Any]]:
    """The grid's job index (empty before the first submission)."""
    path = index_path(out, grid)
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        cells = data["cells"]
        if not isinstance(cells, dict):
            raise TypeError("'cells' is not a mapping")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise DataError(f"{path}: not a readable grid job index ({exc}); delete it to forget the submitted jobs "
                        f"(run records are not affected)") from exc
    return cells


def _write_index(out: Path, grid: Grid, entries: Mapping[str, Any]) -> None:
    io.write_json(index_path(out, grid), {"grid": str(grid.path), "cells": dict(entries)})


def statuses_of(cells: list[Cell], entries: Mapping[str, Mapping[str, Any]]) -> dict[str, CellStatus]:
    """Every cell's status; the SLURM states of its unfinished jobs come from one ``sacct`` call."""
    pending = [entries[c.key]["job_id"] for c in cells if c.key in entries and entries[c.key]["launcher"] == "slurm"
               and not c.finished() and not Path(entries[c.key]["result"]).is_file()]
    states = _sacct_states(pending)
    return {cell.key: cell_status(cell, entries.get(cell.key), states) for cell in cells}


def cell_status(cell: Cell, entry: Mapping[str, Any] | None, slurm_states: Mapping[str, str]) -> CellStatus:
    """One cell's status, from the store, then its job's result pickle, then its scheduler state."""
    record, corrupt = verify.examined(cell.record_path, cell.id.protocol_hash)
    job = entry["job_id"] if entry else None
    if record is not None:
        shown = ", ".join(f"{k} {v:.3f}" for k, v in record["metrics"].items() if isinstance(v, (int, float)))
        return CellStatus("done", job, shown, str(cell.record_path))
    if corrupt is not None:
        return CellStatus("failed", job, store.describe_corrupt(cell.record_path, corrupt) +
                          " (a rerun moves it aside as .corrupt)", str(cell.record_path))
    if entry is None:
        return CellStatus("missing", None, "not submitted yet", None)
    log = entry.get("stderr")
    if entry.get("error"):
        return CellStatus("failed", job, entry["error"], log)
    result = Path(entry["result"]) if entry.get("result") else None
    if result is not None and result.is_file():
        outcome, value = pickle_load(result)
        if outcome == "error":
            return CellStatus("failed", job, _last_line(str(value)), log)
        return CellStatus("missing", job, "its job succeeded but the record is gone (deleted, or the protocol "
                          "changed since)", log)
    if entry["launcher"] == "slurm":
        state = slurm_states.get(job, "UNKNOWN")
        if state.split()[0] in _ACTIVE:
            return CellStatus("running", job, f"SLURM {state}", log)
        return CellStatus("failed", job, f"SLURM {state} without a result", log)
    if entry["launcher"] == "local":
        if _local_job_alive(job):
            return CellStatus("running", job, "local job running", log)
        return CellStatus("failed", job, "its local job ended without a result (killed?)", log)
    return CellStatus("missing", job, "the debug run ended before this cell did", None)


def status_report(grid: Grid, cells: list[Cell], statuses: Mapping[str, CellStatus]) -> str:
    """The table ``bench status`` prints, with a count per state."""
    counts = {s: sum(st.state == s for st in statuses.values()) for s in ("done", "running", "failed", "missing")}
    head = f"grid {grid.name}: {len(cells)} cells: " + ", ".join(f"{n} {s}" for s, n in counts.items())
    rows = [[statuses[c.key].state, c.key, statuses[c.key].job or "-", statuses[c.key].detail,
             statuses[c.key].log if statuses[c.key].state in ("failed", "running") and statuses[c.key].log else ""]
            for c in cells]
    return head + "\n" + tabulate(rows, headers=["state", "cell", "job", "detail", "log"])


def _sacct_states(job_ids: list[str]) -> dict[str, str]:
    """SLURM states by job id (``12`` or ``12_3``), through submitit's sacct reader; {} without sacct."""
    if not job_ids or shutil.which("sacct") is None:
        return {}
    watcher = SlurmInfoWatcher()
    for job_id in job_ids:
        watcher.register_job(job_id)
    watcher.update()
    return {job_id: watcher.get_state(job_id, mode="cache") for job_id in job_ids}


def _local_job_alive(job_id: str) -> bool:
    """Whether the local job's controller (its id is the PID) is still a running submitit process."""
    try:
        cmdline = Path(f"/proc/{int(job_id)}/cmdline").read_bytes()
    except (OSError, ValueError):
        return False
    return b"submitit" in cmdline


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "unknown error"


def _first_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[0] if lines else "unknown error"
