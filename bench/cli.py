"""The ``bench`` command line: argument parsing and error printing only.

Each subcommand is handled by a function ``handler(args) -> int | None`` in the module that
owns that work (named in ``_HANDLERS``), imported only when the subcommand runs, so that
``bench list`` does not pay for importing torch.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import logging
import math
import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

from bench.errors import BenchError, Interrupted, Terminated, raise_terminated

_HANDLERS = {
    "run": "bench.running.commands:run_command",
    "list": "bench.running.commands:list_command",
    "doctor": "bench.running.commands:doctor_command",
    "cache": "bench.running.commands:cache_command",
    "prepare": "bench.running.prepare_command:prepare_command",
    "grid": "bench.launch.executors:grid_command",
    "status": "bench.launch.executors:status_command",
    "table": "bench.reporting.tables:table_command",
    "check": "bench.reporting.check:check_command",
    "splits": "bench.protocols.drawn_splits:splits_command",
    "matrix": "bench.launch.matrix:matrix_command",
    "plot": "bench.reporting.plot_command:plot_command",
    "rescore": "bench.reporting.rescore:rescore_command",
    "predict": "bench.running.predict_command:predict_command",
}


def _path(text: str) -> Path:
    """A path argument; an empty one (``--out ""``, an unset shell variable) would mean the current folder."""
    if not text.strip():
        raise argparse.ArgumentTypeError("an empty path; give a file or folder (use . for the current folder)")
    return Path(text)


def _finite(text: str) -> float:
    """A number argument: nan and inf compare false with every value, so they would predict nothing (or all)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return value


def _numerics_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--precision", choices=["32", "bf16-mixed", "16-mixed"], default="32",
                        help="32 (float32, default), or autocast in bfloat16 / float16; recorded, in the cell hash")
    parser.add_argument("--fast", action="store_true",
                        help="TF32 on and deterministic kernels off (GPU speed over bit-exact reruns); recorded")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="bench", description="Reproduce and compare multimodal emotion recognition methods.")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run one method under one protocol (every fold and seed by default)")
    run.add_argument("--method", required=True)
    run.add_argument("--protocol", required=True, help="a protocol name (bench list protocols) or a .yaml path")
    run.add_argument("--fold", action="append", help="fold number or name; repeatable; default: all")
    run.add_argument("--seed", action="append", type=int, help="repeatable; default: the protocol's seeds")
    run.add_argument("--preset", default="paper", help="paper (default) or tiny, or another preset of the method")
    run.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a config key")
    run.add_argument("--modalities", nargs="+",
                     help="use these of the protocol's modalities (default: those the method reads too)")
    run.add_argument("--regime", choices=["supervised", "linear_eval", "finetune", "evaluate"],
                     help="how to train (linear_eval and finetune pretrain first; evaluate: no training, test "
                          "--weights FILE); default: the protocol's, or the method's where the protocol leaves it open")
    run.add_argument("--weights", type=_path, metavar="FILE",
                     help="with --regime evaluate: a bench weights file (.safetensors beside a record) or the "
                          "method's released checkpoint")
    run.add_argument("--no-keep-weights", action="store_true",
                     help="do not write the selected weights beside each record (fold<k>-seed<s>.safetensors)")
    run.add_argument("--pretrain-on", metavar="DATASET", help="with --regime: pretrain on this dataset instead")
    run.add_argument("--budget", help="paper (the preset's lengths, default), short, or N epochs for every stage")
    _numerics_arguments(run)
    run.add_argument("--data-root", type=_path, help="the dataset's folder (default: $BENCH_DATA_<NAME>)")
    run.add_argument("--pretrain-data-root", type=_path,
                     help="the folder of the protocol's regime.pretrain_on dataset (default: $BENCH_DATA_<NAME>)")
    run.add_argument("--out", type=_path, default=Path("results"), help="results store root (default: ./results)")
    run.add_argument("--cache-dir", type=_path, help="preprocessing cache (default: $BENCH_CACHE or ~/.cache/bench)")
    run.add_argument("--no-progress", action="store_true", help="no progress bars")
    run.add_argument("--allow-incomplete", action="store_true",
                     help="run on a copy that lacks samples of the complete dataset (recorded in the record)")
    run.add_argument("--rerun-changed", action="store_true",
                     help="rerun finished cells whose records were made from other data (else: refuse)")

    lst = sub.add_parser("list", help="list registered methods, datasets, protocols or metrics")
    lst.add_argument("what", choices=["methods", "datasets", "protocols", "metrics"])

    sub.add_parser("doctor", help="environment, plugins that failed, protocols, data roots found")

    cache = sub.add_parser("cache", help="inspect or empty the preprocessing cache")
    cache.add_argument("action", choices=["info", "clean"])
    cache.add_argument("--cache-dir", type=_path)

    prepare = sub.add_parser("prepare", help="verify a dataset copy (--check) or precompute a method's inputs")
    prepare.add_argument("dataset")
    prepare.add_argument("--data-root", type=_path)
    prepare.add_argument("--check", action="store_true",
                         help="verify counts, split lists and every media file (decoded whole); exit 1 on problems")
    prepare.add_argument("--no-decode", action="store_true",
                         help="with --check: skip decoding the media (counts, lists and the adapter's file checks)")
    prepare.add_argument("--workers", type=int, help="with --check: decoding processes (default: cores, at most 8)")
    prepare.add_argument("--no-progress", action="store_true", help="no progress counter")
    prepare.add_argument("--option", action="append", default=[], metavar="KEY=VALUE",
                         help="a dataset adapter option (e.g. label_order=readme)")
    prepare.add_argument("--method", help="precompute the inputs this method needs")
    prepare.add_argument("--preset", default="paper")
    prepare.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    prepare.add_argument("--cache-dir", type=_path)

    grid = sub.add_parser("grid", help="run a grid of cells (methods × protocols × folds × seeds × overrides)")
    grid.add_argument("grid_file", type=_path)
    grid.add_argument("--launcher", choices=["local", "debug", "slurm"], default="local")
    grid.add_argument("--profile", help="a SLURM profile name from slurm/ (default: the grid's or 'default')")
    grid.add_argument("--dry-run", action="store_true", help="print jobs, array layout and estimated GPU-hours")
    grid.add_argument("--wait", action="store_true",
                      help="with --launcher slurm: wait for the jobs and report each cell (local and debug always wait)")
    grid.add_argument("--out", type=_path, default=Path("results"),
                      help="results store the cells write to; bookkeeping in OUT/grids/NAME/ (default: ./results)")

    status = sub.add_parser("status", help="summarise a grid: done, running, failed, missing")
    status.add_argument("grid_file", type=_path)
    status.add_argument("--out", type=_path, default=Path("results"), help="the grid's results store (default: ./results)")

    table = sub.add_parser("table", help="render a paper table: reported | reproduced | Δ")
    table.add_argument("table_id", metavar="PAPER:TABLE")
    table.add_argument("--format", choices=["markdown", "latex", "csv"], default="markdown")
    table.add_argument("--out", type=_path, default=Path("results"), help="the results store to read (default: ./results)")

    check = sub.add_parser("check", help="compare stored results with reported and expected numbers")
    check.add_argument("--out", type=_path, default=Path("results"),
                       help="the results store to check (default: ./results); nothing is written")
    check.add_argument("--expected", type=_path, help="folder of expected numbers (default: results/expected)")

    matrix = sub.add_parser("matrix", help="every method under every protocol it fits: compatibility, grid, table")
    matrix.add_argument("--methods", nargs="+", help="default: every registered method")
    matrix.add_argument("--protocols", nargs="+", help="protocol names (or give --datasets)")
    matrix.add_argument("--datasets", nargs="+", help="every protocol of these datasets")
    matrix.add_argument("--preset", default="paper")
    matrix.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    matrix.add_argument("--budget", help="paper (default), short, or N epochs for every stage")
    _numerics_arguments(matrix)
    matrix.add_argument("--regime", choices=["supervised", "linear_eval", "finetune"],
                        help="train every pair this way (default: the protocol's, else the method's own)")
    matrix.add_argument("--fold", action="append", help="fold number or name; repeatable; default: all")
    matrix.add_argument("--seed", action="append", type=int)
    matrix.add_argument("--launcher", choices=["local", "debug", "slurm"], default="local")
    matrix.add_argument("--profile", help="a SLURM profile name from slurm/ (default: 'default')")
    matrix.add_argument("--dry-run", action="store_true", help="print jobs, array layout and estimated GPU-hours")
    matrix.add_argument("--wait", action="store_true", help="with --launcher slurm: wait and print the table")
    matrix.add_argument("--metric", help="show this metric instead of each protocol's primary one")
    matrix.add_argument("--format", choices=["markdown", "latex", "csv"], default="markdown")
    matrix.add_argument("--out", type=_path, default=Path("results"),
                        help="results store the cells write to; heat-map in OUT/grids/matrix-*/ (default: ./results)")

    plot = sub.add_parser("plot", help="confusion matrices of every record and the method × protocol heat-map")
    plot.add_argument("--out", type=_path, default=Path("results"), metavar="STORE",
                      help="the results store to read and draw into (default: ./results): confusion matrices beside "
                           "each record, the heat-map in STORE/plots/matrix.png")
    plot.add_argument("--method", action="append", help="only this method; repeatable")
    plot.add_argument("--protocol", action="append", help="only this protocol; repeatable")
    plot.add_argument("--metric", help="the heat-map's metric (default: each protocol's primary one)")

    rescore = sub.add_parser("rescore", help="write metrics computed from stored predictions into the records")
    rescore.add_argument("--out", type=_path, default=Path("results"),
                         help="the results store whose records are rescored in place (default: ./results)")
    rescore.add_argument("--metric", action="append", required=True, help="a registered metric; repeatable")

    predict = sub.add_parser("predict", help="a trained model's predictions on media files or a dataset's samples")
    predict.add_argument("files", nargs="*", type=_path, metavar="FILE",
                         help="videos (mp4/avi/mkv/...), audio files (wav/opus/mp3/flac/...) or face-frame folders")
    predict.add_argument("--from", dest="from_record", type=_path, metavar="RECORD",
                         help="a run record; its kept weights (beside it) and its preprocessing are used")
    predict.add_argument("--method", help="without --from: the method (with --preset, --set and --weights)")
    predict.add_argument("--preset", default="paper")
    predict.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    predict.add_argument("--weights", type=_path, help="without --from: a bench weights file or a released checkpoint")
    predict.add_argument("--labels", nargs="+", metavar="NAME",
                         help="without --from, for a released checkpoint: the class names in output order")
    predict.add_argument("--modalities", nargs="+", help="without --from: the modalities the model reads")
    predict.add_argument("--data-root", type=_path, help="with --samples: the dataset's folder, in its own layout")
    predict.add_argument("--dataset", help="with --samples and without --from: the dataset's name")
    predict.add_argument("--samples", nargs="+", metavar="ID", help="sample ids of the dataset at --data-root")
    predict.add_argument("--faces", choices=["auto", "mtcnn", "none"], default="auto",
                         help="find faces in a raw video with MTCNN: auto = where the model was trained on face "
                              "crops (DFEW's face-frame folders)")
    predict.add_argument("--format", choices=["table", "csv", "json"], default="table")
    predict.add_argument("--threshold", type=_finite, default=0.0,
                         help="multilabel: a label is predicted when its logit exceeds this (default 0)")
    predict.add_argument("--cache-dir", type=_path)
    predict.add_argument("--no-progress", action="store_true")

    split_file = sub.add_parser("splits", help="write the folds a protocol draws to a split file, or verify one")
    split_file.add_argument("protocol")
    split_file.add_argument("--data-root", type=_path)
    action = split_file.add_mutually_exclusive_group(required=True)
    action.add_argument("--out", type=_path, help="write the split file here (atomically)")
    action.add_argument("--verify", type=_path, help="compare the folds drawn now with this split file; exit 1 if they differ")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``bench`` console script; returns the process exit code.

    While a command runs, SIGTERM stops it the way Ctrl-C does (exit 143 instead of 130), unless
    something else already handles SIGTERM in this process (submitit inside a job: its own
    handling stays).
    """
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    module_name, function = _HANDLERS[args.command].split(":")
    try:
        with _sigterm_stops():
            code = getattr(importlib.import_module(module_name), function)(args)
    except BenchError as exc:
        if args.debug:
            raise
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except OSError as exc:  # a file-system fault no command turned into a BenchError: still one line
        if args.debug:
            raise
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"error: {where}{exc.strerror or exc} (errno {exc.errno}); nothing was half-written", file=sys.stderr)
        return 1
    except KeyboardInterrupt as exc:
        terminated = isinstance(exc, Terminated) or getattr(exc, "exit_code", 130) == Terminated.exit_code
        print(str(exc) if isinstance(exc, Interrupted) else
              f"{'terminated (SIGTERM)' if terminated else 'interrupted'}: stopped; what was finished is kept (cells, "
              "cache entries), nothing is half-written; run the same command again to continue", file=sys.stderr)
        return Terminated.exit_code if terminated else 130
    return int(code or 0)


@contextlib.contextmanager
def _sigterm_stops() -> Iterator[None]:
    """SIGTERM raises :class:`~bench.errors.Terminated` during the block, where SIGTERM had its default action."""
    if threading.current_thread() is not threading.main_thread() or \
            signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        yield
        return
    signal.signal(signal.SIGTERM, raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


if __name__ == "__main__":
    sys.exit(main())
