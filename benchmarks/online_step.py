"""CPU latency of RECORD's online step vs buffer mode, optimised vs a plain baseline measured in the same run.

    python benchmarks/online_step.py [--json] [--rounds 3] [--threads 2] [--variants baseline,optimized]

Every measurement runs in a fresh worker process (batch 1, eager PyTorch, ``torch.inference_mode``, denormals
flushed, weights and inputs seeded identically), because the allocator tuning is process-wide. Workers of the
variants alternate over ``--rounds`` rounds so that load from other processes hits them alike; the reported
figures are medians and 99th percentiles over all rounds.

Variants:
  baseline        the published structure: one convolution + GroupNorm per LSTM gate, NCHW, default malloc
  fused           + the LSTM gates as one convolution and one GroupNorm(4) (the model's code path)
  channels_last   + channels-last weights and activations (``prepare_for_inference``)
  optimized       + glibc malloc thresholds (``configure_cpu_inference``): what ``record`` runtimes use
  compiled        optimized + ``torch.compile`` of encoder and decoder (slow to build; off by default)

Output (``--json``): ``rod2021_step_ms``, ``rod2021_step_p99_ms``, ``rod2021_buffer_frame_ms`` (T = 12, one
window per output frame), ``mv_record_step_ms``, ... for the optimised variant, the same keys prefixed with
``baseline_``, speed-ups, the buffer/online ratio, and the numerical differences the optimisations introduce.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from record.models import create_model
from record.models.inference import configure_cpu_inference, prepare_for_inference
from record.models.layers import LEAKY_SLOPE, BottleneckLSTMCell

VARIANTS = ("baseline", "fused", "channels_last", "optimized", "compiled")
DEFAULT_VARIANTS = ("baseline", "optimized")
ROD_WINDOW = 12
N_FRAMES = 8  # distinct input frames, cycled


def _per_gate_cell_forward(cell: BottleneckLSTMCell, x, h, c):
    """The published cell structure: one 1x1 convolution and one GroupNorm per gate (the baseline)."""
    b = cell.Wi(cell.Wy(torch.cat((cell.W(x), h), dim=1)))
    input_gate, forget_gate, output_gate = (torch.sigmoid(norm(conv(b))) for conv, norm in (
        (cell.Wbi, cell.norm_wbi), (cell.Wbf, cell.norm_wbf), (cell.Wbo, cell.norm_wbo)))
    c_new = forget_gate * c + input_gate * F.leaky_relu(cell.norm_wbc(cell.Wbc(b)), LEAKY_SLOPE)
    return output_gate * F.leaky_relu(c_new, LEAKY_SLOPE), c_new


def _build(name: str, variant: str) -> torch.nn.Module:
    torch.manual_seed(0)
    model = create_model(name)
    return prepare_for_inference(model, channels_last=variant in ("channels_last", "optimized", "compiled"))


def _time_ms(function, repeats: int, warmup: int = 2) -> list[float]:
    for _ in range(warmup):
        function()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append((time.perf_counter() - start) * 1e3)
    return times


def _stream(model, frames, repeats: int):
    """Time ``repeats`` online steps over the cycled frames, carrying the state; return times and last logits."""
    carried = {"state": model.zero_state(1, *model.config.input_size), "count": 0, "logits": None}

    def step():
        frame = frames[carried["count"] % len(frames)]
        carried["logits"], carried["state"] = model.step(frame, carried["state"])
        carried["count"] += 1

    return _time_ms(step, repeats), carried["logits"]


def _worker(variant: str, steps: int, mv_steps: int, windows: int, threads: int, out: Path) -> None:
    settings = configure_cpu_inference(threads, tune_allocator=variant in ("optimized", "compiled"))
    if variant == "baseline":
        BottleneckLSTMCell.forward = _per_gate_cell_forward  # type: ignore[method-assign]
    generator = torch.Generator().manual_seed(1)
    results: dict[str, object] = {"settings": settings}
    tensors: dict[str, object] = {}
    with torch.inference_mode():
        for name, repeats in (("record_rod2021", steps), ("mv_record", mv_steps)):
            model = _build(name, variant)
            if variant == "compiled":
                for part in ("encoder", "decoder", "rd_encoder", "ra_encoder", "ad_encoder", "rd_decoder",
                             "ra_decoder"):
                    if hasattr(model, part):
                        setattr(model, part, torch.compile(getattr(model, part)))
            frames = [model.example_input(1, generator=generator) for _ in range(N_FRAMES)]
            times, logits = _stream(model, frames, repeats)
            results[f"{name}_step_ms"] = times
            tensors[f"{name}_step_logits"] = logits
            if name == "record_rod2021":
                window = model.example_input(1, window=ROD_WINDOW, generator=generator)
                results["rod2021_buffer_frame_ms"] = _time_ms(lambda: model(window), windows, warmup=1)
                buffer_logits = model(window)
                state = model.zero_state(1, *model.config.input_size)
                for t in range(ROD_WINDOW):
                    online_logits, state = model.step(window[:, :, t], state)
                tensors["rod2021_buffer_logits"] = buffer_logits
                results["rod2021_buffer_vs_online_max_abs_diff"] = float((online_logits - buffer_logits).abs().max())
    torch.save(tensors, out.with_suffix(".pt"))
    out.write_text(json.dumps(results))


def _run_worker(variant: str, args: argparse.Namespace, folder: Path, round_index: int) -> dict:
    out = folder / f"{variant}-{round_index}.json"
    command = [sys.executable, __file__, "--worker", variant, "--out", str(out), "--steps", str(args.steps),
               "--mv-steps", str(args.mv_steps), "--windows", str(args.windows), "--threads", str(args.threads)]
    subprocess.run(command, check=True)
    result = json.loads(out.read_text())
    result["tensors"] = torch.load(out.with_suffix(".pt"), weights_only=True)
    return result


def _percentiles(samples: list[float]) -> tuple[float, float]:
    return statistics.median(samples), float(np.percentile(samples, 99))


def _max_abs_diff(a, b) -> float:
    if isinstance(a, dict):
        return max(_max_abs_diff(a[key], b[key]) for key in a)
    return float((a.float() - b.float()).abs().max())


def _summarize(runs: dict[str, list[dict]], args: argparse.Namespace, load: tuple) -> dict[str, object]:
    summary: dict[str, object] = {}
    main = "optimized" if "optimized" in runs else args.variants[-1]
    for variant, results in runs.items():
        prefix = "" if variant == main else f"{variant}_"
        for key in ("record_rod2021_step_ms", "mv_record_step_ms", "rod2021_buffer_frame_ms"):
            samples = [t for result in results for t in result[key]]
            median, p99 = _percentiles(samples)
            short = key.replace("record_rod2021", "rod2021")
            summary[f"{prefix}{short}"] = round(median, 2)
            summary[f"{prefix}{short.removesuffix('_ms')}_p99_ms"] = round(p99, 2)
        summary[f"{prefix}rod2021_buffer_online_ratio"] = round(
            summary[f"{prefix}rod2021_buffer_frame_ms"] / summary[f"{prefix}rod2021_step_ms"], 2)
        summary[f"{prefix}rod2021_buffer_vs_online_max_abs_diff"] = max(
            result["rod2021_buffer_vs_online_max_abs_diff"] for result in results)
    if "baseline" in runs and main != "baseline":
        for key in ("rod2021_step_ms", "mv_record_step_ms", "rod2021_buffer_frame_ms"):
            summary[f"{key.removesuffix('_ms')}_speedup"] = round(summary[f"baseline_{key}"] / summary[key], 2)
        baseline, optimized = runs["baseline"][0]["tensors"], runs[main][0]["tensors"]
        summary["max_abs_logit_diff_vs_baseline"] = {
            key: _max_abs_diff(optimized[key], baseline[key]) for key in sorted(optimized)}
    summary["settings"] = {
        "variant": main, "variants": list(runs), "rounds": args.rounds, "steps_per_round": args.steps,
        "mv_steps_per_round": args.mv_steps, "windows_per_round": args.windows, "threads": args.threads,
        "batch": 1, "rod2021_input": [8, 128, 128], "rod2021_window": ROD_WINDOW,
        "mv_record_inputs": {"rd": [1, 256, 64], "ra": [1, 256, 256], "ad": [1, 256, 64]},
        "torch": torch.__version__, "cpus": os.cpu_count(), "load_average_before_after": load,
        "worker": runs[main][0]["settings"],
    }
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds of worker processes")
    parser.add_argument("--steps", type=int, default=30, help="timed record_rod2021 steps per round")
    parser.add_argument("--mv-steps", type=int, default=12, help="timed mv_record steps per round")
    parser.add_argument("--windows", type=int, default=6, help="timed 12-frame windows per round")
    parser.add_argument("--threads", type=int, default=2, help="intra-op threads")
    parser.add_argument("--variants", default=",".join(DEFAULT_VARIANTS),
                        help=f"comma-separated, from {', '.join(VARIANTS)}")
    parser.add_argument("--worker", choices=VARIANTS, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        _worker(args.worker, args.steps, args.mv_steps, args.windows, args.threads, args.out)
        return 0
    args.variants = [v for v in args.variants.split(",") if v]
    unknown = sorted(set(args.variants) - set(VARIANTS))
    if unknown:
        parser.error(f"unknown variants {unknown}")
    load_before = os.getloadavg()
    runs: dict[str, list[dict]] = {variant: [] for variant in args.variants}
    with tempfile.TemporaryDirectory() as folder:
        for round_index in range(args.rounds):
            for variant in args.variants:
                runs[variant].append(_run_worker(variant, args, Path(folder), round_index))
    summary = _summarize(runs, args, (load_before, os.getloadavg()))
    if args.json:
        print(json.dumps(summary))
    else:
        for key, value in summary.items():
            print(f"{key:>44}: {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
