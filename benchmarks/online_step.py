"""CPU latency of RECORD's online step vs buffer mode, optimised vs a plain baseline measured in the same run.

    python benchmarks/online_step.py [--json] [--rounds 8] [--threads 2] [--variants baseline,optimized]

Each variant runs in its own worker process (batch 1, eager PyTorch, ``torch.inference_mode``, denormals
flushed, weights and inputs seeded identically), because the allocator tuning is process-wide. The parent
interleaves small chunks of timed work across the workers (online steps carry their state from chunk to chunk)
over ``--rounds`` rounds, so that load from other processes hits every variant alike; the figures are medians
and 99th percentiles over all chunks. On a shared machine, run it when the load average is low: two OpenMP
threads competing with other processes for two cores slow tiny convolutions down by an order of magnitude.

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


def _time_ms(function, repeats: int) -> list[float]:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append((time.perf_counter() - start) * 1e3)
    return times


class _Worker:
    """One variant in its own process: both models built once, state carried across timed chunks."""

    def __init__(self, variant: str, threads: int) -> None:
        self.settings = configure_cpu_inference(threads, tune_allocator=variant in ("optimized", "compiled"))
        if variant == "baseline":
            BottleneckLSTMCell.forward = _per_gate_cell_forward  # type: ignore[method-assign]
        generator = torch.Generator().manual_seed(1)
        self.models = {name: _build(name, variant) for name in ("record_rod2021", "mv_record")}
        if variant == "compiled":
            for model in self.models.values():
                for part, module in list(model.named_children()):
                    setattr(model, part, torch.compile(module))
        self.frames = {name: [model.example_input(1, generator=generator) for _ in range(N_FRAMES)]
                       for name, model in self.models.items()}
        self.window = self.models["record_rod2021"].example_input(1, window=ROD_WINDOW, generator=generator)
        self.states = {name: model.zero_state(1, *model.config.input_size)
                       for name, model in self.models.items()}
        self.count = 0
        for name in self.models:  # warm-up (and compilation for the compiled variant)
            self.steps(name, 3)
        self.buffer(1)

    def steps(self, name: str, repeats: int) -> list[float]:
        model, frames = self.models[name], self.frames[name]

        def step() -> None:
            _, self.states[name] = model.step(frames[self.count % len(frames)], self.states[name])
            self.count += 1

        return _time_ms(step, repeats)

    def buffer(self, repeats: int) -> list[float]:
        model = self.models["record_rod2021"]
        return _time_ms(lambda: model(self.window), repeats)

    def finish(self, path: Path) -> dict[str, object]:
        """Outputs from a fresh state (compared across variants) and the buffer-vs-online difference."""
        tensors = {}
        for name, model in self.models.items():
            state = model.zero_state(1, *model.config.input_size)
            for frame in self.frames[name]:
                logits, state = model.step(frame, state)
            tensors[f"{name}_step_logits"] = logits
        model = self.models["record_rod2021"]
        tensors["rod2021_buffer_logits"] = buffer_logits = model(self.window)
        state = model.zero_state(1, *model.config.input_size)
        for t in range(ROD_WINDOW):
            online_logits, state = model.step(self.window[:, :, t], state)
        torch.save(tensors, path)
        difference = float((online_logits - buffer_logits).abs().max())
        return {"settings": self.settings, "rod2021_buffer_vs_online_max_abs_diff": difference}


def _serve(variant: str, threads: int) -> None:
    """Worker loop: one JSON request per stdin line, one JSON reply per stdout line."""
    with torch.inference_mode():
        worker = _Worker(variant, threads)
        print(json.dumps("ready"), flush=True)
        for line in sys.stdin:
            request = json.loads(line)
            if request["task"] == "steps":
                reply = worker.steps(request["model"], request["repeats"])
            elif request["task"] == "buffer":
                reply = worker.buffer(request["repeats"])
            else:
                reply = worker.finish(Path(request["path"]))
            print(json.dumps(reply), flush=True)


class _Client:
    """A worker process answering one JSON request per stdin line with one JSON reply per stdout line (also
    used by benchmarks/runtimes.py)."""

    def __init__(self, command: list[str]) -> None:
        self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.receive()

    def receive(self):
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"benchmark worker exited with status {self.process.wait()}")
        return json.loads(line)

    def ask(self, **request):
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()
        return self.receive()

    def close(self) -> None:
        self.process.stdin.close()
        self.process.wait()


def worker_command(variant: str, threads: int) -> list[str]:
    """The command line of a worker process serving ``variant``."""
    return [sys.executable, __file__, "--worker", variant, "--threads", str(threads)]


def _max_abs_diff(a, b) -> float:
    if isinstance(a, dict):
        return max(_max_abs_diff(a[key], b[key]) for key in a)
    return float((a.float() - b.float()).abs().max())


#: Timed tasks of one round: (result key, worker request).
TASKS = (
    ("rod2021_step_ms", {"task": "steps", "model": "record_rod2021"}),
    ("mv_record_step_ms", {"task": "steps", "model": "mv_record"}),
    ("rod2021_buffer_frame_ms", {"task": "buffer"}),
)


def _measure(args: argparse.Namespace, folder: Path) -> tuple[dict, dict, dict]:
    """Interleave the variants' workers chunk by chunk; return samples, finish reports and saved outputs."""
    repeats = {"rod2021_step_ms": args.steps, "mv_record_step_ms": args.mv_steps,
               "rod2021_buffer_frame_ms": args.windows}
    clients = {variant: _Client(worker_command(variant, args.threads)) for variant in args.variants}
    samples = {variant: {key: [] for key, _ in TASKS} for variant in args.variants}
    try:
        for round_index in range(args.rounds):
            order = args.variants if round_index % 2 == 0 else args.variants[::-1]
            for key, request in TASKS:
                for variant in order:
                    samples[variant][key] += clients[variant].ask(**request, repeats=repeats[key])
        reports = {variant: client.ask(task="finish", path=str(folder / f"{variant}.pt"))
                   for variant, client in clients.items()}
    finally:
        for client in clients.values():
            client.close()
    outputs = {variant: torch.load(folder / f"{variant}.pt", weights_only=True) for variant in args.variants}
    return samples, reports, outputs


def _summarize(samples: dict, reports: dict, outputs: dict, args: argparse.Namespace, load: tuple
               ) -> dict[str, object]:
    summary: dict[str, object] = {}
    main = "optimized" if "optimized" in samples else args.variants[-1]
    for variant, timings in samples.items():
        prefix = "" if variant == main else f"{variant}_"
        for key, values in timings.items():
            summary[f"{prefix}{key}"] = round(statistics.median(values), 2)
            summary[f"{prefix}{key.removesuffix('_ms')}_p99_ms"] = round(float(np.percentile(values, 99)), 2)
        ratio = summary[f"{prefix}rod2021_buffer_frame_ms"] / summary[f"{prefix}rod2021_step_ms"]
        summary[f"{prefix}rod2021_buffer_online_ratio"] = round(ratio, 2)
        difference = reports[variant]["rod2021_buffer_vs_online_max_abs_diff"]
        summary[f"{prefix}rod2021_buffer_vs_online_max_abs_diff"] = difference
    for variant in samples:
        if variant == main:
            continue
        for key, _ in TASKS:
            speedup = summary[f"{variant}_{key}"] / summary[key]
            summary[f"{key.removesuffix('_ms')}_speedup_vs_{variant}"] = round(speedup, 2)
        summary[f"max_abs_logit_diff_vs_{variant}"] = {
            key: _max_abs_diff(outputs[main][key], outputs[variant][key]) for key in sorted(outputs[main])}
    summary["settings"] = {
        "variant": main, "variants": list(samples), "rounds": args.rounds, "steps_per_round": args.steps,
        "mv_steps_per_round": args.mv_steps, "windows_per_round": args.windows, "threads": args.threads,
        "batch": 1, "rod2021_input": [8, 128, 128], "rod2021_window": ROD_WINDOW,
        "mv_record_inputs": {"rd": [1, 256, 64], "ra": [1, 256, 256], "ad": [1, 256, 64]},
        "torch": torch.__version__, "cpus": os.cpu_count(), "load_average_before_after": load,
        "worker": reports[main]["settings"],
    }
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--rounds", type=int, default=8, help="rounds of interleaved chunks")
    parser.add_argument("--steps", type=int, default=10, help="timed record_rod2021 steps per chunk")
    parser.add_argument("--mv-steps", type=int, default=3, help="timed mv_record steps per chunk")
    parser.add_argument("--windows", type=int, default=2, help="timed 12-frame windows per chunk")
    parser.add_argument("--threads", type=int, default=2, help="intra-op threads")
    parser.add_argument("--variants", default=",".join(DEFAULT_VARIANTS),
                        help=f"comma-separated, from {', '.join(VARIANTS)}")
    parser.add_argument("--worker", choices=VARIANTS, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        _serve(args.worker, args.threads)
        return 0
    args.variants = list(dict.fromkeys(v for v in args.variants.split(",") if v))
    unknown = sorted(set(args.variants) - set(VARIANTS))
    if unknown:
        parser.error(f"unknown variants {unknown}")
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as folder:
        samples, reports, outputs = _measure(args, Path(folder))
    summary = _summarize(samples, reports, outputs, args, (load_before, os.getloadavg()))
    if args.json:
        print(json.dumps(summary))
    else:
        for key, value in summary.items():
            print(f"{key:>48}: {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
