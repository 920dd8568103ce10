"""Command-line entry points of :mod:`record.data`: ``record data check`` and ``record simulate``."""

from __future__ import annotations

import argparse
import sys

from record.data.check import check_carrada, check_rod2021

__all__ = ["data_main"]

LAYOUTS = ("rod2021", "carrada")


def _data_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="record data", description="Dataset tools.")
    commands = parser.add_subparsers(dest="command", required=True)
    check = commands.add_parser(
        "check",
        help="validate a dataset tree and list every problem",
        description="Validate a ROD2021 or CARRADA tree: list every problem grouped by kind with counts; "
        "exit status 1 when anything is wrong, 0 with a summary line when all is fine.",
    )
    check.add_argument("root", help="dataset root (ROD2021: holds sequences/; CARRADA: the Carrada/ folder)")
    check.add_argument("--layout", choices=LAYOUTS, required=True)
    check.add_argument("--rad-root", help="CARRADA: the separate Carrada_RAD tree to check as well")
    check.add_argument("--window", type=int, default=5, help="CARRADA: frames of history windows need (default 5)")
    check.add_argument("--deep", action="store_true", help="also read every array (finite values, one-hot masks)")
    check.add_argument("--limit", type=int, default=20, help="problems listed per kind (0: all; counts are exact)")
    check.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    return parser


def data_main(argv: list[str]) -> int:
    """``record data check ROOT --layout {rod2021,carrada}``: 0 when the tree is valid, 1 otherwise."""
    args = _data_parser().parse_args(argv)
    progress = not args.no_progress and sys.stderr.isatty()
    if args.layout == "rod2021":
        report = check_rod2021(args.root, deep=args.deep, progress=progress)
    else:
        report = check_carrada(args.root, rad_root=args.rad_root, window=args.window, deep=args.deep, progress=progress)
    print(report.render(limit=args.limit or None))
    return 0 if report.ok else 1
