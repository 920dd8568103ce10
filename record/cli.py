"""The ``record`` command.

Subcommands live in the subpackage that owns them and are imported only when called, so ``record --help`` and
light commands start fast. Each entry point takes the remaining arguments and returns an exit status.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Sequence

from record.errors import RecordError

__all__ = ["COMMANDS", "main"]

# name -> ("module:function", one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "demo": ("record.demo:main", "run the main job on the embedded synthetic default and write its pictures"),
    "simulate": ("record.data.commands:simulate_main", "write a synthetic dataset in the ROD2021 or CARRADA layout"),
    "data": ("record.data.commands:data_main", "dataset tools (`record data check ROOT --layout ...`)"),
    "models": ("record.models.commands:models_main", "list the registered models with parameters and GMACs"),
    "convert-checkpoint": (
        "record.models.commands:convert_main",
        "convert a published RECORD checkpoint to this project's modules",
    ),
    "score": ("record.eval.commands:score_main", "score saved predictions (`record score rod2021|carrada ...`)"),
    "train": ("record.train.commands:train_main", "train a model (Hydra overrides: dataset=... model=... mode=...)"),
    "evaluate": ("record.train.commands:evaluate_main", "evaluate a checkpoint online over a dataset (Hydra overrides)"),
    "export": ("record.runtime.commands:export_main", "export the online step to ONNX (explicit state) or TensorRT"),
    "parity": ("record.runtime.commands:parity_main", "compare runtime backends closed-loop on one sequence"),
    "replay": ("record.ros.commands:replay_main", "run the ROS node's detector core over a rosbag2 bag, no DDS"),
    "play": ("record.ros.commands:play_main", "publish a rosbag2 bag's topics over rclpy (ros2 bag play stand-in)"),
}


def _usage() -> str:
    width = max(len(name) for name in COMMANDS)
    lines = ["usage: record <command> [args...]", "", "commands:"]
    lines += [f"  {name:<{width}}  {help_text}" for name, (_, help_text) in COMMANDS.items()]
    lines += ["", "`record <command> --help` describes a command's arguments."]
    return "\n".join(lines)


def _resolve(target: str) -> Callable[[list[str]], int]:
    module_name, function_name = target.split(":")
    return getattr(importlib.import_module(module_name), function_name)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``record`` console script."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in {"-h", "--help"}:
        print(_usage())
        return 0 if args else 2
    name, rest = args[0], args[1:]
    if name not in COMMANDS:
        print(f"record: unknown command {name!r}\n\n{_usage()}", file=sys.stderr)
        return 2
    entry = _resolve(COMMANDS[name][0])
    try:
        return int(entry(rest) or 0)
    except RecordError as error:
        print(f"record {name}: error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
