"""``record models`` and ``record convert-checkpoint``."""

from __future__ import annotations

import argparse
import dataclasses
import json

from record.models._factory import convert_checkpoint
from record.models._registry import list_models
from record.models.summary import summarize_model

__all__ = ["convert_main", "models_main"]


def models_main(argv: list[str]) -> int:
    """Print every registered model with its parameters and GMACs per online frame and per buffer window."""
    parser = argparse.ArgumentParser(
        prog="record models",
        description="List the registered models: parameters, GMACs per online step (one frame) and per "
        "buffer window (T frames, i.e. per output frame with a sliding window), at the default input size.",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON list instead of a table")
    args = parser.parse_args(argv)
    summaries = [summarize_model(name) for name in list_models()]
    if args.json:
        print(json.dumps([dataclasses.asdict(summary) for summary in summaries], indent=2))
        return 0
    print(f"{'model':<22}{'params':>11}{'GMACs/frame':>13}{'GMACs/window':>14}{'T':>4}  "
          f"{'input H x W':<12}  description")
    for s in summaries:
        size = f"{s.input_size[0]} x {s.input_size[1]}"
        print(f"{s.name:<22}{s.parameters:>11,}{s.online_gmacs:>13.3f}{s.buffer_gmacs:>14.3f}{s.window:>4}  "
              f"{size:<12}  {s.description}")
    return 0


def convert_main(argv: list[str]) -> int:
    """Convert a published RECORD checkpoint into a project checkpoint."""
    parser = argparse.ArgumentParser(
        prog="record convert-checkpoint",
        description="Convert a published RECORD checkpoint (bare state_dict, dict with 'state_dict', or a "
        "PyTorch-Lightning checkpoint) to this project's format (weights + model name + config).",
    )
    parser.add_argument("source", help="published checkpoint file (.pt / .ckpt / .pth)")
    parser.add_argument("--model", required=True, choices=list_models(), help="registered model name")
    parser.add_argument("--out", required=True, help="project checkpoint to write (atomically)")
    parser.add_argument("--trust-pickle", action="store_true",
                        help="allow full unpickling (Lightning checkpoints with arbitrary hyper-parameters); "
                        "only for files from a trusted origin")
    args = parser.parse_args(argv)
    payload = convert_checkpoint(args.source, args.model, args.out, trusted=args.trust_pickle)
    n_params = sum(tensor.numel() for tensor in payload["state_dict"].values())
    print(f"wrote {args.out}: {args.model}, {len(payload['state_dict'])} tensors, {n_params:,} parameters")
    return 0
