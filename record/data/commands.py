"""Command-line entry points of :mod:`record.data`: ``record data check`` and ``record simulate``.

``record simulate --bag OUT_BAG`` writes one simulated sequence as a rosbag2 recording of raw ADC frames with
ground truth instead of a dataset (:func:`record.ros.recordings.simulate_bag`).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from record.data.check import check_carrada, check_rod2021
from record.data.synth_common import SplitSize

__all__ = ["data_main", "simulate_main"]

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
    check.add_argument(
        "--window", type=int, default=5, help="CARRADA: frames of history windows need (default 5)"
    )
    check.add_argument(
        "--deep", action="store_true", help="also read every array (finite values, one-hot masks)"
    )
    check.add_argument(
        "--limit", type=int, default=20, help="problems listed per kind (0: all; counts are exact)"
    )
    check.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    return parser


def data_main(argv: list[str]) -> int:
    """``record data check ROOT --layout {rod2021,carrada}``: 0 when the tree is valid, 1 otherwise."""
    args = _data_parser().parse_args(argv)
    progress = not args.no_progress and sys.stderr.isatty()
    if args.layout == "rod2021":
        report = check_rod2021(args.root, deep=args.deep, progress=progress)
    else:
        report = check_carrada(
            args.root, rad_root=args.rad_root, window=args.window, deep=args.deep, progress=progress
        )
    print(report.render(limit=args.limit or None))
    return 0 if report.ok else 1


def _simulate_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="record simulate",
        description="Write a complete synthetic dataset in the ROD2021 or CARRADA layout (simulator + signal chain). "
        "Defaults: ROD2021 4 train x 480 frames, 2 valid and 2 test x 240; CARRADA 3 train, 1 validation, 1 test "
        "x 64 frames. The dataset is built beside DIR and renamed onto it when complete. "
        "With --bag instead of --out: one simulated sequence as a rosbag2 recording of raw ADC frames "
        "(/radar/adc, sensor_msgs/Image, frame id radar, stamped every frame period) with its ground truth "
        "(/radar/ground_truth, vision_msgs/Detection3DArray); --frames gives its length (default 90).",
    )
    parser.add_argument("--layout", choices=LAYOUTS, required=True)
    parser.add_argument("--out", help="destination folder (ROD2021 data root; CARRADA: holds Carrada/)")
    bag = parser.add_argument_group("rosbag2 recording (--bag)")
    bag.add_argument("--bag", metavar="OUT_BAG", help="write a rosbag2 recording here instead of a dataset")
    bag.add_argument("--storage", choices=("sqlite3", "mcap"), default="sqlite3", help="bag storage (default sqlite3)")
    bag.add_argument(
        "--scenario", default="default", help="simulator scenario: default, clear or temporal (default: default)"
    )
    bag.add_argument(
        "--adc-encoding", choices=("32FC2", "16SC2"), default="32FC2",
        help="raw ADC as complex float32 or complex int16 counts (ROD2021 only; default 32FC2)",
    )
    bag.add_argument(
        "--kept-loops", action="store_true",
        help="ROD2021: only the 4 kept chirp loops per frame (default: all 255, as the sensor sends them)",
    )
    parser.add_argument("--seed", type=int, default=0, help="dataset seed (default 0)")
    parser.add_argument("--train-sequences", type=int, help="sequences in the train split")
    parser.add_argument("--valid-sequences", type=int, help="sequences in the valid / validation split")
    parser.add_argument("--test-sequences", type=int, help="sequences in the test split")
    parser.add_argument("--frames", type=int, help="frames per train sequence")
    parser.add_argument("--eval-frames", type=int, help="frames per valid / test sequence")
    parser.add_argument(
        "--plain", action="store_true", help="ROD2021: plain layout (valid sequences in train/)"
    )
    parser.add_argument(
        "--rad", action="store_true", help="CARRADA: also write the Carrada_RAD tree (16.8 MB/frame)"
    )
    parser.add_argument("--overwrite", action="store_true", help="replace a non-empty --out folder")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    parser.add_argument("--no-check", action="store_true", help="skip `record data check` of the result")
    return parser


def _sizes(args: argparse.Namespace, defaults: dict[str, SplitSize]) -> dict[str, SplitSize]:
    """Split sizes from the defaults overridden by the command-line options (keys: train, valid, test)."""
    counts = {"train": args.train_sequences, "valid": args.valid_sequences, "test": args.test_sequences}
    frames = {"train": args.frames, "valid": args.eval_frames, "test": args.eval_frames}
    return {
        split: SplitSize(
            default.sequences if counts[split] is None else counts[split],
            default.frames if frames[split] is None else frames[split],
        )
        for split, default in defaults.items()
    }


def _simulate_bag(parser: argparse.ArgumentParser, args: argparse.Namespace, progress: bool) -> int:
    from record.ros.recordings import simulate_bag

    dataset_only = ("train_sequences", "valid_sequences", "test_sequences", "eval_frames", "plain", "rad")
    given = [f"--{name.replace('_', '-')}" for name in dataset_only if getattr(args, name) not in (None, False)]
    if given:
        parser.error(f"{', '.join(given)}: dataset options, not for --bag")
    path = simulate_bag(
        args.bag, args.layout, frames=90 if args.frames is None else args.frames, seed=args.seed,
        storage=args.storage, scenario=args.scenario, adc_encoding=args.adc_encoding,
        all_loops=not args.kept_loops, overwrite=args.overwrite, progress=progress and sys.stderr.isatty(),
    )
    print(f"wrote {args.layout} bag: {Path(path).absolute()}")
    return 0


def simulate_main(argv: list[str]) -> int:
    """``record simulate --layout {rod2021,carrada} --out DIR [options]``: 0 when written (and checked)."""
    from record.data.synth_carrada import CarradaSynthConfig, write_carrada
    from record.data.synth_rod2021 import Rod2021SynthConfig, write_rod2021

    parser = _simulate_parser()
    args = parser.parse_args(argv)
    progress = not args.no_progress
    if (args.out is None) == (args.bag is None):
        parser.error("give exactly one of --out DIR (dataset) and --bag OUT_BAG (rosbag2 recording)")
    if args.bag is not None:
        return _simulate_bag(parser, args, progress)
    defaults = {"storage": "sqlite3", "scenario": "default", "adc_encoding": "32FC2", "kept_loops": False}
    given = [f"--{name.replace('_', '-')}" for name, value in defaults.items() if getattr(args, name) != value]
    if given:
        parser.error(f"{', '.join(given)}: options of --bag recordings")
    if args.layout == "rod2021":
        base = Rod2021SynthConfig()
        sizes = _sizes(args, {"train": base.train, "valid": base.valid, "test": base.test})
        config = Rod2021SynthConfig(sizes["train"], sizes["valid"], sizes["test"], plain=args.plain)
        root = write_rod2021(args.out, config, seed=args.seed, overwrite=args.overwrite, progress=progress)
        check = check_rod2021
    else:
        base = CarradaSynthConfig()
        sizes = _sizes(args, {"train": base.train, "valid": base.validation, "test": base.test})
        config = CarradaSynthConfig(sizes["train"], sizes["valid"], sizes["test"], rad=args.rad)
        root = write_carrada(args.out, config, seed=args.seed, overwrite=args.overwrite, progress=progress)
        rad_root = root.parent / "Carrada_RAD" if args.rad else None
        check = lambda path: check_carrada(path, rad_root=rad_root)
    print(f"wrote {args.layout} dataset: {Path(root).absolute()}")
    if args.no_check:
        return 0
    report = check(root)
    print(report.render())
    return 0 if report.ok else 1
