"""Per-frame cost of the ROS node's detector core on raw radar cubes, and end-to-end latency through the live
node.

    python benchmarks/ros_core.py [--json] [--frames 100] [--threads 2] [--node-frames 100] [--node-rate 5]
        [--no-node] [--node-backend onnxruntime|openvino] [--also openvino] [--cache DIR]

What it measures (ONNX Runtime on this CPU, ``threads`` intra-op threads, denormals flushed, batch 1; the core
figures again for each backend of ``--also``, default ``openvino`` where it is installed, under
``<backend>_rod2021_frame_ms`` etc.):

* **Core** (``rod2021_frame_ms``, ``carrada_mv_frame_ms``): one frame as the node handles it, from the
  received ``sensor_msgs/Image`` to the messages it publishes: ``message_in``
  (:func:`record.ros.messages.input_image`), then the core's stages
  (:meth:`record.ros.core.DetectorCore.process`: ``decode`` of the byte buffer, the ``signal_chain`` (range
  FFT + angle transform; CARRADA also the Doppler FFT and the three dB views), ``inference`` (the exported
  online step with its recurrent state, activation included), ``postprocess`` (ROD2021 peaks + location NMS;
  CARRADA label maps and RA blobs)), then ``encode`` (the Detection3DArray, the MarkerArray and, for CARRADA,
  the mono8 masks). ``total`` is the whole of it. Medians and 99th percentiles over ``frames`` frames after a
  warm-up, cycling through 8 simulated frames with the state carried over. Inputs are what the sensors send:
  ROD2021 raw cubes of all 255 chirp loops (2 x 4 antennas x 128 samples, ``32FC2``, 2 MB; the chain keeps
  loops 0/64/128/192) for ``record_rod2021``, CARRADA raw cubes (64 loops x 2 x 4 x 256 samples) for
  ``mv_record``. Not included: DDS transport and (de)serialisation of the messages (in the node figures).
* **Node** (``node_rod2021_latency_ms``, ``node_rod2021_latency_p99_ms``): ``record_detector`` (onnxruntime,
  ``record_rod2021``) in a private network namespace (:mod:`record.ros.sandbox`), fed by a publisher that
  stamps each 255-loop cube with the wall clock right before publishing it, ``node_rate`` Hz; latency = the
  time the ``Detection3DArray`` arrives back in the publisher's process minus the header stamp (both the
  system clock): serialisation, two DDS hops over the loopback / shared memory, the callback, the core and the
  publication. Fast DDS runs with :data:`record.ros.sandbox.LARGE_DATA_PROFILE` (32 MiB shared-memory
  segment): with its default 0.5 MiB segment most 2 MB best-effort cubes never reach the node
  (``--node-transport default`` shows it: ``node.received`` of ``node.sent``).

Threads: the signal chain (Numba, OpenMP layer) and ONNX Runtime each keep a pool; back to back on 2 cores
their idle threads spin against each other (measured here: the ROD2021 chain took 11 ms back to back, 0.4 ms
with ``OMP_WAIT_POLICY=PASSIVE``). The OpenMP runtime reads the policy once, when it is loaded: the node's core
sets it before its chain loads OpenMP (the ONNX Runtime path imports no torch), and this script sets it at its
very start, before torch (which loads the same OpenMP runtime) is imported; reported as ``omp_wait_policy``.
Until this was so, the script measured the core with spinning OpenMP threads: 28-31 ms instead of 19.5 for
ROD2021 with ONNX Runtime.

Models: the trained ``record_rod2021`` fixture (``tests/fixtures/trained/record_rod2021_demo.pt``) when
present, else seeded random weights (timing does not depend on the weights); ``mv_record`` has random weights.
Exports are cached in ``--cache`` (default ``~/.cache/record/bench_ros_core``). On a shared machine, figures
move with the load: the JSON reports the load average before and after.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before anything loads OpenMP, as in the node (above)

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
TRAINED_ROD2021 = REPO / "tests" / "fixtures" / "trained" / "record_rod2021_demo.pt"
PARAMS_FILE = REPO / "ros_node" / "launch" / "record.params.yaml"
DISTINCT_FRAMES = 8
STAGES = ("message_in", "decode", "signal_chain", "inference", "postprocess", "encode", "total")


def _checkpoint(name: str, cache: Path) -> tuple[Path, str]:
    """(checkpoint, "trained" / "random"): the trained fixture for record_rod2021, else seeded random
    weights."""
    if name == "record_rod2021" and TRAINED_ROD2021.is_file():
        return TRAINED_ROD2021, "trained"
    import torch

    from record.models import create_model, save_checkpoint

    path = cache / f"{name}_random_seed0.pt"
    if not path.is_file():
        torch.manual_seed(0)
        cache.mkdir(parents=True, exist_ok=True)
        save_checkpoint(create_model(name), path)
    return path, "random"


def _onnx(name: str, cache: Path) -> tuple[Path, str]:
    from record.runtime.cache import onnx_for_source

    checkpoint, weights = _checkpoint(name, cache)
    return onnx_for_source(checkpoint, cache_dir=cache), weights


def _cubes(layout: str, n_frames: int, seed: int = 0) -> np.ndarray:
    """``n_frames`` simulated raw cubes (complex64 ``[F, loops, tx, rx, samples]``; ROD2021: all 255
    loops)."""
    import dataclasses

    from record.data.synth_common import SplitSize, plan_sequences, simulated_chunks
    from record.sensors import CARRADA, ROD2021
    from record.train.synthetic import scenario_settings

    capture = ROD2021 if layout == "rod2021" else CARRADA
    scene, simulation = scenario_settings("clear", capture)
    if layout == "rod2021":
        simulation = dataclasses.replace(simulation, all_loops=True)
    plan = plan_sequences({"test": SplitSize(1, n_frames)}, {"test": ["bench"]}, seed)[0]
    frames = [f.adc for chunk in simulated_chunks(capture, plan, scene, simulation, n_frames) for f in chunk]
    return np.stack(frames).astype(np.complex64)


def _summary(values: list[float]) -> dict[str, float]:
    array = np.asarray(values, dtype=np.float64)
    return {"median": round(float(np.median(array)), 3), "p99": round(float(np.percentile(array, 99)), 3)}


def bench_core(onnx: Path, cubes: np.ndarray, frames: int, warmup: int, threads: int,
               backend: str = "onnxruntime") -> dict[str, Any]:
    """Per-stage milliseconds of ``frames`` frames through message_in -> core -> encode."""
    from record.ros.core import CoreConfig, DetectorCore, FrameResult
    from record.ros.messages import (
        detections_message,
        image_message,
        input_image,
        make_header,
        markers_message,
        mask_messages,
    )
    from record.runtime import open_runtime

    period_ns = 33_333_333 if cubes.shape[1] in (4, 255) else 100_000_000
    messages = [image_message(cube, 0, "radar", "32FC2") for cube in cubes]
    runtime = open_runtime(onnx, backend, threads=threads)
    core = DetectorCore(runtime, CoreConfig(input_kind="adc", peak_threshold=0.3, max_gap_s=3600.0,
                                            max_age_s=0.0, min_blob_cells=4, latency_window=frames))
    core.warmup(3)
    samples: dict[str, list[float]] = {stage: [] for stage in STAGES}
    detections = 0
    for index in range(warmup + frames):
        msg = messages[index % len(messages)]
        stamp = (index + 1) * period_ns
        msg.header.stamp.sec, msg.header.stamp.nanosec = divmod(stamp, 10**9)
        start = time.perf_counter()
        image = input_image(msg)
        decoded = time.perf_counter()
        result = core.process(image, now_ns=stamp)
        processed = time.perf_counter()
        assert isinstance(result, FrameResult), result
        header = make_header(stamp, "radar")
        detections_message(result, header)
        markers_message(result, header, 0.5)
        mask_messages(result, header)
        done = time.perf_counter()
        if index < warmup:
            continue
        detections += len(result.detections)
        samples["message_in"].append((decoded - start) * 1e3)
        for stage in ("decode", "signal_chain", "inference", "postprocess"):
            samples[stage].append(result.timings_ms[stage])
        samples["encode"].append((done - processed) * 1e3)
        samples["total"].append((done - start) * 1e3)
    runtime.close()
    return {"frames": frames, "detections_per_frame": round(detections / frames, 2),
            "stages_ms": {stage: _summary(values) for stage, values in samples.items()}}


def bench_node(onnx: Path, cubes: np.ndarray, frames: int, warmup: int, rate: float, threads: int,
               folder: Path, transport: str, backend: str) -> dict[str, Any]:
    """Header stamp -> detections received through the live node, in a private namespace."""
    from record.ros.sandbox import large_data_env, ros_sandbox

    frames_file = folder / "cubes.npy"
    np.save(frames_file, cubes)
    node_cmd = [str(Path(sys.executable).with_name("record_detector")), "--ros-args", "--params-file",
                str(PARAMS_FILE), "-p", f"model.path:={onnx}", "-p", f"model.threads:={threads}", "-p", f"model.backend:={backend}",
                "-p", "input.max_age_s:=0.0", "-p", "state.max_gap_s:=2.0", "-r", "~/input/radar:=/radar/adc"]
    probe = [sys.executable, "-m", "record.ros.probe", "latency", str(frames_file), "--frames", str(frames),
             "--warmup", str(warmup), "--rate", str(rate)]
    env = large_data_env(folder) if transport == "large-shm" else {}
    with ros_sandbox(folder / "ros_log") as ns:
        node = ns.popen(node_cmd, env=env)
        try:
            out, err = ns.popen(probe, env=env).communicate(timeout=120 + (frames + warmup) / rate)
        finally:
            ns.stop(node)
        node_err = node.stderr.read() if node.stderr else ""
        isolated = ns.isolated
    lines = [line for line in out.splitlines() if line.startswith("{")]
    if not lines:
        raise RuntimeError(f"latency probe failed:\n{err[-2000:]}\nnode:\n{node_err[-2000:]}")
    report = json.loads(lines[-1])
    if "error" in report:
        raise RuntimeError(f"latency probe: {report['error']}\nnode:\n{node_err[-2000:]}")
    return {"sent": report["sent"], "received": report["received"], "rate_hz": rate, "isolated": isolated,
            "backend": backend,
            "transport": transport, "median_ms": report["median_ms"], "p99_ms": report["p99_ms"]}


def _also(names: str | None) -> list[str]:
    """The further core backends: ``names`` as given, or openvino when it is installed."""
    if names is not None:
        return [name for name in names.split(",") if name]
    from record.runtime import BackendUnavailable, backend_class

    try:
        backend_class("openvino")
    except BackendUnavailable:
        return []
    return ["openvino"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--frames", type=int, default=100, help="timed frames per model (default 100)")
    parser.add_argument("--warmup", type=int, default=10, help="untimed frames first (default 10)")
    parser.add_argument("--threads", type=int, default=2, help="ONNX Runtime intra-op threads (default 2)")
    parser.add_argument("--node-frames", type=int, default=100,
                        help="frames through the live node (default 100)")
    parser.add_argument("--node-rate", type=float, default=5.0,
                        help="publishing rate to the node, Hz (default 5: below the node's throughput here, "
                             "so no frame waits for the previous one)")
    parser.add_argument("--node-transport", choices=("large-shm", "default"), default="large-shm",
                        help="Fast DDS transports of node and publisher: large-shm (record.ros.sandbox."
                             "LARGE_DATA_PROFILE, 32 MiB shared memory; default) or Fast DDS's defaults")
    parser.add_argument("--no-node", action="store_true", help="skip the live-node measurement")
    parser.add_argument("--node-backend", default="onnxruntime", help="backend of the live node (default "
                                                                       "onnxruntime)")
    parser.add_argument("--also", default=None,
                        help="comma-separated further backends for the core figures (default: openvino "
                             "where installed; '' for none)")
    parser.add_argument("--cache", default=str(Path.home() / ".cache" / "record" / "bench_ros_core"),
                        help="folder for the random checkpoints and their ONNX exports")
    args = parser.parse_args(argv)

    import torch

    torch.set_flush_denormal(True)
    cache = Path(args.cache)
    load_before = os.getloadavg()
    rod_onnx, rod_weights = _onnx("record_rod2021", cache)
    mv_onnx, mv_weights = _onnx("mv_record", cache)
    rod_cubes = _cubes("rod2021", DISTINCT_FRAMES)
    carrada_cubes = _cubes("carrada", DISTINCT_FRAMES)
    rod = bench_core(rod_onnx, rod_cubes, args.frames, args.warmup, args.threads)
    carrada = bench_core(mv_onnx, carrada_cubes, args.frames, args.warmup, args.threads)
    others = {}
    for backend in _also(args.also):
        others[backend] = {"rod2021": bench_core(rod_onnx, rod_cubes, args.frames, args.warmup, args.threads,
                                                 backend),
                           "carrada_mv": bench_core(mv_onnx, carrada_cubes, args.frames, args.warmup,
                                                    args.threads, backend)}
    report: dict[str, Any] = {
        "rod2021_frame_ms": rod["stages_ms"]["total"]["median"],
        "rod2021_frame_p99_ms": rod["stages_ms"]["total"]["p99"],
        "carrada_mv_frame_ms": carrada["stages_ms"]["total"]["median"],
        "carrada_mv_frame_p99_ms": carrada["stages_ms"]["total"]["p99"],
        "rod2021_target_ms": 25.0,
        "rod2021_stages_ms": rod["stages_ms"],
        "carrada_mv_stages_ms": carrada["stages_ms"],
        "rod2021_input": "sensor_msgs/Image 32FC2, 2040 rows (255 loops x 2 tx x 4 rx) x 128 samples",
        "carrada_input": "sensor_msgs/Image 32FC2, 512 rows (64 loops x 2 tx x 4 rx) x 256 samples",
        "models": {"record_rod2021": rod_weights, "mv_record": mv_weights},
        "detections_per_frame": {"rod2021": rod["detections_per_frame"],
                                 "carrada_mv": carrada["detections_per_frame"]},
    }
    for backend, results in others.items():
        for key, result in results.items():
            report[f"{backend}_{key}_frame_ms"] = result["stages_ms"]["total"]["median"]
            report[f"{backend}_{key}_frame_p99_ms"] = result["stages_ms"]["total"]["p99"]
            report[f"{backend}_{key}_stages_ms"] = result["stages_ms"]
    if not args.no_node:
        with tempfile.TemporaryDirectory(prefix="record-bench-node-") as folder:
            node = bench_node(rod_onnx, rod_cubes, args.node_frames, args.warmup, args.node_rate,
                              args.threads, Path(folder), args.node_transport, args.node_backend)
        report |= {"node_rod2021_latency_ms": node["median_ms"],
                   "node_rod2021_latency_p99_ms": node["p99_ms"], "node": node}
    report |= {"backend": "onnxruntime", "threads": args.threads, "frames": args.frames,
               "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", "default"),
               "cpus": os.cpu_count(), "load_average": {"before": [round(x, 2) for x in load_before],
                                                        "after": [round(x, 2) for x in os.getloadavg()]}}
    if args.json:
        print(json.dumps(report))
        return 0
    for prefix in ("", *(f"{backend}_" for backend in others)):
        for key in ("rod2021", "carrada_mv"):
            print(f"{prefix or 'onnxruntime_'}{key}: {report[f'{prefix}{key}_frame_ms']:.1f} ms per frame "
                  f"(p99 {report[f'{prefix}{key}_frame_p99_ms']:.1f})")
            for stage, values in report[f"{prefix}{key}_stages_ms"].items():
                print(f"  {stage:<13} {values['median']:8.2f} ms  p99 {values['p99']:8.2f}")
    if "node" in report:
        print(f"node record_rod2021: {report['node_rod2021_latency_ms']} ms median, "
              f"p99 {report['node_rod2021_latency_p99_ms']} ms ({report['node']['received']}/"
              f"{report['node']['sent']} frames at {args.node_rate:g} Hz)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
