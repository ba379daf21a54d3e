"""The ``bench`` command line: argument parsing and error printing only."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from bench.errors import BenchError


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
    run.add_argument("--modalities", nargs="+", help="use only these of the protocol's modalities")
    run.add_argument("--data-root", type=Path, help="the dataset's folder (default: $BENCH_DATA_<NAME>)")
    run.add_argument("--out", type=Path, default=Path("results"), help="results store root (default: ./results)")
    run.add_argument("--cache-dir", type=Path, help="preprocessing cache (default: $BENCH_CACHE or ~/.cache/bench)")
    run.add_argument("--no-progress", action="store_true", help="no progress bars")

    lst = sub.add_parser("list", help="list registered methods, datasets, protocols or metrics")
    lst.add_argument("what", choices=["methods", "datasets", "protocols", "metrics"])

    sub.add_parser("doctor", help="environment, plugins that failed, protocols, data roots found")

    cache = sub.add_parser("cache", help="inspect or empty the preprocessing cache")
    cache.add_argument("action", choices=["info", "clean"])
    cache.add_argument("--cache-dir", type=Path)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``bench`` console script; returns the process exit code."""
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        if args.command == "run":
            from bench.commands import run_command

            run_command(args)
        elif args.command == "list":
            from bench.commands import list_command

            print(list_command(args.what))
        elif args.command == "doctor":
            from bench.commands import doctor_command

            print(doctor_command())
        elif args.command == "cache":
            from bench.commands import cache_command

            print(cache_command(args.action, args.cache_dir))
    except BenchError as exc:
        if args.debug:
            raise
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted: finished cells are kept; the unfinished one left no record", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
