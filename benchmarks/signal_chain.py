"""Signal-chain benchmark: a CARRADA frame (raw complex cube -> RAD + RD/RA/AD dB maps), a ROD2021 frame.

Everything runs on ONE thread (Numba and BLAS), so the figures are per core. The complex64 NumPy reference
runs in the same process on the same frame; ``carrada_speedup`` is their ratio. Medians over repeated runs.

    python benchmarks/signal_chain.py          # readable table
    python benchmarks/signal_chain.py --json   # one JSON object
"""

from __future__ import annotations

import os

# one thread everywhere; must precede the numpy / numba imports
for _variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[_variable] = "1"

import argparse
import json
import platform
import time
from collections.abc import Callable

import numba
import numpy as np

from record.dsp.cfar import ca_cfar, os_cfar
from record.dsp.chain import CarradaChain, Rod2021Chain, conjugate_basis
from record.dsp.operators import steering_matrix
from record.dsp.reference import carrada_views_reference, rod2021_maps_reference
from record.sensors import CARRADA, ROD2021, CaptureConfig
from record.sim.signal import Scatterers, beat_signal


def median_ms(run: Callable[[], object], repeats: int) -> float:
    """Median wall time of ``run`` in milliseconds, after one warm-up call."""
    run()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return float(np.median(times) * 1e3)


def simulated_frame(capture: CaptureConfig, loops: list[int] | None, seed: int) -> np.ndarray:
    """One frame ``[1, loops, tx, rx, samples]`` of 5 scatterers plus complex noise."""
    rng = np.random.default_rng(seed)
    waveform = capture.waveform
    scatterers = Scatterers(
        range_m=rng.uniform(2.0, capture.range.span_m[1] - 2.0, 5),
        range_rate_mps=rng.uniform(-0.8, 0.8, 5) * waveform.max_range_rate_mps,
        azimuth_rad=rng.uniform(-1.0, 1.0, 5),
        amplitude=rng.uniform(50.0, 500.0, 5).astype(complex),
    )
    clean = beat_signal(waveform, scatterers, loops=loops)
    noise = rng.normal(scale=4.0, size=clean.shape + (2,)).astype(np.float32).view(np.complex64)[..., 0]
    return (clean + noise)[None]


@numba.njit(cache=True)
def _repeat_dot(left: np.ndarray, right: np.ndarray, out: np.ndarray, repeats: int) -> None:
    for _ in range(repeats):
        np.dot(left, right, out)


def angle_stage_figures() -> dict[str, float]:
    """FLOPs and bytes of the CARRADA angle stage, and the SGEMM rates it runs at on this core."""
    n_range, n_doppler, n_virtual, n_angle = 256, CARRADA.velocity.n_bins, 8, CARRADA.azimuth.n_bins
    steering = steering_matrix(np.arange(n_virtual), CARRADA.azimuth.sin_values(), np.ones(n_virtual))
    steer, _, _ = conjugate_basis(steering)
    snapshots = np.random.default_rng(0).standard_normal((n_virtual, 2 * n_doppler)).astype(np.float32)
    product = np.empty((steer.shape[0], 2 * n_doppler), np.float32)
    sgemm_flop = 2.0 * steer.shape[0] * n_virtual * 2 * n_doppler * n_range  # per frame
    angle_ms = median_ms(lambda: _repeat_dot(steer, snapshots, product, n_range), 15)
    big = np.random.default_rng(1).standard_normal((1024, 1024)).astype(np.float32)
    big_out = np.empty_like(big)
    big_ms = median_ms(lambda: _repeat_dot(big, big, big_out, 1), 5)
    source = np.ones(256 * 2**20 // 8)  # 256 MiB
    target = np.empty_like(source)
    copy_ms = median_ms(lambda: np.copyto(target, source), 5)
    cells = n_range * n_doppler * n_angle
    return {
        "angle_complex_gemm_mflop": 8.0 * n_range * n_doppler * n_virtual * n_angle / 1e6,
        "angle_sgemm_mflop": sgemm_flop / 1e6,
        "angle_power_projection_mflop": 10.0 * cells / 1e6,
        "angle_sgemm_ms": angle_ms,
        "angle_sgemm_gflops": sgemm_flop / angle_ms / 1e6,
        "sgemm_1024_gflops": 2.0 * 1024**3 / big_ms / 1e6,
        "copy_gbps": 2 * source.nbytes / copy_ms / 1e6,
        "rad_mib": cells * 4 / 2**20,
    }


def run(repeats: int) -> dict[str, object]:
    carrada_frame = simulated_frame(CARRADA, None, seed=0)
    rod_frame = simulated_frame(ROD2021, list(ROD2021.chirp_ids), seed=1)
    carrada, rod = CarradaChain(), Rod2021Chain()

    def carrada_numpy(precision: str) -> object:
        return carrada_views_reference(carrada_frame, with_rad=True, precision=precision)

    chain_ms = median_ms(lambda: carrada(carrada_frame, with_rad=True), repeats)
    numpy_ms = median_ms(lambda: carrada_numpy("single"), 7)
    power = carrada(carrada_frame).rd_raw[0]
    return {
        "carrada_frame_ms": chain_ms,
        "carrada_numpy_frame_ms": numpy_ms,
        "carrada_speedup": numpy_ms / chain_ms,
        "carrada_views_only_frame_ms": median_ms(lambda: carrada(carrada_frame), repeats),
        "carrada_numpy_double_frame_ms": median_ms(lambda: carrada_numpy("double"), 3),
        "rod2021_frame_ms": median_ms(lambda: rod(rod_frame), repeats),
        "rod2021_numpy_frame_ms": median_ms(lambda: rod2021_maps_reference(rod_frame, precision="single"), 7),
        "ca_cfar_rd_ms": median_ms(lambda: ca_cfar(power), repeats),
        "os_cfar_rd_ms": median_ms(lambda: os_cfar(power), 5),
        **angle_stage_figures(),
        "threads": {"numba": numba.get_num_threads(), "blas": os.environ["OPENBLAS_NUM_THREADS"]},
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs",
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--repeats", type=int, default=30, help="timed runs per Numba measurement")
    args = parser.parse_args()
    results = run(args.repeats)
    if args.json:
        print(json.dumps(results))
        return 0
    width = max(len(key) for key in results)
    for key, value in results.items():
        text = f"{value:10.3f}" if isinstance(value, float) else str(value)
        print(f"{key:<{width}}  {text}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
