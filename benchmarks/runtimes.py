"""Latency of one online step per runtime backend, against the published-structure baseline in the same run.

    python benchmarks/runtimes.py [--json] [--rounds 8] [--threads 2] [--device cpu|cuda] [--variants ...]

Every variant runs in its own worker process (batch 1, one stream, ``--threads`` intra-op threads, denormals
flushed, the same seeded weights and simulated-size random frames); the baseline is
`benchmarks/online_step.py`'s ``baseline`` worker (the published structure: one convolution + GroupNorm per
LSTM gate, NCHW, eager). The parent interleaves small chunks of timed steps over ``--rounds`` rounds, so load
from other processes hits every variant alike; figures are medians and 99th percentiles over all chunks. Each
step includes what a caller pays: the frame check, the copy in, inference, the activation and the scores back
on the host.

CPU variants: ``torch`` (eager, channels-last), ``onnxruntime`` (FP32 export, I/O binding),
``onnxruntime_nospin`` (the same with worker threads that sleep: better when other processes share the cores),
``openvino`` (the FP32 export, GroupNorms fused, float32 arithmetic) and ``openvino_bf16`` (the same with
bfloat16 convolutions: reduced precision, check it with ``record parity``); a variant whose backend is not
installed is skipped and listed under ``unavailable``. CUDA variants (``--device cuda``): ``torch`` (eager) and
``torch_cuda_graph`` (the step replayed from a CUDA graph). Output (``--json``): ``<variant>_<model>_step_ms``
and ``..._p99_ms`` for models ``rod2021`` (record_rod2021) and ``mv_record``, ``baseline_<model>_step_ms``,
``<variant>_<model>_speedup`` (baseline / variant), the best float32 variant per model (``best_<model>``) and
the best of any precision (``best_any_precision_<model>``), and the settings.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from online_step import _Client, worker_command  # benchmarks/ is this script's folder

MODELS = {"rod2021": "record_rod2021", "mv_record": "mv_record"}
CPU_VARIANTS = ("torch", "onnxruntime", "onnxruntime_nospin", "openvino", "openvino_bf16")
REDUCED_PRECISION = ("openvino_bf16",)
CUDA_VARIANTS = ("torch", "torch_cuda_graph")
N_FRAMES = 8  # distinct input frames, cycled


def _open(variant: str, model: str, folder: Path, device: str, threads: int):
    from record.runtime import open_runtime

    checkpoint = folder / f"{model}.pt"
    if variant.startswith("onnxruntime"):
        return open_runtime(folder / f"{model}.onnx", "onnxruntime", threads=threads,
                            spinning=variant != "onnxruntime_nospin")
    if variant.startswith("openvino"):
        return open_runtime(folder / f"{model}.onnx", "openvino", threads=threads,
                            precision="bf16" if variant == "openvino_bf16" else "fp32")
    return open_runtime(checkpoint, "torch", device=device, threads=threads,
                        cuda_graph=variant == "torch_cuda_graph")


class _Worker:
    """One variant in its own process: both models opened once, state carried across timed chunks."""

    def __init__(self, variant: str, folder: Path, device: str, threads: int) -> None:
        from record.models.inference import configure_cpu_inference

        configure_cpu_inference(threads)
        rng = np.random.default_rng(1)
        self.runtimes = {key: _open(variant, name, folder, device, threads) for key, name in MODELS.items()}
        self.frames = {}
        for key, runtime in self.runtimes.items():
            runtime.warmup(3)
            views = [{t.name: rng.random((1, *t.shape), dtype=np.float32) for t in runtime.spec.frames}
                     for _ in range(N_FRAMES)]
            self.frames[key] = views if runtime.spec.multi_view else [v["frame"] for v in views]
        self.count = 0

    def steps(self, key: str, repeats: int) -> list[float]:
        runtime, frames = self.runtimes[key], self.frames[key]
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            runtime.step(frames[self.count % N_FRAMES])
            times.append((time.perf_counter() - start) * 1e3)
            self.count += 1
        return times


def _serve(variant: str, folder: Path, device: str, threads: int) -> None:
    worker = _Worker(variant, folder, device, threads)
    print(json.dumps("ready"), flush=True)
    for line in sys.stdin:
        request = json.loads(line)
        key = {"record_rod2021": "rod2021", "mv_record": "mv_record"}[request["model"]]
        print(json.dumps(worker.steps(key, request["repeats"])), flush=True)


def _unavailable(variant: str) -> str | None:
    """Why ``variant``'s backend cannot run here, or None."""
    from record.runtime import BackendUnavailable, backend_class

    try:
        backend_class(variant.split("_")[0])
    except BackendUnavailable as error:
        return str(error)
    return None


def _prepare(folder: Path, variants: list[str]) -> None:
    """Seeded random weights (timing does not depend on their values) and the exports the variants read."""
    import torch

    from record.models import create_model, save_checkpoint
    from record.runtime.export import export_onnx

    for name in MODELS.values():
        torch.manual_seed(0)
        checkpoint = folder / f"{name}.pt"
        save_checkpoint(create_model(name), checkpoint)
        if any(v.startswith(("onnxruntime", "openvino")) for v in variants):
            export_onnx(checkpoint, folder / f"{name}.onnx")


def _measure(args: argparse.Namespace, folder: Path) -> dict[str, dict[str, list[float]]]:
    commands = {"baseline": worker_command("baseline", args.threads)}
    for variant in args.variants:
        commands[variant] = [sys.executable, __file__, "--worker", variant, "--folder", str(folder),
                             "--device", args.device, "--threads", str(args.threads)]
    clients = {name: _Client(command) for name, command in commands.items()}
    repeats = {"record_rod2021": args.steps, "mv_record": args.mv_steps}
    samples = {name: {model: [] for model in MODELS.values()} for name in clients}
    try:
        for round_index in range(args.rounds):
            order = list(clients) if round_index % 2 == 0 else list(clients)[::-1]
            for model in MODELS.values():
                for name in order:
                    samples[name][model] += clients[name].ask(task="steps", model=model,
                                                              repeats=repeats[model])
    finally:
        for client in clients.values():
            client.close()
    return samples


def _summarize(samples: dict[str, dict[str, list[float]]], args: argparse.Namespace, load: tuple) -> dict:
    summary: dict[str, object] = {}
    for name, per_model in samples.items():
        for key, model in MODELS.items():
            values = per_model[model]
            summary[f"{name}_{key}_step_ms"] = round(statistics.median(values), 2)
            summary[f"{name}_{key}_step_p99_ms"] = round(float(np.percentile(values, 99)), 2)
    for key in MODELS:
        baseline = summary[f"baseline_{key}_step_ms"]
        ratios = {v: round(baseline / summary[f"{v}_{key}_step_ms"], 2) for v in args.variants}
        for variant, ratio in ratios.items():
            summary[f"{variant}_{key}_speedup"] = ratio
        full_precision = [v for v in ratios if v not in REDUCED_PRECISION]
        for label, candidates in ((f"best_{key}", full_precision), (f"best_any_precision_{key}", ratios)):
            if candidates:
                best = max(candidates, key=ratios.get)
                summary[label] = {"variant": best, "step_ms": summary[f"{best}_{key}_step_ms"],
                                  "speedup": ratios[best]}
    summary["settings"] = {"device": args.device, "threads": args.threads, "rounds": args.rounds,
                           "steps_per_round": args.steps, "mv_steps_per_round": args.mv_steps, "batch": 1,
                           "variants": args.variants, "cpus": os.cpu_count(),
                           "load_average_before_after": load}
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--rounds", type=int, default=8, help="rounds of interleaved chunks")
    parser.add_argument("--steps", type=int, default=10, help="timed record_rod2021 steps per chunk")
    parser.add_argument("--mv-steps", type=int, default=3, help="timed mv_record steps per chunk")
    parser.add_argument("--threads", type=int, default=2, help="intra-op threads")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--variants", help="comma-separated (default: every variant of the device)")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--folder", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        _serve(args.worker, args.folder, args.device, args.threads)
        return 0
    known = CUDA_VARIANTS if args.device == "cuda" else CPU_VARIANTS
    args.variants = [v for v in (args.variants or ",".join(known)).split(",") if v]
    unknown = sorted(set(args.variants) - set(known))
    if unknown:
        parser.error(f"unknown variants for {args.device}: {unknown} (known: {', '.join(known)})")
    unavailable = {v: reason for v in args.variants if (reason := _unavailable(v))}
    args.variants = [v for v in args.variants if v not in unavailable]
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="record-runtimes-") as folder:
        _prepare(Path(folder), args.variants)
        samples = _measure(args, Path(folder))
    summary = _summarize(samples, args, (load_before, os.getloadavg()))
    summary["unavailable"] = unavailable
    if args.json:
        print(json.dumps(summary))
    else:
        for key, value in summary.items():
            print(f"{key:>40}: {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
