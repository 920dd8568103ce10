"""Data-loading throughput: ROD2021 online clips and CARRADA multi-view windows through a torch DataLoader.

Writes two small trees in a temporary folder (hand-built writers, random data in the published formats), then
measures samples/s with ``num_workers`` 0 and 2 (median over epochs, after warm-up epochs). Each figure is
compared with a baseline measured in the same run, epoch by epoch: plain ``np.load`` of the same files in the
main process (the I/O + decode floor, page cache warm), so ``*_vs_raw`` is the share of that rate the datasets
keep (it can exceed 1 with workers, which read in parallel). When ``record.models`` is importable, online
training steps of ``record_rod2021`` on a clip are timed too, to compare the loader with what training consumes.

Loaders run with one torch thread (what DataLoader workers use): with the default intra-op threads, collating in
the main process of a busy 2-core machine was measured several times slower (OpenMP threads contending).

Usage: ``python benchmarks/data_loading.py [--json] [--epochs N] [--model-frames T]``
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader

from record.data.carrada import CarradaLayout
from record.data.carrada_datasets import buffer_windows
from record.data.rod2021 import Rod2021Layout
from record.data.rod2021_datasets import online_clips

ROD_SEQUENCE = "2019_04_09_BMS1000"
CARRADA_SEQUENCE = "2019-09-16-12-52-12"
WARMUP_EPOCHS = 2
CARRADA_SHAPES = {"range_doppler": (256, 64), "range_angle": (256, 256), "angle_doppler": (256, 64)}


def write_rod2021(root: Path, n_frames: int, rng: np.random.Generator) -> None:
    folder = root / "sequences" / "train" / ROD_SEQUENCE / "RADAR_RA_H"
    folder.mkdir(parents=True)
    for frame in range(n_frames):
        for chirp in (0, 64, 128, 192):
            np.save(
                folder / f"{frame:06d}_{chirp:04d}.npy",
                rng.normal(0, 0.066, (128, 128, 2)).astype(np.float32),
            )
    annotation = root / "annotations" / "train" / f"{ROD_SEQUENCE}.txt"
    annotation.parent.mkdir(parents=True)
    annotation.write_text(
        "".join(f"{f} {5 + f % 15} {0.3 - 0.01 * f % 0.6:.3f} car\n" for f in range(n_frames))
    )


def write_carrada(root: Path, n_frames: int, rng: np.random.Generator) -> None:
    frames = [f"{i:06d}" for i in range(n_frames)]
    entry = {
        "instances": [],
        "labels": [],
        "ref_frame": [],
        "min_frame_boundaries": [],
        "max_frame_boundaries": [],
    }
    (root / "data_seq_ref.json").parent.mkdir(parents=True)
    (root / "data_seq_ref.json").write_text(json.dumps({CARRADA_SEQUENCE: {**entry, "split": "Train"}}))
    (root / "light_dataset_frame_oriented.json").write_text(json.dumps({CARRADA_SEQUENCE: frames}))
    (root / "validated_seqs.txt").write_text(CARRADA_SEQUENCE + "\n")
    for frame in frames:
        for stem, shape in CARRADA_SHAPES.items():
            folder = root / CARRADA_SEQUENCE / f"{stem}_processed"
            folder.mkdir(parents=True, exist_ok=True)
            np.save(folder / f"{frame}.npy", rng.uniform(40, 100, shape))
        dense = root / CARRADA_SEQUENCE / "annotations" / "dense" / frame
        dense.mkdir(parents=True)
        for stem in ("range_doppler", "range_angle"):
            mask = np.zeros((4, *CARRADA_SHAPES[stem]))
            mask[0] = 1
            np.save(dense / f"{stem}.npy", mask)


def _timed_rate(count_samples: Callable[[], int]) -> float:
    start = time.perf_counter()
    count = count_samples()
    return count / (time.perf_counter() - start)


def measure(
    dataset: torch.utils.data.Dataset, paths_of_sample: Callable[[int], list[Path]], workers: int, epochs: int
) -> tuple[float, float, float]:
    """(loader samples/s, raw ``np.load`` samples/s, median per-epoch ratio), epochs of the two interleaved.

    The baseline reads every file a sample reads with plain ``np.load``; interleaving it with the loader epochs
    keeps the ratio meaningful on a machine shared with other jobs. ``WARMUP_EPOCHS`` loader epochs are discarded
    (the allocator takes a few epochs to settle on the large per-sample arrays).
    """
    loader = DataLoader(
        dataset, batch_size=1, shuffle=False, num_workers=workers, persistent_workers=workers > 0
    )

    def raw_epoch() -> int:
        for index in range(len(dataset)):
            for path in paths_of_sample(index):
                np.load(path)
        return len(dataset)

    def loader_epoch() -> int:
        return sum(1 for _ in loader)

    for _ in range(WARMUP_EPOCHS):
        loader_epoch()
    pairs = [(_timed_rate(loader_epoch), _timed_rate(raw_epoch)) for _ in range(epochs)]
    loader_rates, raw_rates = zip(*pairs)
    ratio = statistics.median(a / b for a, b in pairs)
    return statistics.median(loader_rates), statistics.median(raw_rates), ratio


def model_frames_per_s(length: int, repeats: int) -> float | None:
    """Frames/s of online training steps of ``record_rod2021`` on a ``length``-frame clip (batch 1), or None."""
    try:
        from record.models import create_model
    except ImportError:
        return None
    torch.set_flush_denormal(True)  # recurrent states decay into denormals (quirk Q17)
    model = create_model("record_rod2021")
    optimiser = torch.optim.Adam(model.parameters(), lr=3e-4)
    clip = torch.randn(1, 8, length, 128, 128) * 0.066
    target = torch.rand(1, 3, length, 128, 128)
    times = []
    for _ in range(repeats + 1):
        start = time.perf_counter()
        state = model.zero_state(1, 128, 128)
        loss = torch.zeros(())
        for t in range(length):
            logits, state = model.step(clip[:, :, t], state)
            loss = loss + torch.nn.functional.binary_cross_entropy_with_logits(logits, target[:, :, t])
        optimiser.zero_grad()
        (loss / length).backward()
        optimiser.step()
        times.append(time.perf_counter() - start)
    return length / statistics.median(times[1:])


def run(epochs: int, model_frames: int) -> dict[str, float | int | str | None]:
    torch.manual_seed(0)
    model_threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as in DataLoader workers; see the module docstring
    rng = np.random.default_rng(0)
    results: dict[str, float | int | str | None] = {}
    with tempfile.TemporaryDirectory(prefix="record-bench-data-") as tmp:
        rod_root, carrada_root = Path(tmp) / "rod2021", Path(tmp) / "Carrada"
        write_rod2021(rod_root, 96, rng)
        write_carrada(carrada_root, 40, rng)

        rod_layout = Rod2021Layout(rod_root)
        clips = online_clips(rod_layout, "train", length=32, stride=8)
        clip_frames = clips.length

        def rod_paths(index: int) -> list[Path]:
            _, start = clips.index[index]
            return [
                rod_layout.chirp_path(ROD_SEQUENCE, f, c)
                for f in range(start, start + 32)
                for c in (0, 64, 128, 192)
            ]

        results.update(rod2021_clip_length=clip_frames, rod2021_clips=len(clips))
        carrada_layout = CarradaLayout(carrada_root)
        windows = buffer_windows(carrada_layout, "train", views=("rd", "ra", "ad"), length=5)

        def carrada_paths(index: int) -> list[Path]:
            _, position = windows.index[index]
            end = int(carrada_layout.frames(CARRADA_SEQUENCE)[position])
            views = [
                carrada_layout.view_path(CARRADA_SEQUENCE, f"{f:06d}", view)
                for f in range(end - 4, end + 1)
                for view in ("rd", "ra", "ad")
            ]
            return views + [
                carrada_layout.mask_path(CARRADA_SEQUENCE, f"{end:06d}", view) for view in ("rd", "ra")
            ]

        results.update(carrada_window_length=5, carrada_windows=len(windows))
        for workers in (0, 2):
            rate, raw, ratio = measure(clips, rod_paths, workers, epochs)
            results[f"rod2021_clip_samples_per_s_w{workers}"] = rate
            results[f"rod2021_clip_frames_per_s_w{workers}"] = rate * clip_frames
            results[f"rod2021_raw_load_samples_per_s_w{workers}"] = raw
            results[f"rod2021_clip_vs_raw_w{workers}"] = ratio
            rate, raw, ratio = measure(windows, carrada_paths, workers, epochs)
            results[f"carrada_window_samples_per_s_w{workers}"] = rate
            results[f"carrada_raw_load_samples_per_s_w{workers}"] = raw
            results[f"carrada_window_vs_raw_w{workers}"] = ratio
    torch.set_num_threads(model_threads)
    train_rate = model_frames_per_s(model_frames, repeats=5) if model_frames > 0 else None
    results["record_rod2021_train_frames_per_s"] = train_rate
    if train_rate is not None:
        results["rod2021_loader_w0_vs_training"] = results["rod2021_clip_frames_per_s_w0"] / train_rate
    results["loader_torch_threads"] = 1
    results["model_torch_threads"] = model_threads
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--epochs", type=int, default=5, help="timed epochs per measurement (median)")
    parser.add_argument(
        "--model-frames", type=int, default=8, help="clip length of the training-step timing (0: skip)"
    )
    args = parser.parse_args()
    results = run(args.epochs, args.model_frames)
    if args.json:
        print(json.dumps(results))
    else:
        width = max(map(len, results))
        for name, value in results.items():
            print(
                f"{name:<{width}}  {value:.3f}" if isinstance(value, float) else f"{name:<{width}}  {value}"
            )


if __name__ == "__main__":
    main()
