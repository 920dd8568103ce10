"""``record export`` and ``record parity``."""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path

from record.errors import ConfigError, describe

__all__ = ["export_main", "parity_main"]

_EXPORT_HELP = """\
Export the online step of a project checkpoint (any registered model) for deployment: an ONNX graph with the
recurrent state as explicit inputs/outputs (frames then <state>_in -> logits then <state>_out), a dynamic
batch (stream) axis, opset 18, weights inside, and the deployment spec (classes, activation, dataset, input
layout and normalisation, state shapes, code version, checkpoint hash) in its metadata; or, with --format
tensorrt, a TensorRT engine built from it on this GPU. Files are written atomically."""

_PARITY_HELP = """\
Replay one sequence through several runtime backends closed-loop (each keeps its own state) and print, per
step and worst, the max-abs difference of scores and states against the first backend, and detection-level
agreement (ROD2021: same detections after the published post-processing; CARRADA: same argmax labels).
Simulated frames by default."""


def _size(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer (found {value})")
    return value


def _export_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="record export", formatter_class=argparse.RawDescriptionHelpFormatter,
        description=_EXPORT_HELP)
    parser.add_argument("checkpoint", help="project checkpoint (record train / record convert-checkpoint)")
    parser.add_argument("--format", choices=("onnx", "tensorrt"), default="onnx",
                        help="onnx (default), or tensorrt: the ONNX plus an engine built with TensorRT >= 10 "
                             "(needs an NVIDIA GPU and the tensorrt package)")
    parser.add_argument("--fp16", action="store_true",
                        help="half-precision weights and arithmetic with float32 frames, logits and states "
                             "(normalisations stay float32); TensorRT builds it strongly typed")
    parser.add_argument("--size", nargs=2, type=_size, metavar=("H", "W"),
                        help="frame size in bins (default: the model's, e.g. 128 128 for ROD2021; "
                             "MV-RECORD: the RD size); must divide by the network stride")
    parser.add_argument("--out", type=Path,
                        help="output file (default export/<model>_<H>x<W>_<precision>.onnx; the engine goes "
                             "beside it with the suffix .engine)")
    parser.add_argument("--max-streams", type=_size, default=8,
                        help="tensorrt: largest number of streams (batch) the engine accepts (default 8)")
    parser.add_argument("--workspace-mib", type=_size, default=1024,
                        help="tensorrt: builder workspace in MiB (default 1024)")
    return parser


def export_main(argv: Sequence[str]) -> int:
    args = _export_parser().parse_args(argv)
    from record.runtime.export import export_onnx

    result = export_onnx(args.checkpoint, args.out, fp16=args.fp16,
                         size=tuple(args.size) if args.size else None)
    spec = result.spec
    shapes = ", ".join(f"{t.name} {list(t.shape)}" for t in (*spec.frames, *spec.logits))
    print(f"wrote {result.path} ({spec.model}, {spec.dataset}, {spec.precision}; {shapes}; "
          f"{len(spec.states)} state tensors)")
    if args.format == "tensorrt":
        from record.runtime.tensorrt_backend import build_engine

        engine = build_engine(result.path, result.path.with_suffix(".engine"), max_streams=args.max_streams,
                              workspace_mib=args.workspace_mib)
        print(f"wrote {engine} (TensorRT engine for this GPU and TensorRT version)")
    return 0


def _parity_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="record parity", formatter_class=argparse.RawDescriptionHelpFormatter,
        description=_PARITY_HELP)
    parser.add_argument("source", help="project checkpoint or exported .onnx (torch uses the checkpoint an "
                                       "ONNX file records)")
    parser.add_argument("--backends", default="torch,onnxruntime",
                        help="comma-separated, the first is the reference (default torch,onnxruntime)")
    parser.add_argument("--steps", type=_size, default=200, help="closed-loop steps (default 200)")
    parser.add_argument("--data", type=Path,
                        help="dataset root (ROD2021 root, or the CARRADA 'Carrada' folder) instead of a "
                             "simulated sequence")
    parser.add_argument("--sequence", help="sequence of --data (default: the first test sequence)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the simulated sequence (default 0)")
    parser.add_argument("--device", help="device of the torch and tensorrt backends (default: cpu for torch, "
                                         "cuda for tensorrt)")
    parser.add_argument("--threads", type=_size, default=None, help="CPU threads per backend")
    parser.add_argument("--every", type=_size, default=20, help="print every N-th step (default 20)")
    parser.add_argument("--atol", type=float, default=None,
                        help="exit with status 1 when a score differs by more than this, or a step's "
                             "detections disagree")
    parser.add_argument("--state-rtol", type=float, default=None,
                        help="exit with status 1 when a state differs by more than this fraction of the "
                             "state's magnitude")
    parser.add_argument("--json", action="store_true", help="print the report as one JSON object")
    return parser


def _open(source: str, backend: str, device: str | None, threads: int | None):
    from record.runtime.registry import open_runtime

    options: dict[str, object] = {"device": device or ("cuda" if backend == "tensorrt" else "cpu")}
    if backend == "onnxruntime":
        options["device"] = "cpu"
    if backend != "tensorrt" and threads is not None:
        options["threads"] = threads
    return open_runtime(source, backend, **options)


def parity_main(argv: Sequence[str]) -> int:
    args = _parity_parser().parse_args(argv)
    from record.runtime.parity import run_parity
    from record.runtime.sequences import dataset_frames, synthetic_frames

    backends = [b for b in args.backends.split(",") if b]
    if len(backends) < 2 or len(set(backends)) != len(backends):
        raise ConfigError(describe("--backends", "name at least two different backends", found=args.backends))
    runtimes = {name: _open(args.source, name, args.device, args.threads) for name in backends}
    spec = runtimes[backends[0]].spec
    if args.data is not None:
        frames = dataset_frames(spec, args.data, args.sequence)
    else:
        frames = synthetic_frames(spec, args.steps, seed=args.seed)
    report = run_parity(runtimes, frames, args.steps)
    print(json.dumps(report.to_dict()) if args.json else report.table(args.every))
    worst = [p.worst() for p in report.compared]
    failed = any((args.atol is not None and (w["score_max_abs"] > args.atol or w["min_agreement"] < 1.0))
                 or (args.state_rtol is not None and w["state_max_rel"] > args.state_rtol) for w in worst)
    return 1 if failed else 0
